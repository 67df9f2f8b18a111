"""What a remote's failures mean: the errors the sync engine sees, which failures are worth
another attempt, and how long to wait before it.

Waits use full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)
unless the remote says how long with ``Retry-After`` (RFC 9110 section 10.2.3).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses that say "not now" rather than "not this": a later attempt may succeed."""

RETRYABLE_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError, httpx.DecodingError)
"""Timeouts, refused or dropped connections (also mid-body), and a body that would not
decode (a truncated gzip stream)."""


class RemoteError(Exception):
    """A request to a remote FHIR server failed; the message names the method, URL and cause."""

    def __init__(self, method: str, url: str, cause: str) -> None:
        super().__init__(f"{method} {url}: {cause}")
        self.method = method
        self.url = url


class RemoteRejected(RemoteError):
    """The remote refused the request with a status the caller did not accept and that
    another attempt would not change: a 4xx other than 408 and 429 (or a 3xx, a 501)."""

    def __init__(
        self, method: str, url: str, status: int, outcome: dict[str, Any] | None, diagnostics: str
    ) -> None:
        super().__init__(method, url, f"{status} {diagnostics}".rstrip())
        self.status = status
        self.outcome = outcome
        self.diagnostics = diagnostics


class RemoteUnavailable(RemoteError):
    """The remote kept failing in a way worth retrying (429, 5xx, 408, timeouts, dropped
    connections, malformed bodies) after every retry the remote's configuration allows."""

    def __init__(self, method: str, url: str, reason: str, retries: int) -> None:
        super().__init__(method, url, f"{reason} (gave up after {retries} retries)")
        self.reason = reason
        self.retries = retries


class Transient(Exception):
    """One attempt failed in a way worth another; internal to the retry loop."""

    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def backoff(attempt: int, base: float, cap: float, random: Callable[[], float]) -> float:
    """Full jitter: anywhere up to ``base * 2**attempt`` seconds, never above ``cap``
    (``attempt`` counts from 0 for the first retry)."""
    return random() * min(cap, base * 2.0**attempt)


def retry_after(
    value: str | None, cap: float, now: Callable[[], float] = time.time
) -> float | None:
    """The wait a ``Retry-After`` header asks for, in delay-seconds or as an HTTP date,
    clamped to ``[0, cap]``; ``None`` when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - now()
    return min(cap, max(0.0, seconds))


def diagnostics(outcome: dict[str, Any] | None, text: str) -> str:
    """What an error body says: an OperationOutcome's issue diagnostics (or details.text),
    an OAuth error's description, else the body's first 300 characters."""
    if outcome is not None and outcome.get("resourceType") == "OperationOutcome":
        said = []
        for issue in outcome.get("issue") or []:
            if not isinstance(issue, dict):
                continue
            details = issue.get("details")
            detail_text = details.get("text") if isinstance(details, dict) else None
            message = issue.get("diagnostics") or detail_text
            if message:
                said.append(str(message))
        if said:
            return "; ".join(said)
    if outcome is not None and isinstance(outcome.get("error"), str):
        description = outcome.get("error_description")
        return f"{outcome['error']}: {description}" if description else outcome["error"]
    return text[:300]
