"""A sync run's report: what moved, what did not and why, saved in the store."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_ERRORS = 200


def run_id() -> str:
    """Sortable by start time: ``20261207T101500Z-3f2a``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(2)


@dataclass
class RunReport:
    """Counts per outcome; ``errors`` name the resource, the field where known, and the
    other side's diagnostics."""

    remote: str
    direction: str
    dry_run: bool = False
    id: str = field(default_factory=run_id)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished: str | None = None
    seconds: float = 0.0
    status: str = "running"
    pulled: int = 0
    pushed: int = 0
    deleted: int = 0
    skipped: int = 0
    conflicted: int = 0
    failed: int = 0
    retries: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    _clock: float = field(default_factory=time.monotonic, repr=False)

    def error(self, resource: str, diagnostics: str, side: str, field_path: str = "") -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS:
            entry = {"resource": resource, "side": side, "diagnostics": diagnostics[:1000]}
            if field_path:
                entry["field"] = field_path
            self.errors.append(entry)

    def finish(self, status: str) -> None:
        self.status = status
        self.finished = datetime.now(UTC).isoformat()
        self.seconds = round(time.monotonic() - self._clock, 3)

    @property
    def moved(self) -> int:
        return self.pulled + self.pushed + self.deleted

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_clock")
        return out

    def summary(self) -> str:
        return (
            f"{self.remote} {self.direction}: {self.pulled} pulled, {self.pushed} pushed, "
            f"{self.deleted} deleted, {self.skipped} unchanged, {self.conflicted} conflicts, "
            f"{self.failed} failed in {self.seconds:.1f} s ({self.status})"
        )
