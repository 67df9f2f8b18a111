"""The inputs of ``$worklist`` as the worklist uses them, and the query that asks for the
same again (the ``self`` and ``next`` links).

The inputs are declared once (``INPUTS``, in the order of the OperationDefinition in
``profiles/``); ``interactions/operation_inputs.py`` checks a request against them, so a
malformed or unknown one is 400 naming it before anything here runs. What is left here:
``_count`` below 0 is 400 (above ``Limits.max_count`` it is lowered to it, as in search),
and ``asOf`` becomes an instant: a date or dateTime means its first instant (a date
without a zone is UTC, as search reads it); without it, now. Paging links carry the
instant that was used, so every page of one walk is computed for the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fhircare.fhir import errors
from fhircare.fhir.ids import format_instant, now
from fhircare.interactions.operation_inputs import Input, Inputs
from fhircare.interactions.paging import CURSOR
from fhircare.interactions.request import Context, FhirRequest
from fhircare.search.normalize import date_range

ENDING_WITHIN_DAYS = 14
INACTIVE_DAYS = 30
REFERRAL_DAYS = 14

INPUTS = (
    Input("_count", "integer", "Entries per page (default and maximum: the server's page sizes)"),
    Input(
        "asOf",
        "dateTime",
        "The moment the worklist is computed for (a date means its start, UTC); default now",
    ),
    Input(
        "endingWithinDays",
        "positiveInt",
        f"List active care plans whose period ends within this many days (default "
        f"{ENDING_WITHIN_DAYS})",
    ),
    Input(
        "inactiveDays",
        "positiveInt",
        f"List active care plans with no change to them or their tasks in this many days "
        f"(default {INACTIVE_DAYS})",
    ),
    Input(
        "referralDays",
        "positiveInt",
        f"List referrals still without a result this many days after they were authored "
        f"(default {REFERRAL_DAYS})",
    ),
)


@dataclass(frozen=True)
class WorklistParams:
    """The page size, the moment (``as_of``, and ``as_of_text`` as links carry it), the
    three periods in days and the paging cursor of the request (None on a first page)."""

    count: int
    as_of: datetime
    as_of_text: str
    ending_within_days: int = ENDING_WITHIN_DAYS
    inactive_days: int = INACTIVE_DAYS
    referral_days: int = REFERRAL_DAYS
    cursor: str | None = None

    @property
    def ending_by(self) -> datetime:
        """Plans ending at or before this are ending soon."""
        return self.as_of + timedelta(days=self.ending_within_days)

    @property
    def active_since(self) -> datetime:
        """A change at or after this counts as recent activity on a plan."""
        return self.as_of - timedelta(days=self.inactive_days)

    @property
    def referred_before(self) -> datetime:
        """A referral authored before this should have a result by now."""
        return self.as_of - timedelta(days=self.referral_days)


def worklist_params(context: Context, request: FhirRequest, inputs: Inputs) -> WorklistParams:
    """The parameters of ``request`` from its checked ``inputs`` (and the ``_cursor``)."""
    count = inputs.value("_count")
    if count is None:
        count = context.limits.default_count
    elif count < 0:
        raise errors.invalid(f"_count must be 0 or more, not {count}", _where(inputs, "_count"))
    given = inputs.value("asOf")
    if given is None:
        as_of = now()
        as_of_text = format_instant(as_of)
    else:
        as_of, as_of_text = date_range(given)[0], given
    return WorklistParams(
        count=min(count, context.limits.max_count),
        as_of=as_of,
        as_of_text=as_of_text,
        ending_within_days=inputs.value("endingWithinDays", ENDING_WITHIN_DAYS),
        inactive_days=inputs.value("inactiveDays", INACTIVE_DAYS),
        referral_days=inputs.value("referralDays", REFERRAL_DAYS),
        cursor=request.param(CURSOR) or None,
    )


def link_query(params: WorklistParams, cursor: str | None) -> list[tuple[str, str]]:
    """The query that asks for the same worklist, at ``cursor``, for the same moment."""
    pairs = [
        ("_count", str(params.count)),
        ("asOf", params.as_of_text),
        ("endingWithinDays", str(params.ending_within_days)),
        ("inactiveDays", str(params.inactive_days)),
        ("referralDays", str(params.referral_days)),
    ]
    if cursor is not None:
        pairs.append((CURSOR, cursor))
    return pairs


def _where(inputs: Inputs, name: str) -> str:
    given = inputs.one(name)
    return name if given is None else given.where
