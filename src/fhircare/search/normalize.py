"""Normalisation shared by indexing (write time) and query building (read time).

https://hl7.org/fhir/R4/search.html#ptypes. Both sides must fold strings, widen dates and
numbers to ranges and normalise references the same way, so these helpers live here once.
Bad input raises a 400 ``FhirError`` (``errors.invalid``): a query gets the right answer and
the extractors turn it into a logged warning.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from fhircare.fhir import errors
from fhircare.fhir.ids import ID_PATTERN

MIN_DATE = datetime.min.replace(tzinfo=UTC)
MAX_DATE = datetime.max.replace(tzinfo=UTC)
"""The open ends of a Period (and the clamp for ranges that fall off the calendar)."""

_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TYPE = r"[A-Z][A-Za-z]{1,63}"
_ID = ID_PATTERN.pattern
_RELATIVE = re.compile(rf"(?P<ty>{_TYPE})/(?P<id>{_ID})(?:/_history/{_ID})?")
_ABSOLUTE_TAIL = re.compile(rf".+/(?P<ty>{_TYPE})/{_ID}(?:/_history/{_ID})?")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded, white
    space collapsed ("Zoë  Smith" → "zoe smith"). https://hl7.org/fhir/R4/search.html#string"""
    if text.isascii():  # the same result, without a look at each character: most text is ASCII
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(kept.split())


def date_range(text: str) -> tuple[datetime, datetime]:
    """The UTC instants [lo, hi) a date, dateTime or instant covers at its precision.

    https://hl7.org/fhir/R4/search.html#date: ``2026`` is the whole year, ``2026-03`` the
    month, ``…T09:30:00.031Z`` one millisecond (precision below a microsecond is one
    microsecond). A value without a zone (every date, and a dateTime written without one) is
    taken as UTC. Ranges are clamped to [``MIN_DATE``, ``MAX_DATE``].
    """
    match = _DATE.fullmatch(text)
    if match is None:
        raise _bad(text, "date, dateTime or instant")
    g = match.groupdict()
    try:
        year, month, day = int(g["y"]), int(g["m"] or 1), int(g["d"] or 1)
        if g["H"] is None:
            lo = datetime(year, month, day, tzinfo=UTC)
            if g["m"] is None:
                return lo, _shifted(lo, years=1)
            if g["d"] is None:
                return lo, _shifted(lo, months=1)
            return lo, _shifted(lo, step=timedelta(days=1))
        fraction = g["f"] or ""
        micro = int((fraction + "000000")[:6])
        local = datetime(year, month, day, int(g["H"]), int(g["M"]), int(g["S"] or 0), micro)
        if g["S"] is None:
            step = timedelta(minutes=1)
        elif not fraction:
            step = timedelta(seconds=1)
        else:
            step = timedelta(microseconds=10 ** max(0, 6 - len(fraction)))
        offset = _offset(g["tz"])
    except ValueError:
        raise _bad(text, "date, dateTime or instant") from None
    lo = _shifted(local.replace(tzinfo=UTC), step=-offset, floor=offset > timedelta(0))
    return lo, _shifted(lo, step=step)


def decimal_text(value: Any) -> str:
    """The text of a JSON number as written (``JsonNumber`` keeps it), for significant digits;
    a string is not a number here (FHIRPath gives numbers for decimal and integer elements)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _bad(repr(value)[:80], "number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _bad(repr(value), "number")
        return repr(value)
    return str(value)


def number_range(text: str) -> tuple[float, float, float]:
    """``(lo, hi, value)`` as floats: the range implied by the significant digits written.

    https://hl7.org/fhir/R4/search.html#number: half a unit of the last significant digit
    either side, so ``100`` → [99.5, 100.5), ``7.00`` → [6.995, 7.005), ``1e2`` (one
    significant figure) → [50, 150) and ``1.0e2`` → [95, 105).
    """
    number = _decimal(text)
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # _decimal only returns finite numbers
    half = Decimal((0, (5,), exponent - 1))
    with localcontext() as ctx:
        ctx.prec = len(digits) + 4
        lo, hi = number - half, number + half
    floats = (float(lo), float(hi), float(number))
    if not all(math.isfinite(f) for f in floats):
        raise _bad(text, "number within the range of a double")
    return floats


def canonical_number(text: str) -> str:
    """A decimal's value without trailing zeros or exponent (``8.10`` and ``81e-1`` → ``8.1``)."""
    number = _decimal(text)
    if number.is_zero():
        return "0"
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    kept = list(digits)
    while kept and kept[-1] == 0:
        kept.pop()
        exponent += 1
    return format(Decimal((sign, tuple(kept), exponent)), "f")


def split_canonical(text: str) -> tuple[str, str | None]:
    """``url|version`` → (url, version). https://hl7.org/fhir/R4/references.html#canonical"""
    url, bar, version = text.partition("|")
    return url, (version or None) if bar else None


def reference_key(text: str, base_url: str | None) -> tuple[str, str | None]:
    """``(r, ty)`` for a literal reference: ``Type/id`` (``_history`` dropped, this server's
    absolute URLs made relative), else the reference as written (other servers' URLs,
    ``#id``, ``urn:uuid:``); ``ty`` is the type segment when there is one.
    https://hl7.org/fhir/R4/references.html#literal
    """
    if not text or "\x00" in text or any(ch.isspace() for ch in text):
        raise _bad(text, "reference")
    local = text
    if base_url:
        base = base_url.rstrip("/") + "/"
        if text.startswith(base):
            local = text[len(base) :]
    relative = _RELATIVE.fullmatch(local)
    if relative is not None:
        return f"{relative['ty']}/{relative['id']}", relative["ty"]
    absolute = _ABSOLUTE_TAIL.fullmatch(text) if "://" in text else None
    return text, absolute["ty"] if absolute is not None else None


def composite_part(param_type: str, raw: str) -> str:
    """One equality component of a composite query value (token, string, reference, uri),
    normalised as ``extract/composite.py`` writes it in ``k``: strings folded, others as
    given. Ordered components (number, quantity, date) are compared by range instead."""
    if param_type == "string":
        return fold(raw)
    return raw


def _decimal(text: str) -> Decimal:
    if _NUMBER.fullmatch(text) is None:
        raise _bad(text, "number")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _bad(text, "number") from None
    return number


def _offset(zone: str | None) -> timedelta:
    if zone is None or zone == "Z":
        return timedelta(0)
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 14 or minutes > 59:
        raise ValueError(zone)
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if zone[0] == "-" else offset


def _shifted(
    moment: datetime,
    *,
    years: int = 0,
    months: int = 0,
    step: timedelta = timedelta(0),
    floor: bool = False,
) -> datetime:
    """``moment`` moved forward, clamped to ``MAX_DATE`` (or ``MIN_DATE`` when ``floor``)."""
    try:
        if years or months:
            total = moment.year * 12 + moment.month - 1 + years * 12 + months
            return moment.replace(year=total // 12, month=total % 12 + 1)
        return moment + step
    except (OverflowError, ValueError):
        return MIN_DATE if floor else MAX_DATE


def _bad(text: str, kind: str) -> errors.FhirError:
    return errors.invalid(f"'{text[:80]}' is not a valid {kind}")
