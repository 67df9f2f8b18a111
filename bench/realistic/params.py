"""The care-manager queries on Synthea data, with their parameters picked from the bundles
by a fixed seed, so every server is asked the same questions.

A server assigns its own ids on POST, so a query about a patient is written with that
server's id of the patient (found by its Synthea identifier first); everything else comes
from the bundles.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from bench.realistic.data import LOINC, SYNTHEA_SYSTEM, PatientFacts
from bench.report import percentile

SEARCH, PAGE2, EVERYTHING = "search", "page 2", "everything"
EVERYTHING_QUERY = "Patient/$everything"
PAGE_SIZE = 50
"""``_count`` of the paged Encounter search whose second page is timed."""
EVERYTHING_COUNT = 100
"""Page size of ``$everything``, the same on every server (their defaults differ)."""


@dataclass(frozen=True)
class Pick:
    """The parameters of one repetition: one patient and what to ask about it."""

    patient: PatientFacts
    code: str | None
    """A LOINC code among the patient's Observations."""
    quantity_code: str | None
    """A LOINC code among the patient's Observations with a ``valueQuantity``…"""
    threshold: float | None
    """…and the median of those values, for ``value-quantity=gt``."""
    year: int | None
    """The median year of the patient's Encounters, for ``date=ge``."""


@dataclass(frozen=True)
class Query:
    """One request relative to the base: ``path`` with ``params`` (unencoded)."""

    name: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    kind: str = SEARCH

    @property
    def example(self) -> str:
        """The request as a person writes it."""
        query = "&".join(f"{key}={value}" for key, value in self.params)
        return f"{self.path}?{query}" if query else self.path

    @property
    def count_params(self) -> tuple[tuple[str, str], ...]:
        """The same matches counted: the search parameters with ``_summary=count``, without
        the result parameters (``_sort``, ``_count``, ``_include``) that do not change them."""
        kept = tuple((k, v) for k, v in self.params if not k.startswith("_"))
        return (*kept, ("_summary", "count"))


def number(value: float) -> str:
    """A search value without a trailing ``.0`` (``gt120``, ``gt5.8``)."""
    return f"{value:g}"


def picks(facts: Sequence[PatientFacts], count: int, seed: int) -> list[Pick]:
    """``count`` picks for ``seed``: the patients in a seeded order (repeating when there are
    fewer), each with a code, a quantity code and threshold, and a year of its own data."""
    if not facts:
        raise ValueError("no patients to pick from")
    rng = random.Random(seed)
    order = sorted(facts, key=lambda f: f.synthea_id)
    rng.shuffle(order)
    chosen: list[Pick] = []
    for n in range(count):
        patient = order[n % len(order)]
        codes = sorted(patient.observation_codes)
        quantities = sorted(code for code, values in patient.quantity_values.items() if values)
        quantity_code = rng.choice(quantities) if quantities else None
        threshold = (
            percentile(patient.quantity_values[quantity_code], 50) if quantity_code else None
        )
        years = patient.encounter_years
        chosen.append(
            Pick(
                patient=patient,
                code=rng.choice(codes) if codes else None,
                quantity_code=quantity_code,
                threshold=round(threshold, 2) if threshold is not None else None,
                year=sorted(years)[len(years) // 2] if years else None,
            )
        )
    return chosen


def queries(pick: Pick, patient_id: str, everything_count: int = EVERYTHING_COUNT) -> list[Query]:
    """The queries of one repetition, ``patient_id`` being the server's id of the patient."""
    p = pick.patient
    found: list[Query] = [
        Query(
            "Patient?identifier", "Patient", (("identifier", f"{SYNTHEA_SYSTEM}|{p.synthea_id}"),)
        ),
        Query("Patient?name", "Patient", (("name", p.family),)),
        Query("Patient?birthdate", "Patient", (("birthdate", p.birthdate),)),
    ]
    if pick.code:
        found.append(
            Query(
                "Observation?patient&code",
                "Observation",
                (("patient", patient_id), ("code", f"{LOINC}|{pick.code}")),
            )
        )
    found += [
        Query(
            "Observation vital-signs -date",
            "Observation",
            (
                ("patient", patient_id),
                ("category", "vital-signs"),
                ("_sort", "-date"),
                ("_count", "10"),
            ),
        ),
        Query(
            "Condition?patient&clinical-status",
            "Condition",
            (("patient", patient_id), ("clinical-status", "active")),
        ),
    ]
    if pick.year is not None:
        found.append(
            Query(
                "Encounter?patient&date=ge",
                "Encounter",
                (("patient", patient_id), ("date", f"ge{pick.year}")),
            )
        )
    found += [
        Query(
            "CarePlan?patient&status", "CarePlan", (("patient", patient_id), ("status", "active"))
        ),
        Query(
            "CarePlan?patient&_include",
            "CarePlan",
            (("patient", patient_id), ("_include", "CarePlan:subject")),
        ),
    ]
    if pick.quantity_code and pick.threshold is not None:
        found.append(
            Query(
                "Observation?code&value-quantity",
                "Observation",
                (
                    ("code", f"{LOINC}|{pick.quantity_code}"),
                    ("value-quantity", f"gt{number(pick.threshold)}"),
                ),
            )
        )
    found += [
        Query("Encounter page 2", "Encounter", (("_count", str(PAGE_SIZE)),), PAGE2),
        Query(
            EVERYTHING_QUERY,
            f"Patient/{patient_id}/$everything",
            (("_count", str(everything_count)),),
            EVERYTHING,
        ),
    ]
    return found


QUERY_ORDER = (
    "Patient?identifier",
    "Patient?name",
    "Patient?birthdate",
    "Observation?patient&code",
    "Observation vital-signs -date",
    "Condition?patient&clinical-status",
    "Encounter?patient&date=ge",
    "CarePlan?patient&status",
    "CarePlan?patient&_include",
    "Observation?code&value-quantity",
    "Encounter page 2",
    EVERYTHING_QUERY,
)
