"""``$worklist``: what needs a care manager's attention, as one ordered list.

``GET|POST [base]/Practitioner/[id]/$worklist`` (and on ``PractitionerRole/[id]`` and
``CareTeam/[id]``) answers a ``searchset`` Bundle of the resources that need the subject's
attention, each once (``search.mode`` ``match``), with why (below). Whose work counts is
the subject's scope (``worklist/scope.py``): a practitioner, their PractitionerRoles and
the CareTeams listing either; a role and its care teams; or a care team. What is listed,
for the moment ``asOf`` (default now):

- ``overdue-task``/``open-task``: Tasks they own (``Task.owner``) in an open status
  (requested, received, accepted, ready, in-progress, on-hold; not draft, which is not
  ready to act on, nor a final one); overdue when ``restriction.period.end`` is past.
- ``goal-overdue``/``goal-not-achieving``: open Goals (lifecycle proposed, planned,
  accepted, active, on-hold) of the subjects of the plans below, with a
  ``target.dueDate`` past and not achieved/sustaining, or an ``achievementStatus`` of
  worsening, no-progress, not-achieved or not-attainable.
- ``plan-ending``/``plan-inactive``: active CarePlans whose ``careTeam`` is one of their
  care teams, or whose ``author`` or a ``contributor`` is in the scope; ending when
  ``period.end`` is at most ``endingWithinDays`` (14) after ``asOf`` (overdue once
  past); inactive when the plan itself and the Tasks linked to it (``basedOn`` or
  ``focus`` the plan, or named in its ``activity.reference``) all last changed
  (``meta.lastUpdated``: a new version stored) more than ``inactiveDays`` (30) before
  ``asOf``.
- ``unanswered-message``: Communications they are a ``recipient`` of, sent (not in
  preparation, not-done or entered-in-error) by someone outside the scope, that no sent
  Communication answers (``inResponseTo``); a reply is due from when it was received.
- ``message-to-send``: active CommunicationRequests (R4 request-status ``active``; not
  draft, on-hold or a final one; not ``doNotPerform``) whose ``sender``, who is asked to
  send the message ("call the patient about the rehab reminder"), is the practitioner or
  one of their roles (the role, for a role), that no ``completed`` Communication
  ``basedOn`` it fulfils yet (one ``in-progress`` has not gone out whole). Only ``sender``
  counts: the ``recipient`` receives the message and has nothing to do yet; and R4 allows
  no CareTeam as a sender, so a care team's own worklist has none. Due at the end of
  ``occurrence[x]``; with no ``occurrence[x]``, from ``authoredOn`` (asked, so due now);
  an ``occurrencePeriod`` without an ``end`` has no due date.
- ``referral-without-result``: active referral ServiceRequests (``worklist/collect.py``
  says which codes and intents) they requested, or that an open Task they own is based
  on or focuses on, authored more than ``referralDays`` (14) ago, with no result: no
  completed Task for it, and no DiagnosticReport, Observation, Encounter or sent
  Communication ``basedOn`` it.

Each entry's ``search.extension`` holds one ``urn:fhircare:StructureDefinition:worklist-reason``
extension per reason (``code``, ``text``, and ``due`` when it has a date; see
``worklist/rules.py``). A reason is overdue when its due date is wholly before ``asOf``:
a task's ``restriction.period.end``, a goal's target date, a plan's end, the day a plan
turned inactive (its ``meta.lastUpdated`` plus ``inactiveDays``), a message's receipt, a
requested message's ``occurrence[x]`` end (else ``authoredOn``), or a referral's
``authoredOn`` plus ``referralDays``. Entries are ordered overdue first, then
those with a due date, then the rest; by due date within each (an overdue entry by its
earliest overdue reason) and by ``Type/id`` last. ``total`` counts them all.

Paging: ``_count`` entries per page (default and maximum from the server's page sizes);
``self`` and ``next`` are GET links carrying every parameter, ``asOf`` as the instant the
first page used, and an opaque ``_cursor`` (the store watermark and the last entry's
place in the order). Every query of every page runs at the first page's watermark, so
a walk of the ``next`` links lists each entry once; a resource created after the first
page is on none, and one whose due date changes during the walk may move past the cursor.

One page costs, whichever page it is: a read of the subject by key (404 when it never
existed, 410 when deleted), the scope (one query for a PractitionerRole, two for a
Practitioner, none for a CareTeam) and the three stages of ``worklist/collect.py``, one
type-level query per type a stage asks, run concurrently (the second stage only when the
first found something to follow up, the third only when the second found referrals): at
most one read and fifteen queries (2 + 4 + 4 + 5), each on indexed search parameters,
never a scan of a type, however large the store. A query that would read more than
``Limits.max_included`` resources is 400 ``too-costly``.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fhircare.care.operation import CareOperation, fhircare_definition
from fhircare.care.worklist.collect import collect
from fhircare.care.worklist.params import INPUTS, WorklistParams, link_query, worklist_params
from fhircare.care.worklist.queries import Reader
from fhircare.care.worklist.rules import Item, Place, place
from fhircare.care.worklist.scope import scope_of
from fhircare.fhir import bundles, errors
from fhircare.interactions.current import live_version
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.search import sort_values

NAME = "$worklist"


async def worklist(context: Context, request: FhirRequest) -> FhirResponse:
    params = worklist_params(context, request, OPERATION.inputs_of(context, request))
    resource_type, id = str(request.resource_type), str(request.id)
    watermark, after = _position(params.cursor)
    await live_version(context, resource_type, id)
    reader = Reader(context, watermark)
    scope = await scope_of(reader, resource_type, id)
    found = await collect(reader, scope, params, request.base_url or None)
    items = sorted(found, key=Item.place)
    later = [i for i in items if after is None or i.place() > after]
    page = later[: params.count]
    next_cursor = None
    if len(later) > len(page) and page and reader.watermark is not None:
        last = page[-1]
        values = (float(last.rank), last.due)
        next_cursor = sort_values.cursor(reader.watermark, values, last.record.key)
    base = request.base_url
    path = f"{base}/{resource_type}/{id}/{NAME}"
    links = [("self", _link(path, params, params.cursor))]
    if next_cursor is not None:
        links.append(("next", _link(path, params, next_cursor)))
    entries = [_entry(base, item) for item in page]
    return FhirResponse(200, bundles.bundle("searchset", entries, links, len(items)))


def _position(cursor: str | None) -> tuple[int | None, Place | None]:
    """The watermark and the place of the last entry shown (None, None on a first page)."""
    if cursor is None:
        return None, None
    try:
        watermark, (rank, due), key = sort_values.parse_cursor(cursor, 2)
    except sort_values.BadCursor as error:
        raise errors.invalid(
            f"_cursor is not a paging cursor of {NAME} ({error})", "_cursor"
        ) from None
    if not isinstance(rank, float) or rank not in (0.0, 1.0, 2.0):
        raise errors.invalid(f"_cursor is not a paging cursor of {NAME}", "_cursor")
    if not (due is None or isinstance(due, datetime)):
        raise errors.invalid(f"_cursor is not a paging cursor of {NAME}", "_cursor")
    return watermark, place(int(rank), due, key)


def _entry(base_url: str, item: Item) -> bytes:
    version = item.record.version
    fields = {
        "fullUrl": f"{base_url}/{version.resource_type}/{version.id}",
        "search": {"mode": "match", "extension": [r.extension() for r in item.reasons]},
    }
    return bundles.entry(fields, version.body)


def _link(path: str, params: WorklistParams, cursor: str | None) -> str:
    return f"{path}?{urlencode(link_query(params, cursor))}"


OPERATION = CareOperation(
    name="worklist",
    types=("Practitioner", "PractitionerRole", "CareTeam"),
    definition=fhircare_definition("worklist"),
    summary="Open work that needs attention: tasks, goals, plans, messages, referrals",
    inputs=INPUTS,
    handler=worklist,
    output="Bundle",
)
