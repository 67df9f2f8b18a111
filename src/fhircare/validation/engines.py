"""The structural engines: which library checks a resource against the R4 definitions.

The rule walk (``walker``) is common to every engine: it carries the FHIR JSON rules,
required bindings and references. The structural part (datatypes, primitive formats,
cardinality, unknown elements) is pluggable:

- ``fhirkit``: fhirkit-rs, generated in Rust from the R4 (4.0.1) definitions; several
  times faster than the models, and every problem comes with its path.
- ``models``: the fhir.resources R4B pydantic models (``structural.check_model``).

The differential test (tests/unit/validation/test_validator_differential.py) holds the two
to the same accept/reject decision on valid resources and a corpus of invalid variants.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from fhircare.validation.fhirkit_engine import check_fhirkit
from fhircare.validation.issues import IssueCollector
from fhircare.validation.structural import check_model

Engine = Callable[[Mapping[str, Any], IssueCollector], None]
"""Report the structural problems of a resource of a served type into the collector."""

EngineName = Literal["fhirkit", "models"]

DEFAULT_ENGINE: EngineName = "fhirkit"

ENGINES: dict[str, Engine] = {"fhirkit": check_fhirkit, "models": check_model}


def engine(name: str) -> Engine:
    """The engine called ``name``; ``KeyError`` for one we do not have."""
    return ENGINES[name]
