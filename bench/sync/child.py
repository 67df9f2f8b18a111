"""Each row in a process of its own, so its peak resident memory is its own.

The parent starts ``python -m bench.sync.child ROW SPEC_JSON``, reads the one ``result``
line the child prints, and reaps it with ``os.wait4``, whose ``ru_maxrss`` is that child's
peak resident set size (KiB on Linux): the whole process, imports and the open store
included, as a sync worker would run.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from bench.sync.rows import ROWS

PREFIX = "result "


@dataclass(frozen=True)
class ChildResult:
    result: dict[str, Any]
    peak_rss_kib: int | None
    exit_code: int


def run_child(row: str, spec: dict[str, Any]) -> ChildResult:
    """Run ``row`` with ``spec`` in a child; its stderr goes to ours."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.sync.child", row, json.dumps(spec)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    output = process.stdout.read().decode("utf-8", "replace")
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = code = os.waitstatus_to_exitcode(status)
    lines = [line for line in output.splitlines() if line.startswith(PREFIX)]
    result = json.loads(lines[-1][len(PREFIX) :]) if lines else {}
    if code != 0 or not lines:
        result.setdefault("errors", []).append(f"{row} exited with {code}")
    return ChildResult(result, usage.ru_maxrss or None, code)


def main(argv: list[str]) -> int:
    row, spec = argv[0], json.loads(argv[1])
    result = asyncio.run(ROWS[row](spec))
    print(PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
