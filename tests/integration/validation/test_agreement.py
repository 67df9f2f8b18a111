"""fhircare's profile validation and HAPI FHIR 8.8.0's ``$validate`` judge the same cases
alike, except where ``DOCUMENTED_DIFFERENCES`` says why not.

https://hl7.org/fhir/R4/resource-operation-validate.html. Each case of the corpus
(``corpus.py``: the examples claiming a fhircare profile, and each changed once per kind of
check) is sent with ``?profile=`` to the test session's HAPI, after fhircare's
StructureDefinitions, ValueSets and CodeSystems were stored in it, and to the session's
fhircare peer, which loaded them from ``profiles/`` at start (``fhircare_side.py``). A
verdict is invalid when there is an issue of severity error or fatal; warnings are not
compared: HAPI warns about every LOINC, SNOMED CT and example code system it cannot resolve
offline (it has no terminology loaded, and an unknown code system under a non-required
binding is a warning), about narrative (dom-6) and about UCUM annotations, none of which a
profile here asks for.

``python -m tests.integration.validation.agreement`` prints the table per kind of check.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from tests.integration.validation.agreement import (
    Outcome,
    compare,
    render,
    render_disagreements,
    table,
)
from tests.integration.validation.corpus import INVALID, KINDS, VALID, cases
from tests.peers.fixtures import Peer

DOCUMENTED_DIFFERENCES: dict[str, str] = {}
"""Case id → why fhircare and HAPI disagree on it, and which of them the profile agrees with.

None today. The last ones (the core extension resource-pertainsToGoal and the core
communication-category code system, which fhircare did not hold) went when fhircare came to
hold the core R4 definitions (``fhircare.validation.profiles.core``)."""


@pytest.fixture(scope="module")
def outcomes(hapi_peer: Peer, fhircare_peer: Peer) -> list[Outcome]:
    with httpx.Client(timeout=120) as client:
        return compare(client, hapi_peer.base_url, fhircare_peer.base_url, cases())


def test_every_disagreement_is_documented(outcomes: list[Outcome]) -> None:
    disagreeing = {o.case.id for o in outcomes if not o.agree}
    undocumented = [o for o in outcomes if o.case.id in disagreeing - DOCUMENTED_DIFFERENCES.keys()]
    assert undocumented == [], render_disagreements(undocumented)
    assert DOCUMENTED_DIFFERENCES.keys() - disagreeing == set(), "documented, yet they agree now"


def test_the_verdicts_are_the_ones_the_profiles_call_for(outcomes: list[Outcome]) -> None:
    """HAPI gives every case the verdict the corpus labels it with; fhircare every case but
    the documented ones, on which HAPI is the one that is right."""
    wrong_hapi = [o.case.id for o in outcomes if o.hapi.label != o.case.expected]
    wrong_fhircare = {o.case.id for o in outcomes if o.fhircare.label != o.case.expected}
    assert wrong_hapi == []
    assert wrong_fhircare == DOCUMENTED_DIFFERENCES.keys()


def test_the_table_counts_each_kind(outcomes: list[Outcome]) -> None:
    rows = table(outcomes)
    print("\n" + render(rows))
    by_kind = {row.kind: row for row in rows}
    assert [row.kind for row in rows] == [*KINDS, "total"]
    assert by_kind["total"].cases == len(outcomes) == sum(by_kind[k].cases for k in KINDS)
    documented = Counter(o.case.kind for o in outcomes if o.case.id in DOCUMENTED_DIFFERENCES)
    assert {k: by_kind[k].disagree for k in KINDS} == {k: documented[k] for k in KINDS}


def test_the_corpus_holds_each_kind_of_check_both_ways() -> None:
    """Every kind but ``valid`` has cases a validator must reject, and every resource type
    has cases it must accept, so neither a validator that rejects everything nor one that
    accepts everything could agree with the labels."""
    corpus = cases()
    labels = {(c.kind, c.expected) for c in corpus}
    for kind in KINDS[1:]:
        assert (kind, INVALID) in labels, kind
    types = {c.resource["resourceType"] for c in corpus}
    accepted = {c.resource["resourceType"] for c in corpus if c.expected == VALID}
    assert types == accepted == {"CarePlan", "CareTeam", "Communication", "Goal", "Task"}
    assert len({c.id for c in corpus}) == len(corpus)
