"""The pure parts of the bench's validation section: corpora, arithmetic, header, table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.validation_bench import (
    MEASURED,
    Corpus,
    EngineRow,
    Sample,
    ServerRow,
    Spread,
    ValidationSection,
    example_resources,
    large_care_plan,
    per_kb,
    render_validation,
    server_timing,
    time_corpus,
    validation_json,
)

from fhircare.fhir import jsonio
from fhircare.validation import find_issues


def test_the_corpora_are_the_examples_and_a_large_valid_care_plan() -> None:
    examples = example_resources()
    in_files = sum(
        len(jsonio.loads(path.read_bytes())["entry"])
        for path in (Path(__file__).resolve().parents[2] / "examples").glob("*.json")
    )
    assert len(examples) == in_files > 80
    plan = large_care_plan(examples, "p1")
    assert 6000 <= len(jsonio.dumps(plan)) < 7000
    assert "id" not in plan and plan["subject"] == {"reference": "Patient/p1"}
    for engine in ("fhirkit", "models"):
        assert find_issues(plan, engine) == []
    corpus = Corpus.of("plan", [plan])
    assert corpus.kb == len(jsonio.dumps(plan)) / 1000
    assert corpus.resources == [jsonio.loads(jsonio.dumps(plan))]
    with pytest.raises(ValueError):
        large_care_plan([{"resourceType": "Patient"}])


def test_per_kb_is_microseconds_per_thousand_bytes_per_pass() -> None:
    assert per_kb(0.5, 100.0, 10) == pytest.approx(500.0)
    with pytest.raises(ValueError):
        per_kb(1.0, 0.0, 1)


def test_time_corpus_warms_up_then_takes_the_best_round() -> None:
    calls: list[bytes] = []
    corpus = Corpus.of("two", [{"resourceType": "Patient"}, {"resourceType": "Group"}])
    result = time_corpus(corpus, lambda _, body: calls.append(body), rounds=2, seconds=0.001)
    assert result > 0 and len(calls) >= 2 * 3 and len(calls) % 2 == 0
    assert [label for label, _ in MEASURED][:2] == [
        "validate, engine models (walk + models)",
        "validate, engine fhirkit (walk + fhirkit)",
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("parse;dur=0.081, validate;dur=0.412, total;dur=2.310",
         {"parse": 0.081, "validate": 0.412, "total": 2.31}),
        ('validate;desc="rules";dur="1.5",cache', {"validate": 1.5, "cache": 0.0}),
        ("validate;dur=1, validate;dur=2", {"validate": 3.0}),
        ("", {}),
        (None, {}),
    ],
)  # fmt: skip
def test_server_timing_header(header: str | None, expected: dict[str, float]) -> None:
    assert server_timing(header) == pytest.approx(expected)


def test_server_row_means_medians_and_shares() -> None:
    samples = [Sample(10.0, 1.0, 8.0), Sample(20.0, 3.0, 16.0), Sample(30.0, None, None)]
    row = ServerRow.of(samples, errors=1, body_kb=6.1)
    assert row.requests == 4 and row.errors == 1
    assert row.latency == Spread(20.0, 20.0)
    assert row.validate == Spread(2.0, 2.0) and row.server_total == Spread(12.0, 12.0)
    assert row.share_mean == pytest.approx(0.1) and row.share_p50 == pytest.approx(0.1)
    assert ServerRow.of([], 2, 1.0).share_mean is None


def _section(server: ServerRow | None) -> ValidationSection:
    rows = [
        EngineRow("examples (75 resources)", "validate, engine models", 75, 86.9, 695.8),
        EngineRow("large CarePlan", "  fhirkit alone, on the bytes", 1, 6.1, 33.1),
    ]
    return ValidationSection("Validation", rows, server, ["a note"])


def test_render_is_an_aligned_table_with_the_server_part_when_measured() -> None:
    without = render_validation(_section(None))
    lines = without.splitlines()
    assert lines[0] == "Validation" and lines[-1] == "a note"
    header = next(line for line in lines if line.startswith("corpus"))
    assert header.index("µs/KB") > header.index("measured")
    assert "695.8" in without and "806.2" in without  # 695.8 µs/KB x 86.9 KB / 75
    assert "201.9" in without and "creates of a" not in without
    server = ServerRow.of([Sample(10.0, 1.0, 8.0), Sample(20.0, 3.0, 16.0)], 0, 6.1)
    text = render_validation(_section(server))
    assert "creates of a 6.1 KB CarePlan" in text
    validate = next(line for line in text.splitlines() if line.startswith("server validate"))
    assert validate.split()[2:] == ["2.000", "2.000", "13.3%", "13.3%"]  # of 15 ms


def test_json_has_the_figures_and_the_text() -> None:
    server = ServerRow.of([Sample(10.0, 1.0, 8.0)], 0, 6.1)
    data = validation_json(_section(server))
    json.dumps(data)
    assert data["in_process"][1]["measured"] == "fhirkit alone, on the bytes"
    assert data["server"]["validate_ms"] == {"mean": 1.0, "p50": 1.0}
    assert data["server"]["validate_share_of_latency"]["mean"] == pytest.approx(0.1)
    assert data["table"] == render_validation(_section(server))
    assert validation_json(_section(None))["server"] is None


def test_claimed_profiles_are_what_a_write_adds() -> None:
    from bench.validation_bench import claimed_profiles, example_resources, large_care_plan

    plan = large_care_plan(example_resources())
    assert plan["meta"]["profile"]  # the examples claim fhircare's profiles
    assert not [i for i in claimed_profiles(plan, b"").issues if i.severity == "error"]
    broken = {k: v for k, v in plan.items() if k != "careTeam"}
    problems = [i for i in claimed_profiles(broken, b"").issues if i.severity == "error"]
    assert [i.expression for i in problems] == [("CarePlan.careTeam",)]
    unclaimed = {**broken, "meta": {}}
    assert claimed_profiles(unclaimed, b"").issues == []
