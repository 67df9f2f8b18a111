"""The ``fhircare`` command as users run it: help, load, and serve on the embedded store.

``serve`` without MONGODB_URI serves a SQLite file in the var folder, with nothing to build
or start first, and SIGTERM stops it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from fhircare.storage.mongo.ferretdb import free_port, ping

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fhircare.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("serve", "load", "db"):
        assert command in result.stdout


@pytest.mark.parametrize("kind", ["sqlite", "mongo"])
def test_load_resumes_is_idempotent_and_reports(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database = f"cli_{uuid.uuid4().hex[:8]}"
    env = {"FHIRCARE_VAR_DIR": str(tmp_path / "var")}
    if kind == "sqlite":
        env |= {"MONGODB_URI": "", "FHIRCARE_SQLITE_PATH": str(tmp_path / "cli.sqlite3")}
    else:
        env |= {"MONGODB_URI": request.getfixturevalue("mongo_uri"), "FHIRCARE_DATABASE": database}
    try:
        first = run_cli("load", "examples", env=env)
        assert first.returncode == 0, first.stderr
        assert "created" in first.stderr and "failed" not in first.stderr
        assert re.search(r"\d+ entries in [\d.]+s, [\d,]+/s", first.stderr), first.stderr
        resumed = run_cli("load", "examples", env=env)
        files = len(list((ROOT / "examples").glob("*.json")))
        assert resumed.returncode == 0, resumed.stderr
        assert f"skipped: {files} files" in resumed.stderr, resumed.stderr
        assert "created" not in resumed.stderr
        again = run_cli("load", "examples", "--restart", env=env)
        assert again.returncode == 0 and "unchanged" in again.stderr
        assert "created" not in again.stderr
        bad = run_cli("load", "pyproject.toml", env=env)
        assert bad.returncode != 0
    finally:
        if kind == "mongo":
            MongoClient(env["MONGODB_URI"]).drop_database(database)


def test_load_reports_bad_files_and_entries_and_loads_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "bundles"
    folder.mkdir()
    (folder / "a-broken.json").write_text('{"resourceType": "Bundle", "entry": [')
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:t", "value": "1"}]}
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": patient, "request": {"method": "POST", "url": "Patient",
                                              "ifNoneExist": "identifier=urn:t|1"}},
            {"resource": {"resourceType": "Patient", "gender": "sometimes"},
             "request": {"method": "POST", "url": "Patient"}},
        ],
    }  # fmt: skip
    (folder / "b-batch.json").write_text(json.dumps(batch))
    (folder / "c-patient.json").write_text(json.dumps({"resourceType": "Patient", "id": "c"}))
    env = {
        "MONGODB_URI": "",
        "FHIRCARE_SQLITE_PATH": str(tmp_path / "bad.sqlite3"),
        "FHIRCARE_VAR_DIR": str(tmp_path / "var"),
    }
    result = run_cli("load", str(folder), env=env)
    assert result.returncode == 1
    assert "a-broken.json" in result.stderr
    assert "b-batch.json entry[1] Patient/(new)" in result.stderr
    assert "Patient.gender" in result.stderr
    assert "2 created" in result.stderr and "1 failed" in result.stderr, result.stderr
    again = run_cli("load", str(folder), "--restart", env=env)
    # the batch's conditional create matched; the plain resource was PUT unchanged
    assert "1 failed, 2 unchanged" in again.stderr, again.stderr


def test_serve_runs_on_the_sqlite_file_with_nothing_built(tmp_path: Path) -> None:
    """What ``make serve`` does, on its own port and an empty var folder: no FerretDB
    binary there, none started."""
    var = tmp_path / "var"
    store_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "FHIRCARE_VAR_DIR": str(var),
        "FHIRCARE_DEV_STORE_PORT": str(store_port),
        "FHIRCARE_PORT": str(http_port),
        "FHIRCARE_LOG_LEVEL": "warning",
    }
    for name in ("MONGODB_URI", "FHIRCARE_MONGODB_URI", "FHIRCARE_SQLITE_PATH"):
        env.pop(name, None)
    server = subprocess.Popen(
        [sys.executable, "-m", "fhircare.cli", "serve", "--examples"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{http_port}/fhir"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/Patient/pat-copd", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "serve exited early"
            time.sleep(0.3)
        statement = httpx.get(f"{base}/metadata").json()
        assert_profiles_served(base, statement)
        assert (var / "fhircare.sqlite3").is_file()
        assert not (var / "bin").exists() and not (var / "ferretdb").exists()
        assert not ping(f"mongodb://127.0.0.1:{store_port}/", 0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0


def assert_profiles_served(base: str, statement: dict[str, Any]) -> None:
    """Every operation the statement names by a fhircare definition is an OperationDefinition
    the server holds (loaded from profiles/), every resource of profiles/ is found by its
    canonical url, and fhircare's own search parameters work."""
    named = {
        op["definition"]
        for resource in statement["rest"][0]["resource"]
        for op in resource.get("operation") or ()
        if op["definition"].startswith("urn:fhircare:")
    } | {
        op["definition"]
        for op in statement["rest"][0].get("operation") or ()
        if op["definition"].startswith("urn:fhircare:")
    }
    assert len(named) >= 6
    for url in sorted(named):
        found = httpx.get(f"{base}/OperationDefinition", params={"url": url}).json()
        assert found.get("total") == 1, url
    for path in sorted((ROOT / "profiles").glob("*.json")):
        resource = json.loads(path.read_text())
        stored = httpx.get(f"{base}/{resource['resourceType']}/{resource['id']}")
        assert stored.status_code == 200, path.name
        by_url = httpx.get(f"{base}/{resource['resourceType']}", params={"url": resource["url"]})
        assert by_url.json().get("total") == 1, path.name
    replies = httpx.get(
        f"{base}/Communication", params={"in-response-to": "Communication/comm-copd-home-visit-1"}
    )
    assert replies.status_code == 200 and replies.json()["total"] >= 1
    worklist = httpx.get(f"{base}/Practitioner/prac-care-manager/$worklist")
    assert worklist.status_code == 200 and worklist.json()["resourceType"] == "Bundle"
