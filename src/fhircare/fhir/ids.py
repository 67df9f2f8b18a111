"""Resource ids, version ids and instants. https://hl7.org/fhir/R4/datatypes.html#id"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fhircare.fhir import errors

ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_INSTANT = re.compile(
    r"(?P<date>\d{4}(-\d{2}(-\d{2})?)?)"
    r"(T(?P<time>\d{2}:\d{2}(:\d{2}(\.\d+)?)?)(?P<tz>Z|[+-]\d{2}:\d{2})?)?"
)


def is_valid_id(value: str) -> bool:
    return ID_PATTERN.fullmatch(value) is not None


def require_valid_id(value: str, expression: str = "id") -> str:
    if not is_valid_id(value):
        raise errors.invalid(
            f"'{value[:80]}' is not a valid FHIR id ([A-Za-z0-9-.]{{1,64}})", expression
        )
    return value


def new_id() -> str:
    """Server-assigned ids are random UUIDs: unguessable and unique without coordination."""
    return str(uuid.uuid4())


def now() -> datetime:
    """The current UTC time truncated to milliseconds, the precision of a stored instant."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def format_instant(moment: datetime) -> str:
    """``2026-11-29T14:38:09.238Z``: UTC with milliseconds."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_instant(value: str, parameter: str) -> datetime:
    """Parse a FHIR date/dateTime/instant as the earliest moment it denotes (UTC if no zone)."""
    match = _INSTANT.fullmatch(value)
    if match is None:
        raise errors.invalid(f"{parameter}: '{value[:80]}' is not a valid instant", parameter)
    text = value.replace("Z", "+00:00")
    try:
        if match.group("time") is None:
            parts = [int(p) for p in match.group("date").split("-")] + [1, 1]
            return datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
        if match.group("time").count(":") == 1:
            text = text.replace(match.group("time"), match.group("time") + ":00", 1)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise errors.invalid(
            f"{parameter}: '{value[:80]}' is not a valid instant", parameter
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_http_date(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_etag(value: str) -> int | None:
    """``W/"3"`` or ``"3"`` → 3; anything else (also ``²`` or a number past 64 bits, which
    ``int`` or the store would choke on) → None."""
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def etag(version: int) -> str:
    return f'W/"{version}"'
