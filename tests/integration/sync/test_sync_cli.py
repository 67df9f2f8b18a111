"""``fhircare sync`` (``sync_cli.py``) as users run it, on a SQLite file and a remotes file
of their own: configuration errors exit 2 naming the field, a remote that is down exits 1
with its report, another worker's lease exits 3, ``--every`` durations, ``status`` and
``conflicts`` output, and the worker mode stopped by SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from fhircare.cli import app
from fhircare.storage.mongo.ferretdb import free_port
from fhircare.storage.sqlite.store import SqliteStore
from fhircare.sync.remotes import RemoteConfigError, load_remotes
from fhircare.sync.state import SyncState
from fhircare.sync_cli import parse_every, resolve_remote, url_name

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """The environment of one user: a SQLite file, a var folder and a remotes file naming
    ``down`` (a loopback port nothing listens on, no retries)."""
    remotes = tmp_path / "remotes.toml"
    remotes.write_text(
        f"""
[remotes.down]
base_url = "http://127.0.0.1:{free_port()}/fhir"
retries = 0
timeout = 5
types = ["Patient", "Goal"]
conflicts = "manual"
"""
    )
    return {
        "MONGODB_URI": "",
        "FHIRCARE_MONGODB_URI": "",
        "FHIRCARE_SQLITE_PATH": str(tmp_path / "cli.sqlite3"),
        "FHIRCARE_VAR_DIR": str(tmp_path / "var"),
        "FHIRCARE_SYNC_REMOTES": str(remotes),
        "COLUMNS": "200",
    }


def sync(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["sync", *args], env=env)


def on_store(env: dict[str, str], work: Any) -> Any:
    """``work(store)`` on the environment's SQLite file (as another process would)."""

    async def run() -> Any:
        store = SqliteStore(Path(env["FHIRCARE_SQLITE_PATH"]))
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("toml", "args", "field"),
    [
        ('[remotes.down]\nbase_url = "ftp://x"\n', ["run", "--remote", "down"], "base_url"),
        (
            '[remotes.down]\nbase_url = "http://x/fhir"\npage_size = 0\n',
            ["pull", "--remote", "down"],
            "remotes.down.page_size",
        ),
        (
            '[remotes.down]\nbase_url = "http://x"\ntypes = ["Nope"]\n',
            ["push", "--remote", "down"],
            "types",
        ),
        ("[remotes.down\n", ["run", "--remote", "down"], "remotes.toml"),
        (None, ["run"], "--remote"),
        (None, ["run", "--remote", "elsewhere"], "--remote"),
        (None, ["run", "--remote-url", "http://x/fhir", "--page-size", "0"], "page_size"),
        (None, ["run", "--remote-url", "http://x/fhir", "--type", "Nope"], "x-fhir.types"),
        (None, ["run", "--remote", "down", "--conflicts", "both-win"], "--conflicts"),
        (None, ["run", "--remote", "down", "--client-ids", "maybe"], "--client-ids"),
        (None, ["run", "--remote", "down", "--bearer-token-env", "FHIRCARE_UNSET_X"], "--bearer"),
        (None, ["run", "--remote", "down", "--every", "soon"], "--every"),
        (None, ["status", "--remote", "elsewhere"], "--remote"),
        (None, ["conflicts", "--resolve", "Patient/1"], "--keep"),
        (None, ["conflicts", "--resolve", "nonsense", "--keep", "local"], "--resolve"),
    ],
)
def test_configuration_errors_exit_2_naming_the_field(
    files: dict[str, str], toml: str | None, args: list[str], field: str
) -> None:
    if toml is not None:
        Path(files["FHIRCARE_SYNC_REMOTES"]).write_text(toml)
    result = sync(files, *args)
    assert result.exit_code == 2, result.output
    assert field in result.output, result.output


def test_every_takes_seconds_minutes_and_hours() -> None:
    assert parse_every("60") == 60
    assert parse_every("60s") == 60
    assert parse_every("5m") == 300
    assert parse_every("1.5m") == 90
    assert parse_every("1h") == 3600
    for bad in ("", "0", "0s", "-5", "5x", "m", "5 minutes"):
        with pytest.raises(typer.BadParameter):
            parse_every(bad)


def test_the_command_line_sets_or_overrides_a_remote(files: dict[str, str]) -> None:
    remotes = load_remotes(Path(files["FHIRCARE_SYNC_REMOTES"]))
    assert resolve_remote(remotes, "down", None, {}) is remotes["down"]
    changed = resolve_remote(
        remotes, "down", None, {"types": [{"type": "Task", "filter": "patient=Patient/7"}]}
    )
    assert changed.base_url == remotes["down"].base_url and changed.conflicts == "manual"
    task = changed.spec("Task")
    assert changed.type_names == ("Task",) and task is not None
    assert task.filter == "patient=Patient/7"
    adhoc = resolve_remote(remotes, None, "https://hapi.fhir.org/baseR4/", {"client_ids": "no"})
    assert adhoc.name == "hapi.fhir.org-baseR4" and adhoc.base_url == "https://hapi.fhir.org/baseR4"
    assert url_name("http://127.0.0.1:8090/fhir") == "127.0.0.1-8090-fhir"
    with pytest.raises(RemoteConfigError, match="--remote"):
        resolve_remote(remotes, None, None, {})


def test_a_remote_that_is_down_exits_1_with_its_report_and_status_shows_it(
    files: dict[str, str],
) -> None:
    result = sync(files, "pull", "--remote", "down")
    assert result.exit_code == 1, result.output
    assert "down pull: 0 pulled" in result.output and "(failed)" in result.output
    assert "error run (remote): GET http://127.0.0.1:" in result.output

    dry = sync(files, "run", "--remote", "down", "--dry-run")
    assert dry.exit_code == 1, dry.output
    assert "would pull 0, would push 0, would delete 0" in dry.output

    status = sync(files, "status")
    assert status.exit_code == 0, status.output
    assert "down" in status.output and "manual" in status.output
    assert status.output.count("failed") >= 2 and "both (dry run)" in status.output
    assert "(none yet)" in status.output  # no cursor: nothing was ever pulled


def test_another_workers_lease_exits_3(files: dict[str, str]) -> None:
    on_store(files, lambda store: SyncState(store, "down").acquire(60))
    result = sync(files, "run", "--remote", "down")
    assert result.exit_code == 3, result.output
    assert "another worker is syncing remote 'down'" in result.output


def test_status_shows_cursors_and_conflicts_lists_and_resolves(files: dict[str, str]) -> None:
    async def seed(store: SqliteStore) -> None:
        state = SyncState(store, "down")
        await state.save_cursor("pull/Patient", {"since": "2026-03-01T10:00:00Z"})
        await state.save_cursor("push", {"seq": 42})
        await state.add_conflict(
            "Patient",
            "p1",
            {
                "resource": "Patient/p1",
                "remote": "Patient/9",
                "found": "pull",
                "local_version": 2,
                "local_deleted": False,
                "remote_version": "3",
                "remote_deleted": True,
                "remote_resource": None,
            },
        )

    on_store(files, seed)
    status = sync(files, "status", "--remote", "down")
    assert status.exit_code == 0, status.output
    assert "pull/Patient: since 2026-03-01T10:00:00Z" in status.output
    assert "push: seq 42" in status.output
    assert "no runs yet" in status.output

    listed = sync(files, "conflicts")
    assert listed.exit_code == 0, listed.output
    assert "1 open conflict " in listed.output
    assert "Patient/p1" in listed.output and "Patient/9 deleted" in listed.output
    assert "v2" in listed.output

    missing = sync(files, "conflicts", "--resolve", "Patient/p2", "--keep", "remote")
    assert missing.exit_code == 1 and "no open conflict on Patient/p2" in missing.output

    # Keeping the remote's delete needs no request to the remote: it is applied here.
    resolved = sync(files, "conflicts", "--resolve", "Patient/p1", "--keep", "remote")
    assert resolved.exit_code == 0, resolved.output
    assert "(completed)" in resolved.output
    assert "no open conflicts" in sync(files, "conflicts").output


def test_the_worker_runs_every_interval_until_sigterm(files: dict[str, str]) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "fhircare.cli", "sync", "run", "--remote", "down", "--every", "1s"],
        cwd=ROOT,
        env={**os.environ, **files},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            reports = on_store(files, _report_count)
            if reports >= 2:
                break
            time.sleep(0.3)
        assert worker.poll() is None, worker.communicate()
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert out.count("down both: 0 pulled") >= 2, out  # each round reported, then retried
    assert "stopped" in err


async def _report_count(store: SqliteStore) -> int:
    from fhircare.sync.state import reports

    return len(await reports(store, "down", 10))
