"""Build, start, ping and stop FerretDB v1.24.2 on its embedded SQLite backend.

The dev server and the test suite talk to a real MongoDB wire-protocol server; these
machines have none, so FerretDB is built from its Go module. A plain
``go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`` builds a binary that
panics at start-up (the module zip lacks the generated ``build/version/version.txt``),
so the build copies the same module source, writes that file as FerretDB's own
``task gen-version`` would, and builds ``./cmd/ferretdb`` from it.

The copy also gets one fix (``ID_COLUMN_FIX``): v1.24.2 creates its unique ``_id``
index on the SQLite expression ``_ferretdb_sjson->"_id"`` but looks documents up with
``_ferretdb_sjson->'$._id'``, which SQLite does not match to that index, so every read,
update and delete by ``_id`` scans the whole table. Both expressions select the same
value; the fix makes the lookup use the index's spelling. Releases 1.20 to 1.24 all
have the mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

FERRETDB_VERSION = "v1.24.2"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
BUILD_NAME = f"ferretdb-{FERRETDB_VERSION}-idfix"

# (file in the module, text in v1.24.2, its replacement)
ID_COLUMN_FIX = (
    "internal/backends/sqlite/metadata/metadata.go",
    "IDColumn = DefaultColumn + \"->'$._id'\"",
    'IDColumn = DefaultColumn + `->"_id"`',
)


def binary_path(var_dir: Path) -> Path:
    return var_dir / "bin" / BUILD_NAME


def apply_fix(src: Path, fix: tuple[str, str, str] = ID_COLUMN_FIX) -> None:
    """Replace the one expected line; refuse to build if the source is not as expected."""
    name, old, new = fix
    path = src / name
    text = path.read_text()
    if text.count(old) != 1:
        raise RuntimeError(f"FerretDB source {name} is not the expected {FERRETDB_VERSION}")
    path.write_text(text.replace(old, new))


def build(var_dir: Path) -> Path:
    """Build the binary into ``var_dir/bin`` unless it is already there."""
    target = binary_path(var_dir).resolve()
    if target.exists():
        return target
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("Go is needed to build FerretDB; install it or set MONGODB_URI")
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    print(f"building FerretDB {FERRETDB_VERSION} (once, about two minutes)…", file=sys.stderr)
    out = subprocess.run(
        [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
        check=True,
        capture_output=True,
        env=env,
    )
    module_dir = Path(json.loads(out.stdout)["Dir"])
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(module_dir, src)
        for path in src.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        (src / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
        apply_fix(src)
        built = Path(tmp) / "ferretdb"
        subprocess.run(
            [go, "build", "-o", str(built), "./cmd/ferretdb"], cwd=src, check=True, env=env
        )
        built.replace(target)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(
    process: subprocess.Popen[bytes], timeout: float = 15.0, group: bool = False
) -> None:
    """SIGTERM, then SIGKILL (to its whole process group if ``group``) if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait()


def ping(uri: str, timeout: float = 1.0) -> bool:
    """True when a MongoDB wire-protocol server answers ``ping`` at ``uri``."""
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=int(timeout * 1000)
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


class FerretDB:
    """One FerretDB process on 127.0.0.1:``port`` keeping its SQLite files in ``data_dir``."""

    def __init__(self, var_dir: Path, data_dir: Path, port: int) -> None:
        self.var_dir = var_dir
        self.data_dir = data_dir
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 30.0) -> FerretDB:
        binary = build(self.var_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "ferretdb.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [
                str(binary),
                "--handler=sqlite",
                f"--sqlite-url=file:{self.data_dir.resolve()}/",
                f"--state-dir={self.data_dir.resolve()}",
                f"--listen-addr=127.0.0.1:{self.port}",
                "--debug-addr=-",
                "--telemetry=disable",
                "--log-level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"FerretDB exited at start; see {self.data_dir}/ferretdb.log")
            if ping(self.uri, 0.5):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"FerretDB did not answer ping on port {self.port} in {timeout}s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def main(argv: list[str] | None = None) -> None:
    """``python -m fhircare.storage.mongo.ferretdb build|run``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "run"])
    parser.add_argument("--var-dir", type=Path, default=Path("var"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--port", type=int, default=27217)
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build(args.var_dir))
        return
    server = FerretDB(args.var_dir, args.data_dir or args.var_dir / "ferretdb", args.port).start()
    print(f"FerretDB {FERRETDB_VERSION} on {server.uri}", file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        assert server.process is not None
        server.process.wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
