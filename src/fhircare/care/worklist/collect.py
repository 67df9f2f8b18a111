"""The worklist's three query stages, and the items they give.

Each stage asks several types, one type-level query each (``worklist/queries.py``); a
stage asks only what the one before found, and is skipped when that is nothing. With
``O`` the scope's owners, ``P`` its people (``worklist/scope.py``) and ``asOf`` the moment:

1. ``Task?owner=O&status=<open>`` (``worklist_rules.OPEN_TASK``);
   ``CarePlan?status=active`` with ``care-team=`` its teams, or ``author=O``, or
   ``contributor=O`` (fhircare's own parameters);
   ``Communication?recipient=O&status:not=<unsent>``; and
   ``CommunicationRequest?sender=P&status=active`` (the messages they are asked to send;
   R4 allows no CareTeam as ``sender``, so a team's own worklist asks none).
2. ``Goal?subject=<the plans' subjects>&lifecycle-status=<open>`` with
   ``target-date=eb<asOf>`` or ``achievement-status=<not achieving>``;
   ``Task?_lastUpdated=ge<asOf - inactiveDays>`` with ``based-on=`` or ``focus=`` a plan
   that did not change itself since then, or ``_id=`` a Task such a plan's
   ``activity.reference`` names (the plans' linked Tasks that changed);
   ``Communication?status:not=<unsent>`` with ``in-response-to=`` a received one (the
   replies) or ``based-on=`` a request (of which a ``completed`` one fulfils it:
   ``worklist_rules.FULFILLED``);
   ``ServiceRequest?status=active&intent=<plan, order and its kinds>&authored=eb<asOf -
   referralDays>`` with ``category=`` or ``code=`` a referral code, and ``requester=P``
   or ``_id=`` a ServiceRequest an open task of theirs is ``basedOn`` or ``focus``es.
3. The referrals' results: a completed ``Task`` whose ``based-on`` or ``focus`` is one of
   them, or a ``DiagnosticReport``, ``Observation``, ``Encounter`` or ``Communication``
   ``based-on`` one, unless it says it is void or not (yet) a result: DiagnosticReport and
   Observation neither registered, cancelled nor entered-in-error; Encounter neither
   planned, cancelled nor entered-in-error; Communication sent (``UNSENT``).

A referral is a ServiceRequest coded SNOMED CT 3457005 (Patient referral, as the examples
code theirs) or 306206005 (Referral to service) in ``category`` or ``code``.
"""

from __future__ import annotations

from fhircare.care.worklist.params import WorklistParams
from fhircare.care.worklist.queries import Ask, Reader, Record
from fhircare.care.worklist.rules import (
    FULFILLED,
    NOT_ACHIEVING,
    OPEN_GOAL,
    OPEN_TASK,
    UNSENT,
    Item,
    Reason,
    goal_reasons,
    listed,
    message_reasons,
    plan_reasons,
    reference_keys,
    referral_reasons,
    request_reasons,
    task_reasons,
)
from fhircare.care.worklist.scope import Scope
from fhircare.fhir.ids import format_instant

REFERRAL_CODES = "http://snomed.info/sct|3457005,http://snomed.info/sct|306206005"
REFERRAL_INTENTS = "plan,order,original-order,reflex-order,filler-order,instance-order"
COMMUNICATION = "Communication"
COMMUNICATION_REQUEST = "CommunicationRequest"
SERVICE_REQUEST = "ServiceRequest"
TASK = "Task"


async def collect(
    reader: Reader, scope: Scope, params: WorklistParams, base_url: str | None
) -> list[Item]:
    """Every item of the worklist of ``scope``, unordered."""
    first = await reader.ask(_first_stage(scope))
    tasks, plans = first[TASK], first["CarePlan"]
    requested = first.get(COMMUNICATION_REQUEST, [])
    received = [
        m
        for m in first[COMMUNICATION]
        if not reference_keys(listed(m.resource.get("sender")), base_url) & set(scope.owners)
    ]
    stale = [p for p in plans if p.version.last_updated < params.active_since]
    asked_for = {
        key
        for t in tasks
        for key in reference_keys(
            [*listed(t.resource.get("basedOn")), *listed(t.resource.get("focus"))], base_url
        )
        if key.startswith(f"{SERVICE_REQUEST}/")
    }
    second = await reader.ask(
        [
            ask
            for ask in (
                _goals(plans, params, base_url),
                _activity(stale, params, base_url),
                _messages(received, requested),
                _referrals(scope, params, asked_for),
            )
            if ask is not None
        ]
    )
    referrals = second.get(SERVICE_REQUEST, [])
    results = await reader.ask(_results([r.key for r in referrals]))
    items = [_item(t, task_reasons(t.resource, params.as_of)) for t in tasks]
    touched = _touched(stale, second.get(TASK, []), base_url)
    items += [_item(p, plan_reasons(p, params, p.key in touched)) for p in plans]
    items += [_item(g, goal_reasons(g.resource, params.as_of)) for g in second.get("Goal", [])]
    messages = second.get(COMMUNICATION, [])
    replied = _pointed_at(messages, ("inResponseTo",), base_url)
    items += [
        _item(m, message_reasons(m.resource, params.as_of))
        for m in received
        if m.key not in replied
    ]
    sent = [m for m in messages if m.resource.get("status") == FULFILLED]
    fulfilled = _pointed_at(sent, ("basedOn",), base_url)
    items += [
        _item(r, request_reasons(r.resource, params.as_of))
        for r in requested
        if r.key not in fulfilled
    ]
    reports = [r for kind, found in results.items() if kind != TASK for r in found]
    answered = _pointed_at(results.get(TASK, []), ("basedOn", "focus"), base_url)
    answered |= _pointed_at(reports, ("basedOn",), base_url)
    items += [
        _item(r, referral_reasons(r.resource, params)) for r in referrals if r.key not in answered
    ]
    return [item for item in items if item.reasons]


def _first_stage(scope: Scope) -> list[Ask]:
    owners = ",".join(scope.owners)
    plan_scope: list[tuple[str, str]] = [("author", owners), ("contributor", owners)]
    if scope.teams:
        plan_scope.insert(0, ("care-team", ",".join(scope.teams)))
    asks = [
        Ask(TASK, (("owner", owners), ("status", ",".join(OPEN_TASK)))),
        Ask("CarePlan", (("status", "active"),), (tuple(plan_scope),)),
        Ask(COMMUNICATION, (("recipient", owners), ("status:not", ",".join(UNSENT)))),
    ]
    if scope.people:
        people = ",".join(scope.people)
        asks.append(Ask(COMMUNICATION_REQUEST, (("sender", people), ("status", "active"))))
    return asks


def _goals(plans: list[Record], params: WorklistParams, base_url: str | None) -> Ask | None:
    subjects = sorted(
        key for p in plans for key in reference_keys(listed(p.resource.get("subject")), base_url)
    )
    if not subjects:
        return None
    return Ask(
        "Goal",
        (("subject", ",".join(subjects)), ("lifecycle-status", ",".join(OPEN_GOAL))),
        (
            (
                ("target-date", f"eb{format_instant(params.as_of)}"),
                ("achievement-status", ",".join(NOT_ACHIEVING)),
            ),
        ),
    )


def _activity(stale: list[Record], params: WorklistParams, base_url: str | None) -> Ask | None:
    if not stale:
        return None
    plans = ",".join(p.key for p in stale)
    linked = [("based-on", plans), ("focus", plans)]
    named = sorted(
        key.split("/", 1)[1]
        for p in stale
        for key in _activity_references(p, base_url)
        if key.startswith(f"{TASK}/")
    )
    if named:
        linked.append(("_id", ",".join(named)))
    since = ("_lastUpdated", f"ge{format_instant(params.active_since)}")
    return Ask(TASK, (since,), (tuple(linked),))


def _messages(received: list[Record], requested: list[Record]) -> Ask | None:
    """The sent Communications that answer a received one or are based on a request."""
    links = []
    if received:
        links.append(("in-response-to", ",".join(m.key for m in received)))
    if requested:
        links.append(("based-on", ",".join(r.key for r in requested)))
    if not links:
        return None
    return Ask(COMMUNICATION, (("status:not", ",".join(UNSENT)),), (tuple(links),))


def _referrals(scope: Scope, params: WorklistParams, asked_for: set[str]) -> Ask | None:
    who = []
    if scope.people:
        who.append(("requester", ",".join(scope.people)))
    if asked_for:
        who.append(("_id", ",".join(sorted(k.split("/", 1)[1] for k in asked_for))))
    if not who:
        return None
    return Ask(
        SERVICE_REQUEST,
        (
            ("status", "active"),
            ("intent", REFERRAL_INTENTS),
            ("authored", f"eb{format_instant(params.referred_before)}"),
        ),
        ((("category", REFERRAL_CODES), ("code", REFERRAL_CODES)), tuple(who)),
    )


def _results(referrals: list[str]) -> list[Ask]:
    if not referrals:
        return []
    keys = ",".join(referrals)
    void = "cancelled,entered-in-error"
    return [
        Ask(TASK, (("status", "completed"),), ((("based-on", keys), ("focus", keys)),)),
        Ask("DiagnosticReport", (("based-on", keys), ("status:not", f"registered,{void}"))),
        Ask("Observation", (("based-on", keys), ("status:not", f"registered,{void}"))),
        Ask("Encounter", (("based-on", keys), ("status:not", f"planned,{void}"))),
        Ask(COMMUNICATION, (("based-on", keys), ("status:not", ",".join(UNSENT)))),
    ]


def _activity_references(plan: Record, base_url: str | None) -> set[str]:
    activities = listed(plan.resource.get("activity"))
    return reference_keys((a.get("reference") for a in activities if isinstance(a, dict)), base_url)


def _touched(stale: list[Record], tasks: list[Record], base_url: str | None) -> set[str]:
    """The stale plans a recently changed Task is linked to."""
    plans = {p.key for p in stale}
    touched = set()
    changed = {t.key for t in tasks}
    for task in tasks:
        links = [*listed(task.resource.get("basedOn")), *listed(task.resource.get("focus"))]
        touched |= reference_keys(links, base_url) & plans
    for plan in stale:
        if _activity_references(plan, base_url) & changed:
            touched.add(plan.key)
    return touched


def _pointed_at(records: list[Record], elements: tuple[str, ...], base_url: str | None) -> set[str]:
    """``Type/id`` of everything ``records`` refer to in ``elements``."""
    return {
        key
        for r in records
        for key in reference_keys(
            [ref for name in elements for ref in listed(r.resource.get(name))], base_url
        )
    }


def _item(record: Record, reasons: list[Reason]) -> Item:
    return Item(record, tuple(reasons))
