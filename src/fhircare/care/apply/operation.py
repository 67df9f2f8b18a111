"""``PlanDefinition/[id]/$apply``: a care protocol made a draft plan for one patient.

https://hl7.org/fhir/R4/plandefinition-operation-apply.html. ``GET|POST
[base]/PlanDefinition/[id]/$apply?subject=Patient/[id]`` answers 200 with a CarePlan
(status ``draft``, intent ``plan``) whose Goals and requests are ``contained``, as R4
returns them: nothing is written. ``POST`` with ``persist=true`` creates the CarePlan, its
Goals and its requests in one transaction instead (``apply/persist.py``) and answers 201
with the stored CarePlan, which refers to them by id; on ``GET`` it is 400, since a GET
must not change data.

Inputs: ``subject`` (a Patient: exactly one, where R4 allows several subjects of other
types), ``practitioner`` (a Practitioner or PractitionerRole: the plan's author and the
requests' requester), ``organization`` (an Organization: the author and requester when no
practitioner is given, otherwise a contributor), ``encounter`` (an Encounter of the
patient: the plan's and the requests' encounter) and fhircare's ``persist``. R4 declares
the references as strings; fhircare takes them as ``Type/id`` in a query or as a
``valueReference``. A named resource that does not exist (or is deleted, of another type, or
an encounter of someone else) is 400 naming the input: the PlanDefinition, the resource
the request is addressed to, exists. An unknown PlanDefinition is 404, a deleted one 410.
R4's other inputs (``userType``, ``setting``, ...) inform expressions, which fhircare does
not evaluate: they are 400 as unknown. Only the instance level is served
(``PlanDefinition/$apply`` with a ``planDefinition`` resource is 404, no such endpoint).

What is read (everything else is ignored):

- PlanDefinition: ``url`` and ``version`` (the CarePlan's ``instantiatesCanonical``; no
  url is 422), ``title`` (else ``name``) and ``description``, ``status`` (``retired`` is
  422), ``goal`` and ``action``.
- ``goal``: ``category``, ``priority``, ``description``, ``start`` and ``target``
  (``measure``, ``detail[x]``, ``due`` made a ``dueDate`` from today) make a proposed Goal
  of the patient; ``addresses`` (codes) finds the patient's Conditions with those codes,
  which the Goal and the CarePlan then address.
- ``action`` (top level): ``id``, ``title``, ``description``, ``code``, ``priority``,
  ``goalId``, ``definitionCanonical``, ``timing[x]`` and one ``relatedAction``
  (``apply/timing.py``). With a ``definitionCanonical`` the action becomes the request of
  that ActivityDefinition (``apply/requests.py``), in ``CarePlan.activity.reference``; an
  unresolvable canonical is 422 naming the action. Without one it becomes a
  ``CarePlan.activity.detail`` (status ``not-started``, its code, description, goals and
  schedule).
- ActivityDefinition: ``url``, ``version``, ``status``, ``date`` (to choose among
  versions, ``apply/lookup.py``), ``kind`` (Task, ServiceRequest or Appointment; others
  are 422), ``title``, ``name``, ``description``, ``code``, ``priority``,
  ``doNotPerform``, ``timing[x]``, ``participant`` (``type`` and ``role``) and
  ``location``.

Refused with 422 rather than applied as if absent, since they change whether or what is
requested: an action's ``condition``, ``dynamicValue``, ``definitionUri``, ``transform``
or nested ``action``, and an ActivityDefinition's ``dynamicValue``. Ignored: ``library``,
``trigger``, ``input``/``output``, ``participant`` and ``type`` of an action,
``selectionBehavior`` and the other behaviours, ``textEquivalent``, ``documentation``,
``relatedArtifact``, ``useContext``, ``subject[x]``, and the ActivityDefinition's
``intent`` (requests are orders of a draft plan), ``product[x]``, ``quantity``,
``dosage``, ``bodySite`` and ``observationRequirement`` and the like.
"""

from __future__ import annotations

from typing import Any

from fhircare.care.apply.lookup import (
    activity_definition,
    care_team,
    conditions_of,
    named_resource,
)
from fhircare.care.apply.persist import persist
from fhircare.care.apply.plan import check_plan_definition, contained, draft_plan
from fhircare.care.apply.requests import Setting, check_kind
from fhircare.care.apply.timing import plan_windows, timing_of
from fhircare.care.operation import CareOperation, fhircare_definition
from fhircare.fhir import errors, jsonio
from fhircare.fhir.ids import now
from fhircare.interactions.current import live_version
from fhircare.interactions.operation_inputs import Input, Inputs
from fhircare.interactions.request import Context, FhirRequest, FhirResponse

PRACTITIONERS = ("Practitioner", "PractitionerRole")


async def apply(context: Context, request: FhirRequest) -> FhirResponse:
    inputs = OPERATION.inputs_of(context, request)
    persisting = inputs.one("persist")
    if persisting is not None and persisting.value and request.method != "POST":
        raise errors.invalid(
            "persist=true writes the plan: use POST (a GET must not change data)",
            persisting.where,
        )
    assert request.id is not None
    stored = await live_version(context, "PlanDefinition", request.id)
    plan: dict[str, Any] = jsonio.loads(stored.body or b"{}")
    check_plan_definition(plan)
    setting, contributor = await _setting(context, inputs)
    actions = plan.get("action") or []
    definitions: list[dict[str, Any] | None] = []
    timings: list[tuple[str, str, Any] | None] = []
    for index, action in enumerate(actions):
        where = f"PlanDefinition.action[{index}]"
        definition = None
        canonical = action.get("definitionCanonical")
        if canonical:
            at = f"{where}.definitionCanonical"
            definition = await activity_definition(context, canonical, at)
            check_kind(definition, at)
        definitions.append(definition)
        timings.append(_timing(where, action, definition))
    windows = plan_windows(actions, timings, setting.now)
    conditions = [
        await conditions_of(context, setting.subject, goal.get("addresses") or ())
        for goal in plan.get("goal") or ()
    ]
    draft = draft_plan(plan, definitions, windows, conditions, setting, contributor)
    if persisting is not None and persisting.value:
        return await persist(context, request, draft)
    return FhirResponse(200, jsonio.dumps(contained(draft)))


def _timing(
    where: str, action: dict[str, Any], definition: dict[str, Any] | None
) -> tuple[str, str, Any] | None:
    """The action's own timing, else its ActivityDefinition's, with where it is."""
    own = timing_of(action)
    if own is not None:
        return (where, *own)
    given = timing_of(definition) if definition is not None else None
    if given is None or definition is None:
        return None
    return (f"ActivityDefinition/{definition.get('id')}", *given)


async def _setting(context: Context, inputs: Inputs) -> tuple[Setting, str | None]:
    """The patient and the people the plan is for and by; the contributor (the
    organization, when a practitioner authors the plan)."""
    subject = inputs.one("subject")
    assert subject is not None  # required: parse_inputs saw to it
    await named_resource(context, subject, "subject", ("Patient",))
    patient = str(subject.value)
    practitioner = inputs.one("practitioner")
    if practitioner is not None:
        await named_resource(context, practitioner, "practitioner", PRACTITIONERS)
    organization = inputs.one("organization")
    if organization is not None:
        await named_resource(context, organization, "organization", ("Organization",))
    encounter = inputs.one("encounter")
    if encounter is not None:
        found = await named_resource(context, encounter, "encounter", ("Encounter",))
        if (found.get("subject") or {}).get("reference") != patient:
            raise errors.invalid(
                f"encounter {encounter.value} is not an encounter of {patient}", encounter.where
            )
    by = practitioner or organization
    setting = Setting(
        subject=patient,
        now=now(),
        requester=str(by.value) if by is not None else None,
        encounter=str(encounter.value) if encounter is not None else None,
        team=await care_team(context, patient),
    )
    contributor = str(organization.value) if practitioner and organization else None
    return setting, contributor


OPERATION = CareOperation(
    name="apply",
    types=("PlanDefinition",),
    definition=fhircare_definition("PlanDefinition-apply"),
    summary="Apply a care protocol to a patient: a draft CarePlan and the requests it names",
    inputs=(
        Input("subject", "Reference", "The Patient the plan is for (exactly one)", min=1),
        Input(
            "practitioner",
            "Reference",
            "The Practitioner or PractitionerRole applying the protocol: the plan's author "
            "and the requests' requester",
        ),
        Input(
            "organization",
            "Reference",
            "The Organization applying the protocol: the author and requester when no "
            "practitioner is given, otherwise a contributor",
        ),
        Input("encounter", "Reference", "The patient's Encounter the plan is made in"),
        Input(
            "persist",
            "boolean",
            "true (POST only): create the CarePlan, its Goals and its requests in one "
            "transaction and answer the stored CarePlan; default false: answer the CarePlan "
            "with them contained and write nothing",
        ),
    ),
    handler=apply,
    output="CarePlan",
)
