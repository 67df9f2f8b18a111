"""fhircare's verdicts beside HAPI FHIR's on the corpus, tallied per kind of check.

Both are asked with ``$validate?profile=``: a live HAPI (a new one is started in a temporary
folder unless ``--base`` names one; it is built into ``var/hapi/`` on first use) and a live
fhircare (``fhircare serve`` over a temporary SQLite file unless ``--fhircare`` names one).
Print the table and every disagreement::

    .venv/bin/python -m tests.integration.validation.agreement [--base URL] [--fhircare URL]

``tests/integration/validation/test_agreement.py`` runs the same comparison against the
test session's HAPI and fhircare peers and holds the disagreements to its
``DOCUMENTED_DIFFERENCES``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from fhircare.processes import ServerProcess
from tests.integration.validation.corpus import KINDS, REFERENCE_TARGETS, Case, cases, definitions
from tests.integration.validation.fhircare_side import fhircare_verdict
from tests.integration.validation.hapi import hapi_verdict, put_all
from tests.integration.validation.verdict import Verdict

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Outcome:
    """One case as both validators judged it."""

    case: Case
    hapi: Verdict
    fhircare: Verdict

    @property
    def agree(self) -> bool:
        return self.hapi.valid == self.fhircare.valid


@dataclass(frozen=True)
class Row:
    kind: str
    cases: int
    agree: int

    @property
    def disagree(self) -> int:
        return self.cases - self.agree


def compare(
    client: httpx.Client, hapi_url: str, fhircare_url: str, corpus: Sequence[Case]
) -> list[Outcome]:
    """Store the definitions and reference targets in HAPI (fhircare loads ``profiles/``
    itself), then judge every case on both sides."""
    put_all(client, hapi_url, [*definitions(), *REFERENCE_TARGETS])
    return [
        Outcome(c, hapi_verdict(client, hapi_url, c), fhircare_verdict(client, fhircare_url, c))
        for c in corpus
    ]


def table(outcomes: Iterable[Outcome]) -> list[Row]:
    """One row per kind of check, in ``KINDS`` order, and a total."""
    listed = list(outcomes)
    rows = []
    for kind in KINDS:
        of_kind = [o for o in listed if o.case.kind == kind]
        rows.append(Row(kind, len(of_kind), sum(o.agree for o in of_kind)))
    rows.append(Row("total", len(listed), sum(o.agree for o in listed)))
    return rows


def render(rows: Sequence[Row]) -> str:
    width = max(len(r.kind) for r in rows)
    lines = [f"{'check kind':<{width}}  cases  agree  disagree"]
    lines += [f"{r.kind:<{width}}  {r.cases:>5}  {r.agree:>5}  {r.disagree:>8}" for r in rows]
    return "\n".join(lines)


def render_disagreements(outcomes: Iterable[Outcome]) -> str:
    lines = []
    for outcome in outcomes:
        if outcome.agree:
            continue
        case = outcome.case
        lines.append(
            f"{case.id} ({case.kind}, expected {case.expected}): {case.change}\n"
            f"  HAPI {outcome.hapi.label}; fhircare {outcome.fhircare.label}"
        )
        lines += [f"    HAPI: {e}" for e in outcome.hapi.errors]
        lines += [f"    fhircare: {e}" for e in outcome.fhircare.errors]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.integration.validation.agreement", description=__doc__
    )
    parser.add_argument("--base", help="a running HAPI FHIR R4 base URL; default: start one")
    parser.add_argument("--fhircare", help="a running fhircare base URL; default: start one")
    args = parser.parse_args(argv)
    with httpx.Client(timeout=120) as client, ExitStack() as started:
        fhircare_url = args.fhircare or started.enter_context(_new_fhircare())
        hapi_url = args.base or started.enter_context(_new_hapi())
        outcomes = compare(client, hapi_url, fhircare_url, cases())
    print(render(table(outcomes)))
    disagreements = render_disagreements(outcomes)
    if disagreements:
        print("\n" + disagreements)
    print(f"\n{len(outcomes)} cases; python -m tests.integration.validation.agreement")
    return 0


@contextmanager
def _new_hapi() -> Iterator[str]:
    from tests.peers.hapi_server import HapiServer, free_port

    with tempfile.TemporaryDirectory(prefix="hapi-validate-") as folder:
        started = time.monotonic()
        print("starting HAPI FHIR (one to two minutes)...", file=sys.stderr, flush=True)
        with HapiServer(ROOT / "var", Path(folder), free_port()).start(timeout=300) as server:
            print(f"HAPI up in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
            yield server.base_url


@contextmanager
def _new_fhircare() -> Iterator[str]:
    """``fhircare serve`` (which loads ``profiles/``) over a SQLite file of its own."""
    with tempfile.TemporaryDirectory(prefix="fhircare-validate-") as folder:
        server = ServerProcess(
            str(Path(folder) / "fhircare.sqlite3"),
            "validate",
            log_path=Path(folder) / "fhircare.log",
            cwd=ROOT,
        )
        try:
            server.wait_ready()
            yield server.base_url
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
