"""The pure parts of the realistic-data bench: the Synthea cache key and load order, what
the bundles hold, the parameters picked from them, the load's verdicts and the tables.

Hand-made Synthea-shaped bundles stand in for Synthea's output: no Java, no network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench import synthea
from bench.realistic.data import (
    LOINC,
    SYNTHEA_SYSTEM,
    PatientFacts,
    expected_counts,
    patient_facts,
)
from bench.realistic.load import BundleLoad, check_response, first_diagnostics, summarize
from bench.realistic.params import EVERYTHING, PAGE2, picks, queries
from bench.realistic.queries import Measured, on_base
from bench.realistic.report import ROW_NAMES, Run, ServerResult, problems, render, to_json
from bench.realistic.tables import (
    QUERY_FIELDS,
    check_table,
    load_table,
    match_differences,
    measured_table,
)

NPI = "http://hl7.org/fhir/sid/us-npi"


def conditional(kind: str, system: str, value: str) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{value}",
        "resource": {"resourceType": kind, "identifier": [{"system": system, "value": value}]},
        "request": {"method": "POST", "url": kind, "ifNoneExist": f"identifier={system}|{value}"},
    }


def post(resource: dict[str, Any], uuid: str) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{uuid}",
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def observation(subject: str, code: str, value: float | None, n: int) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": subject},
    }
    if value is not None:
        resource["valueQuantity"] = {"value": value, "unit": "mm[Hg]"}
    return post(resource, f"obs-{subject}-{n}")


def patient_bundle(uuid: str, family: str, birth: str, values: list[float]) -> dict[str, Any]:
    """A Synthea patient transaction: the Patient, Observations, Encounters."""
    subject = f"urn:uuid:{uuid}"
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {"system": SYNTHEA_SYSTEM, "value": uuid},
            {"system": "http://hospital.smarthealthit.org", "value": uuid},
        ],
        "name": [{"use": "official", "family": family, "given": ["Ann"]}],
        "birthDate": birth,
    }
    entries = [post(patient, uuid)]
    entries += [observation(subject, "8480-6", v, n) for n, v in enumerate(values)]
    entries.append(observation(subject, "72166-2", None, 99))
    for n, year in enumerate((2011, 2015, 2019)):
        encounter = {
            "resourceType": "Encounter",
            "status": "finished",
            "subject": {"reference": subject},
            "period": {"start": f"{year}-03-02T10:37:55+00:00"},
            "participant": [{"individual": {"reference": f"Practitioner?identifier={NPI}|1"}}],
        }
        entries.append(post(encounter, f"enc-{uuid}-{n}"))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def facts(uuid: str, values: list[float] | None = None) -> PatientFacts:
    found = patient_facts(patient_bundle(uuid, f"Fam{uuid}", "1980-01-02", values or [120.0]))
    assert found is not None
    return found


# --- Synthea: cache and order ---------------------------------------------------------


def test_cache_key_changes_with_everything_the_output_depends_on() -> None:
    base = synthea.cache_key("3.3.0", 2026, 20)
    assert synthea.cache_key("3.3.0", 2026, 20) == base
    others = {
        synthea.cache_key("3.2.0", 2026, 20),
        synthea.cache_key("3.3.0", 2027, 20),
        synthea.cache_key("3.3.0", 2026, 21),
        synthea.cache_key("3.3.0", 2026, 20, "20240101"),
        synthea.cache_key("3.3.0", 2026, 20, options=(*synthea.OPTIONS, "--x=1")),
    }
    assert base not in others
    assert len(others) == 5


def test_load_order_puts_hospitals_then_practitioners_first() -> None:
    names = [
        "Zed1_Abe2_u1.json",
        "practitionerInformation17.json",
        "Abe3_Zed4_u2.json",
        "hospitalInformation17.json",
    ]
    assert synthea.load_order(names) == [
        "hospitalInformation17.json",
        "practitionerInformation17.json",
        "Abe3_Zed4_u2.json",
        "Zed1_Abe2_u1.json",
    ]


def test_command_fixes_seed_clinician_seed_and_reference_date(tmp_path: Path) -> None:
    command = synthea.synthea_command("lib/*", tmp_path, 7, 99, "20240102")
    pairs = dict(zip(command[4::2], command[5::2], strict=False))
    assert command[3] == synthea.MAIN_CLASS
    assert (pairs["-s"], pairs["-cs"], pairs["-p"], pairs["-r"]) == ("99", "99", "7", "20240102")
    assert f"--exporter.baseDirectory={tmp_path}" in command
    assert "--exporter.fhir.transaction_bundle=true" in command


def fake_run(command: list[str], patients: int, log: Path) -> None:
    """Writes what Synthea would: hospital and practitioner batches, patient transactions."""
    out = Path(command[command.index("-p") + 2].split("=", 1)[1]) / "fhir"
    out.mkdir(parents=True)
    log.write_text("ok\n")
    batch = {"resourceType": "Bundle", "type": "batch"}
    org = conditional("Organization", SYNTHEA_SYSTEM, "o1")
    (out / "hospitalInformation1.json").write_text(json.dumps({**batch, "entry": [org]}))
    doc = conditional("Practitioner", NPI, "1")
    (out / "practitionerInformation1.json").write_text(json.dumps({**batch, "entry": [doc, doc]}))
    for n in range(patients):
        bundle = patient_bundle(f"u{n}", f"Fam{n}", "1990-05-06", [float(n)])
        (out / f"Ann_Fam{n}_u{n}.json").write_text(json.dumps(bundle))


def test_generate_caches_by_key_and_lists_bundles_in_load_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synthea, "require", lambda tool: None)
    monkeypatch.setattr(synthea, "classpath", lambda root, version=synthea.VERSION: "lib/*")
    calls: list[list[str]] = []

    def run(command: list[str], patients: int, log: Path) -> None:
        calls.append(command)
        fake_run(command, patients, log)

    first = synthea.generate(tmp_path, 2, seed=5, run=run)
    assert not first.cached
    assert first.folder.name == synthea.cache_key(synthea.VERSION, 5, 2)
    assert [b.kind for b in first.bundles] == ["hospital", "practitioner", "patient", "patient"]
    assert [b.entries for b in first.bundles[:2]] == [1, 2]
    assert first.entries == sum(b.entries for b in first.bundles)

    def no_run(command: list[str], patients: int, log: Path) -> None:
        raise AssertionError("a cached generation ran Synthea again")

    again = synthea.generate(tmp_path, 2, seed=5, run=no_run)
    assert again.cached
    assert [(b.path, b.entries) for b in again.bundles] == [
        (b.path, b.entries) for b in first.bundles
    ]
    other = synthea.generate(tmp_path, 3, seed=5, run=run)
    assert other.folder != first.folder
    assert len(calls) == 2


# --- what the bundles hold -------------------------------------------------------------


def test_expected_counts_count_a_conditional_create_once() -> None:
    npi = conditional("Practitioner", NPI, "1")
    org = conditional("Organization", SYNTHEA_SYSTEM, "o1")
    batches = [
        {"entry": [org, conditional("Organization", SYNTHEA_SYSTEM, "o2")]},
        {"entry": [npi, npi, conditional("Practitioner", NPI, "2")]},
        {"entry": [org]},
        patient_bundle("p1", "Ray", "1950-01-01", [1.0, 2.0]),
        patient_bundle("p2", "Ray", "1960-01-01", [3.0]),
    ]
    counts = expected_counts(batches)
    assert counts["Organization"] == 2
    assert counts["Practitioner"] == 2
    assert counts["Patient"] == 2
    assert counts["Observation"] == (2 + 1) + (1 + 1)
    assert counts["Encounter"] == 6
    assert counts["CarePlan"] == 0


def test_patient_facts_read_the_patient_and_its_data() -> None:
    found = patient_facts(patient_bundle("p1", "Ray", "1950-01-01", [110.0, 130.0, 125.0]))
    assert found is not None
    assert (found.synthea_id, found.family, found.birthdate) == ("p1", "Ray", "1950-01-01")
    assert found.observation_codes == {"8480-6": 3, "72166-2": 1}
    assert found.quantity_values == {"8480-6": [110.0, 130.0, 125.0]}
    assert found.encounter_years == [2011, 2015, 2019]
    assert found.entries == 1 + 4 + 3
    hospital = {"entry": [conditional("Organization", SYNTHEA_SYSTEM, "o1")]}
    assert patient_facts(hospital) is None


# --- parameters ------------------------------------------------------------------------


def test_picks_are_seeded_and_taken_from_the_patient() -> None:
    patients = [facts(f"p{n}", [float(n), float(n + 10), float(n + 20)]) for n in range(12)]
    first = picks(patients, 5, seed=1)
    assert picks(patients, 5, seed=1) == first
    assert any(picks(patients, 5, seed=s) != first for s in range(2, 6))
    assert len({p.patient.synthea_id for p in first}) == 5
    for pick in first:
        values = pick.patient.quantity_values["8480-6"]
        assert pick.quantity_code == "8480-6"
        assert pick.threshold == sorted(values)[1]
        assert pick.code in pick.patient.observation_codes
        assert pick.year == 2015


def test_picks_repeat_patients_when_there_are_fewer() -> None:
    patients = [facts("a"), facts("b")]
    chosen = picks(patients, 5, seed=3)
    ids = [p.patient.synthea_id for p in chosen]
    assert ids == [ids[0], ids[1]] * 2 + [ids[0]]
    assert sorted(ids[:2]) == ["a", "b"]
    with pytest.raises(ValueError):
        picks([], 1, seed=3)


def test_queries_use_the_servers_patient_id_and_count_without_result_params() -> None:
    pick = picks([facts("p1", [118.5, 120.0, 140.0])], 1, seed=0)[0]
    found = {q.name: q for q in queries(pick, "srv-42", everything_count=77)}
    assert found["Patient?identifier"].params == (("identifier", f"{SYNTHEA_SYSTEM}|p1"),)
    assert found["Patient?name"].example == "Patient?name=Famp1"
    value = found["Observation?code&value-quantity"].params
    assert value == (("code", f"{LOINC}|8480-6"), ("value-quantity", "gt120"))
    vitals = found["Observation vital-signs -date"]
    assert ("patient", "srv-42") in vitals.params
    assert vitals.count_params == (
        ("patient", "srv-42"),
        ("category", "vital-signs"),
        ("_summary", "count"),
    )
    assert found["Encounter?patient&date=ge"].params[1] == ("date", "ge2015")
    assert found["Encounter page 2"].kind == PAGE2
    everything = found["Patient/$everything"]
    assert (everything.kind, everything.path) == (EVERYTHING, "Patient/srv-42/$everything")
    assert everything.params == (("_count", "77"),)


# --- the load's verdicts ---------------------------------------------------------------


def test_check_response_finds_failed_entries_and_diagnostics() -> None:
    ok = {"entry": [{"response": {"status": "201 Created"}}, {"response": {"status": "200"}}]}
    assert check_response(200, ok) == (0, None)
    outcome = {"issue": [{"code": "invalid", "diagnostics": "bad date"}]}
    failing = {"entry": [*ok["entry"], {"response": {"status": "400", "outcome": outcome}}]}
    failed, problem = check_response(200, failing)
    assert failed == 1
    assert problem is not None and "1 of 3" in problem and "bad date" in problem
    assert check_response(413, outcome) == (0, "413: bad date")
    assert first_diagnostics({"issue": [{"code": "x", "details": {"text": "why"}}]}) == "why"
    assert first_diagnostics("not json") == "no OperationOutcome"


def test_summarize_separates_batches_largest_and_failures() -> None:
    loads = [
        BundleLoad("h", "hospital", 10, 200, 1.0),
        BundleLoad("p", "practitioner", 20, 200, 2.0),
        BundleLoad("a", "patient", 100, 200, 4.0),
        BundleLoad("b", "patient", 300, 413, 0.5, problem="413: too big"),
        BundleLoad("c", "patient", 50, 200, 2.5),
    ]
    summary = summarize(loads)
    assert (summary.bundles, summary.bundles_ok) == (5, 4)
    assert (summary.entries, summary.entries_ok) == (480, 180)
    assert summary.seconds == pytest.approx(10.0)
    assert summary.entries_per_second == pytest.approx(18.0)
    assert (summary.hospital_seconds, summary.practitioner_seconds) == (1.0, 2.0)
    assert (summary.largest_entries, summary.largest_seconds, summary.largest_ok) == (
        300,
        0.5,
        False,
    )
    assert summary.patient_p50_seconds == 2.5


# --- tables ----------------------------------------------------------------------------


def measured(p50s: list[float], matches: list[int | None], included: int = 0) -> Measured:
    return Measured("q", latencies_ms=p50s, matches=matches, calls=len(p50s), included=included)


def cells(table: str, name: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(name))
    return line[len(name) :].split()


def test_measured_table_has_a_block_per_server_and_ratio_to_the_reference() -> None:
    rows = {
        "hapi": {"q1": measured([10.0, 20.0, 30.0], [3, 4, 5], included=2)},
        "fhircare": {"q1": measured([40.0, 40.0, 40.0], [3, 4, 5])},
    }
    table = measured_table("query", ["hapi", "fhircare"], ["q1"], rows, QUERY_FIELDS)
    header = table.splitlines()[0]
    assert header.index("hapi") < header.index("fhircare") < header.index("ratio")
    assert "p50 fhircare/hapi" in table.splitlines()[1]
    row = cells(table, "q1")
    assert row[-1] == "2.0x"
    assert row[2] == "20.0" and "12" in row and "+2" in row
    assert match_differences(["hapi", "fhircare"], ["q1"], rows) == []
    rows["fhircare"]["q1"] = measured([40.0], [3, 4, 6])
    differences = match_differences(["hapi", "fhircare"], ["q1"], rows)
    assert len(differences) == 1 and "[3, 4, 5]" in differences[0]


def test_check_and_load_tables_mark_differences() -> None:
    expected = {"Patient": 2, "Practitioner": 5}
    found = {"a": {"Patient": 2, "Practitioner": 5}, "b": {"Patient": 2, "Practitioner": 10}}
    table = check_table(["a", "b"], expected, found)
    assert cells(table, "Patient")[-1] == "ok"
    assert cells(table, "Practitioner")[-1] == "DIFFERS"
    slow = summarize([BundleLoad("h", "hospital", 10, 200, 3.0)])
    fast = summarize([BundleLoad("h", "hospital", 10, 200, 1.0)])
    load = load_table(["a", "b"], {"a": fast, "b": slow})
    assert cells(load, "load s (all bundles)") == ["1.00", "3.00", "3.0x"]
    assert cells(load, "bundles ok") == ["1/1", "1/1", "-"]


def test_links_are_followed_on_the_measured_base() -> None:
    base = "http://127.0.0.1:8090/fhir"
    assert on_base(base, "http://localhost:8080/fhir?_getpages=x&_page=2") == (
        "http://127.0.0.1:8090/fhir?_getpages=x&_page=2"
    )
    same = "http://127.0.0.1:8090/fhir/Encounter?_count=50&_cursor=abc"
    assert on_base(base, same) == same


def test_render_lists_each_server_and_the_problems(tmp_path: Path) -> None:
    bundle = synthea.BundleFile(tmp_path / "hospitalInformation1.json", "hospital", 3, 100)
    data = synthea.SyntheaData(tmp_path, "3.3.0", 1, 1, "20250101", [bundle], 1.0, True)
    expected = {"Organization": 3}
    ok = BundleLoad(bundle.path.name, "hospital", 3, 200, 0.5)
    failed = BundleLoad(bundle.path.name, "hospital", 3, 413, 0.1, problem="413: too large")
    name = ROW_NAMES[0]
    servers = [
        ServerResult(
            "hapi",
            "http://127.0.0.1:1/fhir",
            "HAPI 8",
            {"Organization": 0},
            expected,
            [ok],
            {name: measured([5.0], [1])},
        ),
        ServerResult(
            "mine",
            "http://127.0.0.1:2/fhir",
            "fhircare",
            {"Organization": 0},
            {"Organization": 0},
            [failed],
            {name: measured([15.0], [0])},
            peak_memory_kib=2048,
        ),
    ]
    run = Run("now", "cmd", data, expected, servers, reps=1, reads=1, seed=1, concurrency=[1])
    found = problems(run)
    assert "mine: hospitalInformation1.json: 413: too large" in found
    assert any("mine: Organization count 0, the bundles hold 3" in line for line in found)
    assert any(line.startswith(f"{name}: matches per call differ") for line in found)
    assert not any(line.startswith("hapi") for line in found)
    text = render(run)
    assert "reference: hapi" in text
    assert cells(text, name)[-1] == "3.0x"
    assert "hapi n/a, mine 2.0 MiB" in text  # peak memory, where the bench started the server
    assert to_json(run)["problems"] == found
    assert to_json(run)["servers"]["mine"]["peak_memory_kib"] == 2048
