"""The dependency direction of ARCHITECTURE.md, checked on the import statements.

rest → interactions → (search, validation, storage) → fhir, where storage reads the
search IR and predicates (its query compiler renders them), and care/ sits beside
interactions (it may call interactions, never the other way round); only storage/mongo
imports pymongo and only storage/sqlite imports sqlite3; only fhir/models.py imports
fhir.resources; the core never imports FastAPI.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "fhircare"
CORE = ("fhir", "search", "validation", "storage", "interactions", "care")
FORBIDDEN_INTERNAL = {
    "fhir": (
        "fhircare.search",
        "fhircare.validation",
        "fhircare.storage",
        "fhircare.interactions",
        "fhircare.rest",
    ),
    "search": ("fhircare.interactions", "fhircare.rest", "fhircare.storage"),
    "validation": ("fhircare.interactions", "fhircare.rest", "fhircare.storage", "fhircare.search"),
    "storage": ("fhircare.interactions", "fhircare.rest", "fhircare.validation"),
    "interactions": ("fhircare.rest", "fhircare.app", "fhircare.cli", "fhircare.care"),
    "care": ("fhircare.rest", "fhircare.app", "fhircare.cli"),
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules() -> list[tuple[str, Path, set[str]]]:
    return [
        (str(path.relative_to(PACKAGE)), path, imports_of(path)) for path in PACKAGE.rglob("*.py")
    ]


def test_only_storage_mongo_imports_pymongo() -> None:
    offenders = [
        name
        for name, _, names in modules()
        if any(n.split(".")[0] in ("pymongo", "motor", "bson") for n in names)
        and not name.startswith("storage/mongo/")
    ]
    assert offenders == []


def test_only_storage_sqlite_imports_sqlite3() -> None:
    offenders = [
        name
        for name, _, names in modules()
        if any(n.split(".")[0] == "sqlite3" for n in names)
        and not name.startswith("storage/sqlite/")
    ]
    assert offenders == []


def test_only_the_models_shim_imports_fhir_resources() -> None:
    offenders = [
        name
        for name, _, names in modules()
        if any(n.startswith("fhir.resources") for n in names) and name != "fhir/models.py"
    ]
    assert offenders == []


def test_core_knows_no_web_framework() -> None:
    offenders = [
        name
        for name, _, names in modules()
        if name.split("/")[0] in CORE
        and any(n.split(".")[0] in ("fastapi", "starlette", "uvicorn") for n in names)
    ]
    assert offenders == []


def test_dependencies_point_one_way() -> None:
    offenders = [
        (name, n)
        for name, _, names in modules()
        for n in names
        if any(n.startswith(f) for f in FORBIDDEN_INTERNAL.get(name.split("/")[0], ()))
    ]
    assert offenders == []
