"""Every validation test runs once per structural engine (``fhircare.validation.engines``).

A module that compares the engines itself overrides the ``engine`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fhircare.validation import engines


@pytest.fixture(autouse=True, params=sorted(engines.ENGINES))
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The engine ``find_issues`` and ``validate_resource`` use when not told one."""
    monkeypatch.setattr(engines, "DEFAULT_ENGINE", request.param)
    yield request.param
