"""The validation section: what validating a write costs, in-process and inside the server.

In-process, per structural engine (``fhircare.validation.engines``), in microseconds per KB
(1,000 bytes of compact JSON) over two corpora: every resource of ``examples/`` and one
large CarePlan (the largest example CarePlan, its activities repeated to about 6 KB). Rows:
``find_issues`` as a write runs it (the common rule walk plus the engine), then each part
alone (the walk, the models, fhirkit given the parsed dict and given the JSON bytes), and
``jsonio.loads`` for scale. Each figure is the best of ``ROUNDS`` rounds, a round validating
the corpus until ``ROUND_SECONDS`` have passed.

Over HTTP (with a base URL): a Patient, then ``posts`` creates of the large CarePlan for it
at concurrency 1, to a server started with ``FHIRCARE_SERVER_TIMING=true``. Each response's
``Server-Timing`` gives the server's own ``validate`` and ``total`` durations; the section
sets them beside the latency the client saw (mean and p50) and the share ``validate`` is of it.
"""

from __future__ import annotations

import copy
import functools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

import httpx

from bench import http_load
from bench.report import fixed_width, fmt_number, percentile, ratio
from fhircare.fhir import jsonio
from fhircare.validation import find_issues
from fhircare.validation.fhirkit_engine import fhirkit_issues
from fhircare.validation.issues import IssueCollector
from fhircare.validation.profiles import ProfileSet, check_profile
from fhircare.validation.structural import check_model
from fhircare.validation.walker import walk_resource

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LARGE_CARE_PLAN_BYTES = 6_000
ROUNDS = 5
ROUND_SECONDS = 0.2
DEFAULT_POSTS = 200

Progress = Callable[[str], None]
Validate = Callable[[dict[str, Any], bytes], object]


# --- the corpora ---------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """Resources as the server holds them after parsing, with their JSON bytes."""

    name: str
    resources: list[dict[str, Any]]
    bodies: list[bytes]

    @property
    def kb(self) -> float:
        return sum(len(body) for body in self.bodies) / 1000

    @classmethod
    def of(cls, name: str, resources: Sequence[Mapping[str, Any]]) -> Corpus:
        bodies = [jsonio.dumps(resource) for resource in resources]
        return cls(name, [jsonio.loads(body) for body in bodies], bodies)


def example_resources(directory: Path = EXAMPLES) -> list[dict[str, Any]]:
    """Every entry's resource of every Bundle in ``directory``."""
    out: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")):
        bundle = jsonio.loads(path.read_bytes())
        out.extend(e["resource"] for e in bundle.get("entry", []) if "resource" in e)
    return out


def large_care_plan(
    resources: Sequence[Mapping[str, Any]],
    patient_id: str | None = None,
    size: int = LARGE_CARE_PLAN_BYTES,
) -> dict[str, Any]:
    """The largest CarePlan of ``resources``, without its id, its activities repeated until
    its JSON is at least ``size`` bytes; its subject is ``Patient/{patient_id}`` if given."""
    plans = [r for r in resources if r.get("resourceType") == "CarePlan" and r.get("activity")]
    if not plans:
        raise ValueError("no CarePlan with activities to grow")
    base = max(plans, key=lambda r: len(jsonio.dumps(r)))
    plan = {k: copy.deepcopy(v) for k, v in base.items() if k != "id"}
    if patient_id is not None:
        plan["subject"] = {"reference": f"Patient/{patient_id}"}
    activities = list(plan["activity"])
    while len(jsonio.dumps(plan)) < size:
        plan["activity"].append(copy.deepcopy(activities[len(plan["activity"]) % len(activities)]))
    return plan


# --- in-process ------------------------------------------------------------------


@dataclass(frozen=True)
class EngineRow:
    """One way of validating one corpus: microseconds per KB and per resource."""

    corpus: str
    measured: str
    resources: int
    kb: float
    us_per_kb: float

    @property
    def us_per_resource(self) -> float:
        return self.us_per_kb * self.kb / self.resources if self.resources else 0.0


def _collect(check: Callable[[Mapping[str, Any], IssueCollector], None]) -> Validate:
    return lambda resource, _: check(resource, IssueCollector())


PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"


def _conformance_resources() -> list[dict[str, Any]]:
    """The StructureDefinitions, ValueSets and CodeSystems of ``profiles/``."""
    return [
        resource
        for path in sorted(PROFILES_DIR.glob("*.json"))
        if (resource := jsonio.loads(path.read_bytes())).get("resourceType")
        in ("StructureDefinition", "ValueSet", "CodeSystem")
    ]


@functools.cache
def shipped_profiles() -> ProfileSet:
    """fhircare's own profiles (``profiles/``), as the server builds them at start."""
    return ProfileSet.build(_conformance_resources())


def profile_set_build_ms(builds: int = 5) -> float:
    """Median milliseconds of ``ProfileSet.build`` over ``profiles/``, after one warm build."""
    shipped_profiles()
    resources = _conformance_resources()
    times = []
    for _ in range(builds):
        started = time.perf_counter()
        ProfileSet.build(resources)
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50)


def claimed_profiles(resource: Mapping[str, Any], _: bytes) -> IssueCollector:
    """What a write adds for ``meta.profile``: each claimed profile known here, checked."""
    issues = IssueCollector()
    profiles = shipped_profiles()
    for url in resource.get("meta", {}).get("profile") or ():
        profile = profiles.profile(url)
        if profile is not None:
            check_profile(resource, profile, profiles, issues)
    return issues


def _write_checks(resource: dict[str, Any], body: bytes) -> object:
    return find_issues(resource, "fhirkit"), claimed_profiles(resource, body)


MEASURED: list[tuple[str, Validate]] = [
    ("validate, engine models (walk + models)", lambda r, _: find_issues(r, "models")),
    ("validate, engine fhirkit (walk + fhirkit)", lambda r, _: find_issues(r, "fhirkit")),
    ("  rule walk alone", _collect(walk_resource)),
    ("  models alone", _collect(check_model)),
    ("  fhirkit alone, on the dict", lambda r, _: fhirkit_issues(r)),
    ("  fhirkit alone, on the bytes", lambda r, body: fhirkit_issues(r, body)),
    ("validate + claimed profiles (what a write runs)", _write_checks),
    ("  claimed profiles alone (meta.profile)", claimed_profiles),
    ("parse (jsonio.loads), for scale", lambda _, body: jsonio.loads(body)),
]
"""(label, how) of each row; ``how`` is given the parsed resource and its JSON bytes."""


def per_kb(seconds: float, kb: float, passes: int) -> float:
    """Microseconds per KB of ``passes`` passes over ``kb`` KB that took ``seconds``."""
    if kb <= 0 or passes <= 0:
        raise ValueError("nothing was measured")
    return seconds * 1e6 / (kb * passes)


def time_corpus(
    corpus: Corpus, validate: Validate, rounds: int = ROUNDS, seconds: float = ROUND_SECONDS
) -> float:
    """µs/KB of ``validate`` over ``corpus``: the best of ``rounds`` timed rounds."""
    pairs = list(zip(corpus.resources, corpus.bodies, strict=True))
    for resource, body in pairs:  # warm: models built, rule trees cached
        validate(resource, body)
    best = float("inf")
    for _ in range(rounds):
        passes = 0
        start = time.perf_counter()
        while True:
            for resource, body in pairs:
                validate(resource, body)
            passes += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = min(best, per_kb(elapsed, corpus.kb, passes))
    return best


def in_process_rows(
    corpora: Sequence[Corpus], progress: Progress, rounds: int = ROUNDS
) -> list[EngineRow]:
    rows = []
    for corpus in corpora:
        for label, validate in MEASURED:
            progress(f"validation: {corpus.name}: {label.strip()}")
            us = time_corpus(corpus, validate, rounds)
            rows.append(EngineRow(corpus.name, label, len(corpus.resources), corpus.kb, us))
    return rows


# --- inside the server -----------------------------------------------------------

_METRIC = re.compile(r"\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*((?:;[^,]*)?)")
_DURATION = re.compile(r";\s*dur\s*=\s*\"?([0-9.]+)")


def server_timing(header: str | None) -> dict[str, float]:
    """Metric name -> ``dur`` in ms of a ``Server-Timing`` value (metrics without one: 0)."""
    found: dict[str, float] = {}
    for part in (header or "").split(","):
        metric = _METRIC.match(part)
        if not metric or not metric.group(1):
            continue
        duration = _DURATION.search(metric.group(2))
        found[metric.group(1)] = found.get(metric.group(1), 0.0) + (
            float(duration.group(1)) if duration else 0.0
        )
    return found


@dataclass(frozen=True)
class Sample:
    """One create: the latency the client saw and the server's own durations (ms)."""

    latency_ms: float
    validate_ms: float | None
    total_ms: float | None


@dataclass(frozen=True)
class Spread:
    mean: float | None
    p50: float | None

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Spread:
        present = [v for v in values if v is not None]
        return cls(fmean(present), percentile(present, 50)) if present else cls(None, None)


@dataclass(frozen=True)
class ServerRow:
    """The creates of the large CarePlan over HTTP, as the server timed them."""

    requests: int
    errors: int
    body_kb: float
    latency: Spread
    server_total: Spread
    validate: Spread

    @property
    def share_mean(self) -> float | None:
        return ratio(self.validate.mean, self.latency.mean)

    @property
    def share_p50(self) -> float | None:
        return ratio(self.validate.p50, self.latency.p50)

    @classmethod
    def of(cls, samples: Sequence[Sample], errors: int, body_kb: float) -> ServerRow:
        return cls(
            requests=len(samples) + errors,
            errors=errors,
            body_kb=body_kb,
            latency=Spread.of([s.latency_ms for s in samples]),
            server_total=Spread.of([s.total_ms for s in samples]),
            validate=Spread.of([s.validate_ms for s in samples]),
        )


async def server_row(base_url: str, posts: int, progress: Progress) -> tuple[ServerRow, list[str]]:
    """POST a Patient, then ``posts`` large CarePlans for it, one at a time."""
    notes: list[str] = []
    headers = {"Content-Type": http_load.FHIR_JSON}
    async with http_load.client(base_url, 1) as http:
        patient = {"resourceType": "Patient", "name": [{"family": "Validation", "given": ["B"]}]}
        response = await http.post("/Patient", json=patient, headers=headers)
        patient_id = http_load.created_id(response) if response.status_code == 201 else None
        if patient_id is None:
            raise RuntimeError(f"POST /Patient: {response.status_code} {response.text[:300]}")
        body = jsonio.dumps(large_care_plan(example_resources(), patient_id))
        progress(f"validation: {posts} creates of a {len(body) / 1000:.1f} KB CarePlan over HTTP")
        samples: list[Sample] = []
        errors = 0
        for _ in range(posts):
            start = time.perf_counter()
            response = await http.post("/CarePlan", content=body, headers=headers)
            latency = (time.perf_counter() - start) * 1000
            if response.status_code != 201:
                errors += 1
                if errors == 1:
                    notes.append(
                        f"first failed create: {response.status_code} {response.text[:200]}"
                    )
                continue
            metrics = server_timing(response.headers.get("server-timing"))
            samples.append(Sample(latency, metrics.get("validate"), metrics.get("total")))
    if samples and all(s.validate_ms is None for s in samples):
        notes.append(
            "the server sent no Server-Timing validate metric: start it with "
            "FHIRCARE_SERVER_TIMING=true"
        )
    return ServerRow.of(samples, errors, len(body) / 1000), notes


# --- the section -----------------------------------------------------------------


@dataclass(frozen=True)
class ValidationSection:
    heading: str
    rows: list[EngineRow]
    server: ServerRow | None
    notes: list[str]


async def validation_section(
    base_url: str | None,
    progress: Progress,
    *,
    posts: int = DEFAULT_POSTS,
    rounds: int = ROUNDS,
) -> ValidationSection:
    """The in-process rows, and the server's own timing when ``base_url`` is given."""
    examples = example_resources()
    plan = large_care_plan(examples)
    unclaimed = {**plan, "meta": {k: v for k, v in plan.get("meta", {}).items() if k != "profile"}}
    corpora = [
        Corpus.of(f"examples ({len(examples)} resources)", examples),
        Corpus.of("large CarePlan, claiming fhircare-careplan", [plan]),
        Corpus.of("large CarePlan, claiming none", [unclaimed]),
    ]
    rows = in_process_rows(corpora, progress, rounds)
    server = None
    notes = [
        "µs/KB: microseconds per 1,000 bytes of compact JSON, best of "
        f"{rounds} rounds of {ROUND_SECONDS:g} s; a write runs 'validate' once per resource.",
        f"building the profile set of profiles/ (at start, and on every change to a "
        f"StructureDefinition, ValueSet or CodeSystem): {profile_set_build_ms():.1f} ms "
        "(median of 5, after a first build)",
    ]
    if base_url:
        try:
            server, more = await server_row(base_url, posts, progress)
            notes += more
        except (httpx.HTTPError, RuntimeError) as exc:
            notes.append(f"over HTTP: skipped after {type(exc).__name__}: {exc}")
    return ValidationSection("Validation", rows, server, notes)


ENGINE_COLUMNS = [
    ("corpus", "<"),
    ("measured", "<"),
    ("KB", ">"),
    ("µs/KB", ">"),
    ("µs/resource", ">"),
]
SERVER_COLUMNS = [
    ("", "<"),
    ("mean ms", ">"),
    ("p50 ms", ">"),
    ("share of latency (mean)", ">"),
    ("(p50)", ">"),
]


def fmtratio(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render_validation(section: ValidationSection) -> str:
    """The section as text: the in-process table, then the server's own timing."""
    body = [
        [
            row.corpus,
            row.measured,
            fmt_number(row.kb, 1),
            fmt_number(row.us_per_kb, 1),
            fmt_number(row.us_per_resource, 1),
        ]
        for row in section.rows
    ]
    lines = [section.heading]
    if body:
        lines += ["", fixed_width(ENGINE_COLUMNS, [("", 5)], body).lstrip("\n")]
    server = section.server
    if server is not None:
        lines += [
            "",
            f"creates of a {server.body_kb:.1f} KB CarePlan over HTTP, concurrency 1: "
            f"{server.requests:,} requests, {server.errors} errors",
            fixed_width(
                SERVER_COLUMNS,
                [("", 5)],
                [
                    _server_cells("client latency", server.latency, server.latency),
                    _server_cells("server total", server.server_total, server.latency),
                    _server_cells("server validate", server.validate, server.latency),
                ],
            ).lstrip("\n"),
        ]
    return "\n".join([*lines, *section.notes])


def _server_cells(label: str, spread: Spread, latency: Spread) -> list[str]:
    return [
        label,
        fmt_number(spread.mean, 3),
        fmt_number(spread.p50, 3),
        fmtratio(ratio(spread.mean, latency.mean)),
        fmtratio(ratio(spread.p50, latency.p50)),
    ]


def validation_json(section: ValidationSection) -> dict[str, Any]:
    """The section as JSON-ready data, with its rendered text."""
    server = section.server
    return {
        "heading": section.heading,
        "in_process": [
            {
                "corpus": row.corpus,
                "measured": row.measured.strip(),
                "resources": row.resources,
                "kb": row.kb,
                "us_per_kb": row.us_per_kb,
                "us_per_resource": row.us_per_resource,
            }
            for row in section.rows
        ],
        "server": None
        if server is None
        else {
            "requests": server.requests,
            "errors": server.errors,
            "body_kb": server.body_kb,
            "latency_ms": vars(server.latency),
            "server_total_ms": vars(server.server_total),
            "validate_ms": vars(server.validate),
            "validate_share_of_latency": {"mean": server.share_mean, "p50": server.share_p50},
        },
        "notes": section.notes,
        "table": render_validation(section),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.validation_bench``: the in-process rows; the table to stdout, the
    JSON under ``bench/results/``."""
    import asyncio
    import json
    import shlex
    import sys
    from datetime import UTC, datetime

    def progress(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    command = shlex.join([".venv/bin/python", "-m", "bench.validation_bench", *(argv or [])])
    section = asyncio.run(validation_section(None, progress))
    print(render_validation(section))
    print(f"command: {command}")
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(parents=True, exist_ok=True)
    saved = results / f"validation-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    saved.write_text(json.dumps({**validation_json(section), "command": command}, indent=1))
    progress(f"saved {saved}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
