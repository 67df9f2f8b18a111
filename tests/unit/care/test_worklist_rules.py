"""The worklist's rules on single resources: where each threshold falls, how reasons are
shown and how entries are ordered (``care/worklist/rules.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fhircare.care.worklist.params import WorklistParams
from fhircare.care.worklist.queries import Record
from fhircare.care.worklist.rules import (
    REASON_URL,
    Item,
    Reason,
    goal_reasons,
    message_reasons,
    plan_reasons,
    reference_keys,
    referral_reasons,
    request_reasons,
    task_reasons,
)
from fhircare.fhir import jsonio
from fhircare.storage.protocol import StoredVersion

AS_OF = datetime(2030, 6, 15, tzinfo=UTC)


def params(**more: Any) -> WorklistParams:
    return WorklistParams(count=20, as_of=AS_OF, as_of_text="2030-06-15", **more)


def record(resource: dict[str, Any], changed: datetime = AS_OF) -> Record:
    body = jsonio.dumps(resource)
    version = StoredVersion(resource["resourceType"], resource["id"], 1, changed, "PUT", body, 1)
    return Record(version, resource)


def codes(reasons: list[Reason]) -> list[str]:
    return [r.code for r in reasons]


def test_a_task_is_overdue_once_its_whole_due_date_has_passed() -> None:
    def due(end: str) -> list[str]:
        return codes(
            task_reasons({"status": "ready", "restriction": {"period": {"end": end}}}, AS_OF)
        )

    assert due("2030-06-14T23:59:59Z") == ["overdue-task"]
    assert due("2030-06-15T00:00:00Z") == ["open-task"]  # the second it covers is not over
    assert due("2030-06-14") == ["overdue-task"]
    assert due("2030-06-15") == ["open-task"]  # due today
    assert due("2030-06-15T01:00:00+02:00") == ["overdue-task"]  # 23:00 UTC the day before
    assert codes(task_reasons({"status": "ready"}, AS_OF)) == ["open-task"]


def test_goal_rules() -> None:
    def goal(due: str | None, achievement: str | None) -> dict[str, Any]:
        resource: dict[str, Any] = {"lifecycleStatus": "active"}
        if due:
            resource["target"] = [{"dueDate": "2031-01-01"}, {"dueDate": due}]
        if achievement:
            resource["achievementStatus"] = {"coding": [{"code": achievement}]}
        return resource

    overdue = goal_reasons(goal("2030-06-01", "in-progress"), AS_OF)
    assert codes(overdue) == ["goal-overdue"] and overdue[0].due == "2030-06-01"
    assert overdue[0].overdue
    assert codes(goal_reasons(goal("2030-06-01", None), AS_OF)) == ["goal-overdue"]
    assert goal_reasons(goal("2030-06-01", "achieved"), AS_OF) == []
    assert goal_reasons(goal("2030-06-01", "sustaining"), AS_OF) == []
    assert goal_reasons(goal("2030-06-15", "in-progress"), AS_OF) == []  # due today
    both = goal_reasons(goal("2030-06-01", "worsening"), AS_OF)
    assert codes(both) == ["goal-overdue", "goal-not-achieving"]
    later = goal_reasons(goal("2030-09-01", "no-progress"), AS_OF)
    assert codes(later) == ["goal-not-achieving"] and later[0].due == "2030-09-01"
    assert not later[0].overdue
    assert codes(goal_reasons(goal(None, "not-attainable"), AS_OF)) == ["goal-not-achieving"]
    assert goal_reasons(goal(None, "no-change"), AS_OF) == []


def test_plan_rules() -> None:
    def plan(end: str, changed: datetime = AS_OF, touched: bool = False) -> list[Reason]:
        resource = {"resourceType": "CarePlan", "id": "p", "period": {"end": end}}
        return plan_reasons(record(resource, changed), params(), touched)

    assert codes(plan("2030-06-29")) == ["plan-ending"]  # 14 days on
    assert plan("2030-06-30") == []
    ended = plan("2030-06-14")
    assert codes(ended) == ["plan-ending"] and ended[0].overdue
    assert not plan("2030-06-20")[0].overdue
    old = AS_OF - timedelta(days=31)
    stale = plan("2031-01-01", old)
    assert codes(stale) == ["plan-inactive"]
    assert stale[0].at == old + timedelta(days=30)
    assert plan("2031-01-01", old, touched=True) == []
    assert plan("2031-01-01", AS_OF - timedelta(days=29)) == []


def test_message_and_referral_rules() -> None:
    message = {"received": "2030-06-10T09:00:00Z", "sender": {"display": "Aisha"}}
    reasons = message_reasons(message, AS_OF)
    assert codes(reasons) == ["unanswered-message"] and reasons[0].overdue
    assert "Aisha" in reasons[0].text
    assert not message_reasons({"sent": "2030-06-20"}, AS_OF)[0].overdue
    referral = referral_reasons({"authoredOn": "2030-05-01"}, params(referral_days=10))
    assert referral[0].at == datetime(2030, 5, 11, tzinfo=UTC)
    assert referral[0].due == "2030-05-11T00:00:00.000Z" and referral[0].overdue
    assert referral_reasons({}, params()) == []


def test_a_requested_message_is_due_at_the_end_of_its_occurrence() -> None:
    def due(**request: Any) -> list[tuple[str, str | None, bool]]:
        return [(r.code, r.due, r.overdue) for r in request_reasons(request, AS_OF)]

    to_send = "message-to-send"
    assert due(occurrenceDateTime="2030-06-14") == [(to_send, "2030-06-14", True)]
    assert due(occurrenceDateTime="2030-06-15") == [(to_send, "2030-06-15", False)]
    period = {"start": "2030-06-01", "end": "2030-06-15T00:00:00Z"}
    assert due(occurrencePeriod=period) == [(to_send, "2030-06-15T00:00:00Z", False)]
    # the occurrence wins over authoredOn; without one it is due from authoredOn
    late = due(occurrenceDateTime="2030-07-01", authoredOn="2030-06-01")
    assert late == [(to_send, "2030-07-01", False)]
    assert due(authoredOn="2030-06-14T08:00:00Z") == [(to_send, "2030-06-14T08:00:00Z", True)]
    assert due(authoredOn="2030-06-16") == [(to_send, "2030-06-16", False)]
    # an open-ended period and no date at all set no deadline
    assert due(occurrencePeriod={"start": "2030-06-01"}) == [(to_send, None, False)]
    assert due() == [(to_send, None, False)]
    assert due(doNotPerform=True, occurrenceDateTime="2030-06-01") == []
    recipients = [{"display": "Ann"}, {"reference": "RelatedPerson/b"}]
    text = request_reasons({"recipient": recipients, "authoredOn": "2030-06-01"}, AS_OF)[0].text
    assert "Ann, RelatedPerson/b" in text and "2030-06-01" in text


def test_a_reason_is_shown_as_one_extension() -> None:
    reason = Reason("overdue-task", "late", "2030-06-01", AS_OF, True)
    assert reason.extension() == {
        "url": REASON_URL,
        "extension": [
            {"url": "code", "valueCode": "overdue-task"},
            {"url": "text", "valueString": "late"},
            {"url": "due", "valueDateTime": "2030-06-01"},
        ],
    }
    assert [p["url"] for p in Reason("open-task", "no date").extension()["extension"]] == [
        "code",
        "text",
    ]


def test_entries_order_overdue_then_dated_then_undated() -> None:
    def item(id: str, *reasons: Reason) -> Item:
        return Item(record({"resourceType": "Task", "id": id}), reasons)

    early, late = AS_OF - timedelta(days=9), AS_OF + timedelta(days=9)
    items = [
        item("undated", Reason("open-task", "")),
        item("soon", Reason("open-task", "", "x", late)),
        item("overdue-b", Reason("overdue-task", "", "x", early, True)),
        item("overdue-a", Reason("overdue-task", "", "x", early, True)),
        # an overdue reason places an entry by its own date, whatever else it has
        item(
            "mixed",
            Reason("goal-not-achieving", "", "x", AS_OF - timedelta(days=30)),
            Reason("goal-overdue", "", "x", AS_OF - timedelta(days=1), True),
        ),
    ]
    ordered = sorted(items, key=Item.place)
    assert [i.record.version.id for i in ordered] == [
        "overdue-a",
        "overdue-b",
        "mixed",
        "soon",
        "undated",
    ]


def test_reference_keys_reads_local_literal_references() -> None:
    references = [
        {"reference": "Task/a"},
        {"reference": "http://test/fhir/Task/b/_history/2"},
        {"reference": "http://elsewhere/fhir/Task/c"},
        {"reference": "#contained"},
        {"display": "no reference"},
        "not a reference",
    ]
    assert reference_keys(references, "http://test/fhir") == {"Task/a", "Task/b"}
