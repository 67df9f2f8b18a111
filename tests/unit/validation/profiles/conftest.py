"""The profile engine's tests: one run each, whichever structural engine is the default."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def engine() -> str:
    """Overrides the per-engine parametrization of ``tests/unit/validation``: the profile
    engine does not depend on the structural engine."""
    return "fhirkit"
