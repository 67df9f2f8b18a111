"""The probe plan that finds the highest reserved write sequence number by lookups."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fhircare.storage.mongo.sequence import highest, key, run_probe_sync


@given(st.integers(0, 5000), st.integers(0, 5000))
def test_finds_the_highest_of_dense_numbers(start: int, extra: int) -> None:
    top = start + extra
    asked: list[int] = []

    def taken(n: int) -> bool:
        asked.append(n)
        return n <= top

    assert run_probe_sync(highest(start), taken) == top
    assert len(asked) <= 2 * (extra.bit_length() + 1) + 1  # logarithmic, not linear


def test_keys_sort_as_numbers() -> None:
    assert key(9) < key(10) < key(123456789012)
