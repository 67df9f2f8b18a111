"""How far a Goal is from its targets, judged from the patient's latest observations.

https://hl7.org/fhir/R4/goal.html: each ``Goal.target`` names a ``measure`` (an
Observation code), a ``detail[x]`` to reach and a ``due[x]``. The observations that count
are the patient's with a code of the measure and a status of final, amended or corrected,
newest ``effective[x]`` first (``progress/queries.py`` finds the latest two).

**Comparing** (``reading``). ``detailQuantity`` with a comparator is a bound: ``<`` and
``<=`` mean lower is better (an HbA1c target "< 7 %"), ``>`` and ``>=`` higher is better
(a walk of at least 280 m); without a comparator the value is to be hit exactly.
``detailRange`` is met inside [low, high]; a range with only ``high`` is "lower is
better", with only ``low`` "higher is better". ``detailInteger`` is hit exactly. Units are
compared as written (UCUM ``code`` and ``system`` when both sides have a code, else
``unit``), with no conversion: an observation in other units cannot be compared. Each
reading has a **gap**, how far the value is from meeting the target (0 when within its
bound), and the trend from the previous observation is the change in gap: improving,
worsening or no-change. ``detailCodeableConcept``, ``detailBoolean`` and
``detailString`` are met or not (a shared coding, the same value) and have no trend.

**Assessing** (``$progress``): a target is achieved when the latest observation meets it;
otherwise overdue once its due date has passed; otherwise not-achieving when the latest is
no closer than the previous one (worsening or no change), else in-progress. A target
without a comparable observation falls back on the Goal's recorded ``achievementStatus``
(achieved or sustaining: achieved; not-achieving, no-progress, worsening, not-attainable:
not-achieving; otherwise in-progress), and is overdue the same way. A Goal is achieved when
every target is, else overdue when one is, else not-achieving when one is, else in
progress; one without targets takes its recorded status. A completed Goal is never
overdue: unless achieved it is not-achieving. A cancelled, rejected or entered-in-error
Goal is not-applicable.

**Updating** (``achievement``, what ``progress/sync.py`` writes to ``achievementStatus``,
from http://terminology.hl7.org/CodeSystem/goal-achievement): achieved when every
target's latest observation meets it; otherwise worsening, improving or no-change from the
trends (worsening first), in-progress when there is none. Judgements the data cannot make
(sustaining, not-achieving, no-progress, not-attainable) are left to people; a recorded
sustaining stays while the targets are still met.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeGuard

from fhircare.care.progress.status import passed

ACHIEVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/goal-achievement"
ACHIEVEMENT_DISPLAY = {
    "in-progress": "In Progress",
    "improving": "Improving",
    "worsening": "Worsening",
    "no-change": "No Change",
    "achieved": "Achieved",
    "sustaining": "Sustaining",
    "not-achieving": "Not Achieving",
    "no-progress": "No Progress",
    "not-attainable": "Not Attainable",
}
ASSESSMENTS = ("achieved", "in-progress", "not-achieving", "overdue", "not-applicable")
COUNTED_OBSERVATIONS = ("final", "amended", "corrected")
NOT_PURSUED = frozenset({"cancelled", "entered-in-error", "rejected"})
RECORDED_MET = frozenset({"achieved", "sustaining"})
RECORDED_NOT_MET = frozenset({"not-achieving", "no-progress", "worsening", "not-attainable"})
LOWER_IS_BETTER = ("<", "<=")
HIGHER_IS_BETTER = (">", ">=")


@dataclass(frozen=True)
class Reading:
    """One observation against one target: met or not, and the gap (None: no measure of
    distance, for a coded, boolean or text target)."""

    met: bool
    gap: Decimal | None


@dataclass(frozen=True)
class TargetProgress:
    """One target as ``$progress`` shows it."""

    target: dict[str, Any]
    due: str | None
    latest: dict[str, Any] | None
    previous: dict[str, Any] | None
    reading: Reading | None
    trend: str | None
    assessment: str


def measure_codes(target: dict[str, Any]) -> list[tuple[str | None, str]]:
    """The (system, code) pairs of a target's measure."""
    measure = target.get("measure")
    return _codings(measure) if isinstance(measure, dict) else []


def targets_of(goal: dict[str, Any]) -> list[dict[str, Any]]:
    found = goal.get("target")
    return [t for t in found if isinstance(t, dict)] if isinstance(found, list) else []


def recorded_achievement(goal: dict[str, Any]) -> str | None:
    """The goal-achievement code the Goal carries, if any."""
    status = goal.get("achievementStatus")
    for system, code in _codings(status) if isinstance(status, dict) else ():
        if system == ACHIEVEMENT_SYSTEM:
            return code
    return None


def reading(target: dict[str, Any], observation: dict[str, Any]) -> Reading | None:
    """How ``observation`` stands against ``target``; None when they cannot be compared."""
    if "detailQuantity" in target:
        return _bound(target["detailQuantity"], observation)
    if "detailRange" in target:
        return _range(target["detailRange"], observation)
    if "detailInteger" in target:
        value = _number(observation, None)
        wanted = target["detailInteger"]
        if value is None or not _is_number(wanted):
            return None
        return Reading(value == wanted, abs(value - _decimal(wanted)))
    if "detailCodeableConcept" in target:
        given = observation.get("valueCodeableConcept")
        wanted = target["detailCodeableConcept"]
        if not isinstance(given, dict) or not isinstance(wanted, dict):
            return None
        return Reading(bool(set(_codings(given)) & set(_codings(wanted))), None)
    for kind, value_kind in (("detailBoolean", "valueBoolean"), ("detailString", "valueString")):
        if kind in target:
            if value_kind not in observation:
                return None
            return Reading(observation[value_kind] == target[kind], None)
    return None


def trend(latest: Reading | None, previous: Reading | None) -> str | None:
    """improving, worsening or no-change from the previous reading to the latest."""
    if latest is None or previous is None or latest.gap is None or previous.gap is None:
        return None
    if latest.gap < previous.gap:
        return "improving"
    return "worsening" if latest.gap > previous.gap else "no-change"


def target_due(goal: dict[str, Any], target: dict[str, Any]) -> str | None:
    """``dueDate``, or ``startDate`` plus ``dueDuration`` (days, weeks, months, years)."""
    due = target.get("dueDate")
    if isinstance(due, str):
        return due
    duration, start = target.get("dueDuration"), goal.get("startDate")
    if not isinstance(duration, dict) or not isinstance(start, str):
        return None
    try:
        begun = date.fromisoformat(start)
    except ValueError:
        return None
    amount, unit = duration.get("value"), duration.get("code")
    if not _is_number(amount) or int(amount) != amount:
        return None
    return _after(begun, int(amount), unit)


def assess_target(
    goal: dict[str, Any],
    target: dict[str, Any],
    observations: Sequence[dict[str, Any]],
    as_of: datetime,
) -> TargetProgress:
    """One target's assessment (see the module's docstring) from its observations,
    newest first."""
    latest = observations[0] if observations else None
    previous = observations[1] if len(observations) > 1 else None
    now = reading(target, latest) if latest is not None else None
    before = reading(target, previous) if previous is not None else None
    change = trend(now, before)
    if now is None:
        assessment = _fallback(goal)
    elif now.met:
        assessment = "achieved"
    else:
        assessment = "not-achieving" if change in ("worsening", "no-change") else "in-progress"
    due = target_due(goal, target)
    ended = goal.get("lifecycleStatus") == "completed"
    if assessment != "achieved" and not ended and passed(due, as_of):
        assessment = "overdue"
    return TargetProgress(target, due, latest, previous, now, change, assessment)


def assess_goal(goal: dict[str, Any], targets: Sequence[TargetProgress]) -> str:
    """The Goal's assessment from its targets' (see the module's docstring)."""
    if goal.get("lifecycleStatus") in NOT_PURSUED:
        return "not-applicable"
    found = {t.assessment for t in targets} if targets else {_fallback(goal)}
    if found == {"achieved"}:
        return "achieved"
    if goal.get("lifecycleStatus") == "completed":
        return "not-achieving"
    for assessment in ("overdue", "not-achieving"):
        if assessment in found:
            return assessment
    return "in-progress"


def achievement(
    goal: dict[str, Any], observed: Sequence[tuple[dict[str, Any], Sequence[dict[str, Any]]]]
) -> str | None:
    """The ``achievementStatus`` code the data gives the Goal, from each of its targets
    with its observations (newest first; none for a target without a measure); None when
    no target can be compared with any."""
    results: list[str | None] = []
    for target, observations in observed:
        now = reading(target, observations[0]) if observations else None
        before = reading(target, observations[1]) if len(observations) > 1 else None
        if now is None:
            results.append(None)
        else:
            results.append("achieved" if now.met else trend(now, before) or "in-progress")
    if not any(results):
        return None
    if all(r == "achieved" for r in results):
        return "sustaining" if recorded_achievement(goal) == "sustaining" else "achieved"
    for code in ("worsening", "improving", "no-change"):
        if code in results:
            return code
    return "in-progress"


def achievement_concept(code: str) -> dict[str, Any]:
    """A goal-achievement CodeableConcept."""
    coding = {"system": ACHIEVEMENT_SYSTEM, "code": code, "display": ACHIEVEMENT_DISPLAY[code]}
    return {"coding": [coding]}


def _fallback(goal: dict[str, Any]) -> str:
    recorded = recorded_achievement(goal)
    if recorded in RECORDED_MET:
        return "achieved"
    return "not-achieving" if recorded in RECORDED_NOT_MET else "in-progress"


def _bound(wanted: Any, observation: dict[str, Any]) -> Reading | None:
    if not isinstance(wanted, dict) or not _is_number(wanted.get("value")):
        return None
    value = _number(observation, wanted)
    if value is None:
        return None
    bound = _decimal(wanted["value"])
    comparator = wanted.get("comparator")
    if comparator in LOWER_IS_BETTER:
        met = value < bound if comparator == "<" else value <= bound
        return Reading(met, max(value - bound, Decimal(0)))
    if comparator in HIGHER_IS_BETTER:
        met = value > bound if comparator == ">" else value >= bound
        return Reading(met, max(bound - value, Decimal(0)))
    return Reading(value == bound, abs(value - bound))


def _range(wanted: Any, observation: dict[str, Any]) -> Reading | None:
    if not isinstance(wanted, dict):
        return None
    low, high = wanted.get("low"), wanted.get("high")
    ends = [e for e in (low, high) if isinstance(e, dict) and _is_number(e.get("value"))]
    if not ends:
        return None
    value = _number(observation, ends[0])
    if value is None or any(_number(observation, end) is None for end in ends):
        return None
    gap = Decimal(0)
    if isinstance(low, dict) and _is_number(low.get("value")):
        gap += max(_decimal(low["value"]) - value, Decimal(0))
    if isinstance(high, dict) and _is_number(high.get("value")):
        gap += max(value - _decimal(high["value"]), Decimal(0))
    return Reading(gap == 0, gap)


def _number(observation: dict[str, Any], units: dict[str, Any] | None) -> Decimal | None:
    """The observation's numeric value, when it is in the units of ``units`` (a Quantity;
    None: any units)."""
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, dict) and _is_number(quantity.get("value")):
        if units is not None and not _same_units(units, quantity):
            return None
        return _decimal(quantity["value"])
    integer = observation.get("valueInteger")
    if units is None and _is_number(integer):
        return _decimal(integer)
    return None


def _same_units(a: dict[str, Any], b: dict[str, Any]) -> bool:
    code_a, code_b = a.get("code"), b.get("code")
    if code_a and code_b:
        system_a, system_b = a.get("system"), b.get("system")
        return bool(code_a == code_b and (not system_a or not system_b or system_a == system_b))
    unit_a, unit_b = a.get("unit"), b.get("unit")
    return not (unit_a and unit_b) or unit_a == unit_b


def _codings(concept: dict[str, Any]) -> list[tuple[str | None, str]]:
    found = []
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            system = coding.get("system")
            found.append((system if isinstance(system, str) else None, coding["code"]))
    return found


def _is_number(value: Any) -> TypeGuard[int | float | Decimal]:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _decimal(value: int | float | Decimal) -> Decimal:
    return Decimal(str(value))


def _after(start: date, amount: int, unit: Any) -> str | None:
    if unit == "d":
        return (start + timedelta(days=amount)).isoformat()
    if unit == "wk":
        return (start + timedelta(weeks=amount)).isoformat()
    months = {"mo": amount, "a": 12 * amount}.get(unit) if isinstance(unit, str) else None
    if months is None:
        return None
    year, month = divmod(start.month - 1 + months, 12)
    day = start.day
    while True:
        try:
            return date(start.year + year, month + 1, day).isoformat()
        except ValueError:  # 31 January plus a month: the last day of February
            day -= 1
