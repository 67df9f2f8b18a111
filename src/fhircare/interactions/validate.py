"""``$validate``: is a resource valid here, against the base R4 rules and the profiles?

https://hl7.org/fhir/R4/resource-operation-validate.html. ``POST [base]/[type]/$validate``
with the resource as the body, or a ``Parameters`` body with ``resource``, ``mode`` and
``profile``; ``POST [base]/[type]/[id]/$validate`` (mode ``update`` by default); ``GET
[base]/[type]/[id]/$validate`` checks the stored resource; ``mode`` and ``profile`` may
also be given in the query. The answer is 200 with an OperationOutcome whether or not the
resource is valid (as the specification says, and HAPI since 6.6): every issue the write
path would raise (the structural rules, the profiles the resource claims or the ``profile``
asked for, the profiles the settings require), or one ``information`` issue saying there are
none. Absent ``mustSupport`` elements are reported as information, never enforced. A 4xx
means the validation could not run: a body that is not JSON, a resource of
another type, an unknown ``mode``, an instance that does not exist. Nothing is stored.

Modes: ``create`` (the default at type level: an ``id`` is ignored, as a create ignores
it); ``update`` (the resource needs an ``id``, which at instance level must be the URL's);
``delete`` (instance level only: the resource must exist; fhircare has no rule that forbids
a delete, so the answer is "no issues").
"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import errors, jsonio, outcomes
from fhircare.fhir.errors import Issue
from fhircare.interactions.current import live_version
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.validation.validator import find_issues

MODES = ("create", "update", "delete")
NO_ISSUES = "No issues detected during validation"


async def validate(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None
    resource, mode, profile = _inputs(request)
    if mode not in MODES:
        raise errors.invalid(f"mode must be one of {', '.join(MODES)}, not '{mode}'", "mode")
    if mode == "delete":
        if request.id is None:
            raise errors.invalid("mode=delete needs an instance: [type]/[id]/$validate", "mode")
        await live_version(context, request.resource_type, request.id)
        return _answer([])
    if resource is None:
        if request.id is None:
            raise errors.invalid("$validate needs the resource to check", "resource")
        stored = await live_version(context, request.resource_type, request.id)
        assert stored.body is not None
        resource = jsonio.loads(stored.body)
    if not isinstance(resource, dict):
        raise errors.invalid("The resource to validate must be a JSON object", "resource")
    if resource.get("resourceType") != request.resource_type:
        raise errors.invalid(
            f"resourceType '{resource.get('resourceType')}' does not match the URL's type "
            f"'{request.resource_type}'",
            "resource",
        )
    issues = _mode_issues(resource, mode, request.id)
    issues += find_issues(resource, context.limits.validator)
    issues += context.profiles.issues(resource, (profile,) if profile else (), must_support=True)
    return _answer(issues)


def _inputs(request: FhirRequest) -> tuple[Any, str, str | None]:
    """The resource (None: the stored one), the mode and the profile asked for.

    Not ``operation_inputs.parse_inputs``: it refuses an invalid ``resource`` input with 400,
    and an invalid resource is what ``$validate`` must answer about."""
    mode = request.param("mode")
    profile = request.param("profile")
    resource: Any = None
    if request.method == "POST" and request.body.strip():
        try:
            body = jsonio.loads(request.body)
        except ValueError as error:
            raise errors.invalid(f"The body is not JSON: {error}") from None
        if isinstance(body, dict) and body.get("resourceType") == "Parameters":
            for parameter in body.get("parameter") or []:
                name = parameter.get("name") if isinstance(parameter, dict) else None
                if name == "resource":
                    resource = parameter.get("resource")
                elif name == "mode":
                    mode = parameter.get("valueCode") or parameter.get("valueString") or mode
                elif name == "profile":
                    profile = (
                        parameter.get("valueUri")
                        or parameter.get("valueCanonical")
                        or parameter.get("valueString")
                        or profile
                    )
        else:
            resource = body
    default = "update" if request.id is not None and resource is not None else "create"
    return resource, mode or default, profile


def _mode_issues(resource: dict[str, Any], mode: str, url_id: str | None) -> list[Issue]:
    if mode != "update":
        return []
    id = resource.get("id")
    where = (f"{resource['resourceType']}.id",)
    if not id:
        return [Issue("required", "mode=update: the resource has no id", expression=where)]
    if url_id is not None and id != url_id:
        message = f"mode=update: the resource's id '{id}' is not the URL's '{url_id}'"
        return [Issue("invalid", message, expression=where)]
    return []


def _answer(issues: list[Issue]) -> FhirResponse:
    if not issues:
        issues = [Issue("informational", NO_ISSUES, "information")]
    return FhirResponse(200, jsonio.dumps(outcomes.outcome(issues)))


OPERATION = {
    "name": "validate",
    "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
}
"""How the CapabilityStatement names it, on every type."""
