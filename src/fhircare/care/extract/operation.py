"""``QuestionnaireResponse/$extract``: an intake assessment turned into a draft plan.

SDC's operation (https://hl7.org/fhir/uv/sdc/STU3/OperationDefinition-QuestionnaireResponse-extract.html)
by definition-based extraction (https://hl7.org/fhir/uv/sdc/STU3/extraction.html#definition-based-extraction).

- ``GET|POST [base]/QuestionnaireResponse/[id]/$extract`` extracts a stored response (404
  unknown, 410 deleted); ``POST [base]/QuestionnaireResponse/$extract`` one given in the
  ``questionnaire-response`` parameter (validated as a write would be: 400 if invalid).
- The answer (SDC's ``return``) is a ``transaction`` Bundle whose entries POST the
  extracted resources under ``urn:uuid`` fullUrls, their references to each other by those;
  POSTing it to ``[base]`` creates them. With ``persist=true`` (POST only; 400 on GET)
  the server runs that transaction itself and answers its ``transaction-response``.
- The Questionnaire is found by ``QuestionnaireResponse.questionnaire`` (``url|version``);
  422 naming that element when it names none, none is found, or the Questionnaire has no
  extraction context. The response needs a ``subject`` (every resource made refers to it).
- Status: SDC extracts a completed response, so ``completed`` and ``amended`` ones extract.
  An ``in-progress`` one extracts too, as a preview of the plan so far, but cannot be
  persisted (422): records are made from finished assessments only. ``stopped`` and
  ``entered-in-error`` are 422.

The subset of definition-based extraction supported:

- Extraction contexts: the SDC 3.0.0 extension ``sdc-questionnaire-itemExtractionContext``
  with a ``valueCode`` of ``Condition``, ``Goal`` or ``CarePlan``, on the Questionnaire
  (one resource, always made) or on an item (one resource per response item, so one per
  repetition of a repeating group; none for a repetition without answers). Expressions
  (updating existing resources) and other types are 422.
- Definitions ``[StructureDefinition url]#[Type.path]`` of the enclosing context's type
  fill the elements listed in ``extract_elements.ELEMENTS`` (Condition clinicalStatus,
  verificationStatus, category, severity, code, bodySite, onset[x], note.text; Goal
  category, priority, description, start[x], target.measure, target.detail[x],
  target.due[x], note.text; CarePlan title, description, category, note.text) from
  valueCoding, valueString, valueDate, valueDateTime, valueQuantity, valueBoolean and
  valueInteger answers. An answered item whose definition names another element of that
  type is 422 naming the definition; definitions of other types are not extracted.
- Hidden items with an ``initial`` value fill their element when the response leaves them
  out (``extract_form``); what no item fills comes from the response
  (``extract_bundle``): subjects, statuses, author, and the CarePlan's links to the
  extracted Conditions and Goals and to the response.
"""

from __future__ import annotations

from typing import Any

from fhircare.care.extract.answers import extract_drafts
from fhircare.care.extract.bundle import transaction_bundle
from fhircare.care.extract.form import read_form
from fhircare.care.extract.persist import persist
from fhircare.care.extract.source import QUESTIONNAIRE, questionnaire_of
from fhircare.care.operation import CareOperation, fhircare_definition
from fhircare.fhir import errors, jsonio
from fhircare.interactions.current import live_version
from fhircare.interactions.operation_inputs import Input, Inputs
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.resource_body import check_resource

RESPONSE = "QuestionnaireResponse"
EXTRACTABLE = ("completed", "amended", "in-progress")
PERSISTABLE = ("completed", "amended")


async def extract(context: Context, request: FhirRequest) -> FhirResponse:
    inputs = OPERATION.inputs_of(context, request)
    persisting = bool(inputs.value("persist", False))
    if persisting and request.method != "POST":
        raise errors.invalid(
            "persist=true writes resources: POST the request (GET only extracts)", "persist"
        )
    response, reference = await _response(context, request, inputs)
    status = response.get("status")
    if status not in EXTRACTABLE or (persisting and status not in PERSISTABLE):
        allowed = PERSISTABLE if persisting else EXTRACTABLE
        raise errors.processing(
            f"A response with status '{status}' cannot be "
            f"{'persisted' if persisting else 'extracted'} (only {', '.join(allowed)})",
            f"{RESPONSE}.status",
        )
    if not isinstance(response.get("subject"), dict):
        raise errors.processing(
            "The response has no subject for the extracted resources to refer to",
            f"{RESPONSE}.subject",
        )
    form = read_form(await questionnaire_of(context, response))
    if not form.extracts:
        raise errors.processing(
            "The response's Questionnaire has no definition-based extraction (no "
            "sdc-questionnaire-itemExtractionContext)",
            QUESTIONNAIRE,
        )
    drafts = extract_drafts(form, response)
    bundle = transaction_bundle(drafts, response, reference, context.limits.validator)
    if persisting:
        return await persist(context, request, bundle)
    return FhirResponse(200, jsonio.dumps(bundle))


async def _response(
    context: Context, request: FhirRequest, inputs: Inputs
) -> tuple[dict[str, Any], str | None]:
    """The response to extract and a reference to it when it is stored."""
    given = inputs.one("questionnaire-response")
    if request.id is not None:
        if given is not None:
            raise errors.invalid(
                f"{RESPONSE}/{request.id}/$extract extracts that response; "
                "questionnaire-response is for the type-level operation",
                given.where,
            )
        stored = await live_version(context, RESPONSE, request.id)
        return jsonio.loads(stored.body or b"{}"), f"{RESPONSE}/{request.id}"
    if given is None:
        raise errors.invalid(
            f"{RESPONSE}/$extract needs the response in the questionnaire-response parameter "
            f"(or use {RESPONSE}/[id]/$extract)",
            "questionnaire-response",
            code="required",
        )
    response = check_resource(given.value, RESPONSE, context.limits)
    id = response.get("id")
    if isinstance(id, str):
        found = await context.store.read(RESPONSE, id)
        if found is not None and not found.deleted:
            return response, f"{RESPONSE}/{id}"
    return response, None


OPERATION = CareOperation(
    name="extract",
    types=(RESPONSE,),
    definition=fhircare_definition("QuestionnaireResponse-extract"),
    summary="Turn an intake assessment into draft Conditions, Goals and a draft CarePlan",
    inputs=(
        Input(
            "questionnaire-response",
            "Resource",
            "The QuestionnaireResponse to extract (type level only)",
        ),
        Input(
            "persist",
            "boolean",
            "true: create the extracted resources in one transaction and answer its "
            "transaction-response (POST only); default false",
        ),
    ),
    handler=extract,
    output="Bundle",
    type_level=True,
)
