"""An OpenAPI 3.0 description of the FHIR REST API, served at ``GET [base]/openapi.json``.

It is rendered from the CapabilityStatement (``interactions/capabilities.py``) and from
nothing else, so it lists exactly what ``GET [base]/metadata`` declares: each interaction
of the statement becomes the operations of its URL (https://hl7.org/fhir/R4/http.html#summary),
conditional create, update and delete appear when the statement says they are supported,
conditional patch with patch (R4 has no element for it), ``$reindex``, ``$sync`` and
``$sync-status`` where the statement names the operation, ``$everything`` (GET and POST,
instance and type level) on the types naming it, the care operations with the inputs they
declare (``care/registry.py``), and the media types are the statement's ``format`` and
``patchFormat``.

To keep the document small the resource type is a ``{type}`` path parameter whose enum is
the types supporting that interaction, not one path per type. Bodies have a permissive
schema that names ``resourceType`` (the full FHIR JSON schema is megabytes); search lists
the parameters every type has plus a free-form object for the type-specific ones (each
type's list is in the CapabilityStatement). Every error is an OperationOutcome.

Each operation carries ``x-fhir-interaction`` (its R4 restful-interaction codes, or
``operation`` for the ``$`` operations) and ``x-fhir-conditional``, so a test
can compare the document with the statement; the ``dispatch.route`` table is what serves
them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fhircare import __version__
from fhircare.care.operation import CareOperation
from fhircare.care.registry import CARE_BY_NAME
from fhircare.fhir import jsonio
from fhircare.fhir.ids import ID_PATTERN
from fhircare.fhir.subsetting import SUMMARY_MODES
from fhircare.rest.media import JSON_FORMATS
from fhircare.search.parse_results import TOTALS

OPENAPI_VERSION = "3.0.3"
FORM = "application/x-www-form-urlencoded"
_REF = "#/components"

Operation = dict[str, Any]


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{_REF}/{kind}/{name}"}


def _content(media_types: Iterable[str], schema: str) -> dict[str, Any]:
    return {media: {"schema": _ref("schemas", schema)} for media in media_types}


class _Builder:
    """Operations for one CapabilityStatement; ``paths`` collects them."""

    def __init__(self, statement: Mapping[str, Any]) -> None:
        self.statement = statement
        self.formats: list[str] = list(statement.get("format") or ())
        self.patch_formats: list[str] = list(statement.get("patchFormat") or ())
        self.rest: Mapping[str, Any] = (statement.get("rest") or [{}])[0]
        self.resources: list[Mapping[str, Any]] = list(self.rest.get("resource") or ())
        self.all_types = sorted(r["type"] for r in self.resources)
        self.paths: dict[str, dict[str, Operation]] = {}

    # -- the facts of the statement --------------------------------------------------------

    def types_with(self, predicate: Callable[[Mapping[str, Any]], bool]) -> list[str]:
        return sorted(r["type"] for r in self.resources if predicate(r))

    def types_for(self, code: str) -> list[str]:
        return self.types_with(lambda r: any(i.get("code") == code for i in r["interaction"]))

    def type_codes(self) -> list[str]:
        codes = {i["code"] for r in self.resources for i in r.get("interaction") or ()}
        return sorted(codes)

    def system_codes(self) -> list[str]:
        return sorted({i["code"] for i in self.rest.get("interaction") or ()})

    def common_search_params(self) -> list[dict[str, Any]]:
        """The search parameters every type declares (``_id``, ``_lastUpdated``, ...)."""
        if not self.resources:
            return []
        by_type = [{p["name"]: p for p in r.get("searchParam") or ()} for r in self.resources]
        shared = set.intersection(*(set(params) for params in by_type))
        return [by_type[0][name] for name in sorted(shared)]

    # -- parameters ------------------------------------------------------------------------

    def type_param(self, types: list[str]) -> dict[str, Any]:
        if types == self.all_types:
            return _ref("parameters", "type")
        return {**_TYPE_PARAMETER, "schema": {"type": "string", "enum": types}}

    def add(self, path: str, method: str, operation: Operation) -> None:
        if method in self.paths.setdefault(path, {}):
            raise ValueError(f"{method.upper()} {path} is described twice")
        self.paths[path][method] = operation

    def operation(
        self,
        interaction: str | list[str],
        operation_id: str,
        summary: str,
        *,
        types: list[str] | None = None,
        params: Iterable[dict[str, Any]] = (),
        body: dict[str, Any] | None = None,
        responses: Mapping[str, Any],
        conditional: bool = False,
    ) -> Operation:
        parameters = [self.type_param(types)] if types is not None else []
        parameters += list(params)
        responses = dict(responses)
        if types is not None:  # a type this server does not support is 404
            responses.setdefault("404", _error("404", self.formats))
        operation: Operation = {
            "operationId": operation_id,
            "summary": summary,
            "tags": ["type" if types is not None else "system"],
            "parameters": parameters,
            "responses": dict(sorted(responses.items())),
            "x-fhir-interaction": [interaction] if isinstance(interaction, str) else interaction,
            "x-fhir-conditional": conditional,
        }
        if body is not None:
            operation["requestBody"] = body
        if not parameters:
            del operation["parameters"]
        return operation

    def resource_body(self) -> dict[str, Any]:
        return {"required": True, "content": _content(self.formats, "Resource")}

    def patch_body(self) -> dict[str, Any]:
        return {"required": True, "content": _content(self.patch_formats, "JsonPatch")}

    # -- the interactions ------------------------------------------------------------------

    def build(self) -> dict[str, dict[str, Operation]]:
        self.add(
            "/metadata",
            "get",
            self.operation(
                "capabilities",
                "capabilities",
                "The CapabilityStatement: what this server implements",
                params=[_ref("parameters", "_format"), _ref("parameters", "_pretty")],
                responses=_responses(self.formats, {"200": "CapabilityStatement"}, READ_ERRORS),
            ),
        )
        for code in self.type_codes():
            _TYPE_LEVEL[code](self, self.types_for(code))
        for code in self.system_codes():
            _SYSTEM_LEVEL[code](self)
        self.operations()
        return dict(sorted(self.paths.items()))

    def operations(self) -> None:
        """``$reindex`` at system level, ``$sync`` and ``$sync-status`` as ``_sync`` and
        ``_sync_status`` describe them, and each operation for the types that name it:
        ``$everything`` as described by ``_everything``, any other as ``$reindex`` is."""
        for op in self.rest.get("operation") or ():
            if op["name"] in _NAMED_SYSTEM_OPERATIONS:
                _NAMED_SYSTEM_OPERATIONS[op["name"]](self)
                continue
            self.add(
                f"/${op['name']}",
                "post",
                self.operation(
                    "operation",
                    f"{op['name']}System",
                    f"${op['name']} on every resource type",
                    params=[_ref("parameters", "_format")],
                    responses=_responses(self.formats, {"200": "Parameters"}, COMMON_ERRORS),
                ),
            )
        names = sorted({op["name"] for r in self.resources for op in r.get("operation") or ()})
        for name in names:
            types = sorted(
                r["type"]
                for r in self.resources
                if any(op["name"] == name for op in r.get("operation") or ())
            )
            if name in _NAMED_OPERATIONS:
                _NAMED_OPERATIONS[name](self, types)
                continue
            care = CARE_BY_NAME.get(name)
            if care is not None:
                _care_operation(self, care, types)
                continue
            self.add(
                f"/{{type}}/${name}",
                "post",
                self.operation(
                    "operation",
                    f"{name}Type",
                    f"${name} on one resource type",
                    types=types,
                    params=[_ref("parameters", "_format")],
                    responses=_responses(self.formats, {"200": "Parameters"}, COMMON_ERRORS),
                ),
            )


_TYPE_PARAMETER: dict[str, Any] = {
    "name": "type",
    "in": "path",
    "required": True,
    "description": "A FHIR resource type",
}

# The statuses an operation may answer, each error with an OperationOutcome.
COMMON_ERRORS = ("400", "406")
READ_ERRORS = ("400", "406")
INSTANCE_READ_ERRORS = ("400", "404", "406", "410")
BODY_ERRORS = ("400", "406", "413", "415")
WRITE_ERRORS = (*BODY_ERRORS, "409", "412", "422")

_DESCRIPTIONS = {
    "200": "OK",
    "201": "Created",
    "304": "Not Modified (If-None-Match or If-Modified-Since)",
    "400": "Bad Request: malformed request or a resource breaking FHIR's rules",
    "404": "Not Found: an unsupported type, or no such resource, version or match",
    "406": "Not Acceptable: only JSON is served (Accept or _format)",
    "409": "Conflict: a concurrent change; try again",
    "410": "Gone: the resource was deleted",
    "412": "Precondition Failed: a stale If-Match, or several matches of a condition",
    "413": "Payload Too Large: over the body or Bundle limit",
    "415": "Unsupported Media Type: the body must be JSON",
    "422": "Unprocessable Entity: a business rule or a failed JSON Patch test",
    "503": "Service Unavailable: the server's sync configuration cannot be used",
}


def _responses(
    formats: list[str], success: Mapping[str, str | None], errors: Iterable[str]
) -> dict[str, Any]:
    """``success`` maps a status to its body schema (None: no body); ``errors`` are the
    error statuses, each an OperationOutcome."""
    answers: dict[str, Any] = {}
    for status, schema in success.items():
        answer: dict[str, Any] = {"description": _DESCRIPTIONS[status]}
        if schema is not None:
            answer["content"] = _content(formats, schema)
        answers[status] = answer
    for status in errors:
        answers[status] = _error(status, formats)
    return dict(sorted(answers.items()))


def _error(status: str, formats: list[str]) -> dict[str, Any]:
    return {"description": _DESCRIPTIONS[status], "content": _content(formats, "OperationOutcome")}


# Query and header parameters, in components.parameters.
def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _header(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_ID_SCHEMA = {"type": "string", "pattern": f"^{ID_PATTERN.pattern}$"}
_PARAMETERS: dict[str, dict[str, Any]] = {
    "id": {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "The logical id of a resource",
        "schema": _ID_SCHEMA,
    },
    "vid": {
        "name": "vid",
        "in": "path",
        "required": True,
        "description": "A version id (this server numbers versions 1, 2, ...)",
        "schema": _ID_SCHEMA,
    },
    "_format": _query(
        "_format",
        "The response format, overriding Accept (XML is not supported: 406)",
        {"type": "string", "enum": list(JSON_FORMATS)},
    ),
    "_pretty": _query(
        "_pretty", "Pretty-print the response", {"type": "string", "enum": ["true", "false"]}
    ),
    "_summary": _query(
        "_summary", "Return a summary", {"type": "string", "enum": list(SUMMARY_MODES)}
    ),
    "_elements": _query("_elements", "A comma-separated list of top-level elements to return"),
    "_count": _query("_count", "Page size", {"type": "integer", "minimum": 0}),
    "_since": _query(
        "_since", "Only versions changed at or after this instant", {"type": "string"}
    ),
    "_sort": _query("_sort", "Comma-separated sort keys, '-' for descending"),
    "_include": _query("_include", "Include what matches reference: Type:param[:Target] or *"),
    "_revinclude": _query("_revinclude", "Include resources referring to matches: Type:param"),
    "_total": _query(
        "_total", "Whether to count the matches", {"type": "string", "enum": list(TOTALS)}
    ),
    "search": {
        "name": "search",
        "in": "query",
        "required": False,
        "description": (
            "Any other search parameter of the type (the CapabilityStatement lists each "
            "type's), with modifiers (code:exact), prefixes (ge2020), chains and _has"
        ),
        "style": "form",
        "explode": True,
        "schema": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "If-Match": _header("If-Match", 'Only if the current version is this ETag (W/"3")'),
    "If-None-Match": _header("If-None-Match", 'Answer 304 when the ETag matches (W/"3")'),
    "If-Modified-Since": _header(
        "If-Modified-Since", "Answer 304 unless changed since this HTTP date"
    ),
    "If-None-Exist": _header(
        "If-None-Exist", "Conditional create: a search query; one match answers it, no create"
    ),
    "Prefer": _header(
        "Prefer",
        "return=minimal | representation | OperationOutcome; handling=strict on searches",
    ),
}


def _params(*names: str) -> list[dict[str, str]]:
    return [_ref("parameters", name) for name in names]


def _search_params(builder: _Builder) -> list[dict[str, Any]]:
    """The shared search parameters, the result parameters and the free-form rest."""
    shared = [
        _query(p["name"], f"Search parameter {p['name']} ({p['type']})")
        for p in builder.common_search_params()
    ]
    result = _params("_count", "_sort", "_include", "_revinclude", "_total", "_summary")
    return [*shared, *result, *_params("_elements", "_format", "_pretty", "Prefer", "search")]


_RESOURCE_READ = ("_format", "_pretty", "_summary", "_elements")
_WRITE_PARAMS = ("_format", "_pretty", "Prefer")


def _read(b: _Builder, types: list[str]) -> None:
    b.add(
        "/{type}/{id}",
        "get",
        b.operation(
            "read",
            "read",
            "Read the current version of a resource",
            types=types,
            params=_params("id", *_RESOURCE_READ, "If-None-Match", "If-Modified-Since"),
            responses=_responses(b.formats, {"200": "Resource", "304": None}, INSTANCE_READ_ERRORS),
        ),
    )


def _vread(b: _Builder, types: list[str]) -> None:
    b.add(
        "/{type}/{id}/_history/{vid}",
        "get",
        b.operation(
            "vread",
            "vread",
            "Read one version of a resource",
            types=types,
            params=_params("id", "vid", *_RESOURCE_READ, "If-None-Match", "If-Modified-Since"),
            responses=_responses(b.formats, {"200": "Resource", "304": None}, INSTANCE_READ_ERRORS),
        ),
    )


def _update(b: _Builder, types: list[str]) -> None:
    b.add(
        "/{type}/{id}",
        "put",
        b.operation(
            "update",
            "update",
            "Update a resource, or create it with this id",
            types=types,
            params=_params("id", *_WRITE_PARAMS, "If-Match"),
            body=b.resource_body(),
            responses=_write_responses(b, {"200": "Resource", "201": "Resource"}),
        ),
    )
    conditional = b.types_with(lambda r: bool(r.get("conditionalUpdate")))
    if conditional:
        b.add(
            "/{type}",
            "put",
            b.operation(
                "update",
                "conditionalUpdate",
                "Update the one resource matching the query, or create it",
                types=sorted(set(types) & set(conditional)),
                params=[*_search_params(b), *_params("If-Match")],
                body=b.resource_body(),
                responses=_write_responses(b, {"200": "Resource", "201": "Resource"}),
                conditional=True,
            ),
        )


def _patch(b: _Builder, types: list[str]) -> None:
    b.add(
        "/{type}/{id}",
        "patch",
        b.operation(
            "patch",
            "patch",
            "Change a resource with a JSON Patch",
            types=types,
            params=_params("id", *_WRITE_PARAMS, "If-Match"),
            body=b.patch_body(),
            responses=_write_responses(b, {"200": "Resource"}, "404", "410"),
        ),
    )
    b.add(
        "/{type}",
        "patch",
        b.operation(
            "patch",
            "conditionalPatch",
            "Change the one resource matching the query with a JSON Patch",
            types=types,
            params=[*_search_params(b), *_params("If-Match")],
            body=b.patch_body(),
            responses=_write_responses(b, {"200": "Resource"}, "404", "410"),
            conditional=True,
        ),
    )


def _delete(b: _Builder, types: list[str]) -> None:
    b.add(
        "/{type}/{id}",
        "delete",
        b.operation(
            "delete",
            "delete",
            "Delete a resource (deleting again succeeds)",
            types=types,
            params=_params("id", "_format", "_pretty", "If-Match"),
            responses=_responses(
                b.formats, {"200": "OperationOutcome"}, (*COMMON_ERRORS, "409", "412")
            ),
        ),
    )
    conditional = b.types_with(lambda r: r.get("conditionalDelete") in ("single", "multiple"))
    if conditional:
        b.add(
            "/{type}",
            "delete",
            b.operation(
                "delete",
                "conditionalDelete",
                "Delete what matches the query",
                types=sorted(set(types) & set(conditional)),
                params=_search_params(b),
                responses=_responses(
                    b.formats, {"200": "OperationOutcome"}, (*COMMON_ERRORS, "409", "412")
                ),
                conditional=True,
            ),
        )


def _history_params() -> list[dict[str, str]]:
    return _params("_since", "_count", "_format", "_pretty")


def _history_instance(b: _Builder, types: list[str]) -> None:
    b.add(
        "/{type}/{id}/_history",
        "get",
        b.operation(
            "history-instance",
            "historyInstance",
            "The versions of a resource, newest first",
            types=types,
            params=[*_params("id"), *_history_params()],
            responses=_responses(b.formats, {"200": "Bundle"}, (*COMMON_ERRORS, "404")),
        ),
    )


def _history_type(b: _Builder, types: list[str]) -> None:
    b.add(
        "/{type}/_history",
        "get",
        b.operation(
            "history-type",
            "historyType",
            "The changes to resources of a type, newest first",
            types=types,
            params=_history_params(),
            responses=_responses(b.formats, {"200": "Bundle"}, COMMON_ERRORS),
        ),
    )


def _create(b: _Builder, types: list[str]) -> None:
    conditional = set(b.types_with(lambda r: bool(r.get("conditionalCreate"))))
    extra = _params("If-None-Exist") if conditional >= set(types) else []
    b.add(
        "/{type}",
        "post",
        b.operation(
            "create",
            "create",
            "Create a resource (the server assigns its id)",
            types=types,
            params=[*_params(*_WRITE_PARAMS), *extra],
            body=b.resource_body(),
            responses=_write_responses(b, {"200": "Resource", "201": "Resource"}),
            conditional=bool(extra),
        ),
    )


def _search_type(b: _Builder, types: list[str]) -> None:
    b.add(
        "/{type}",
        "get",
        b.operation(
            "search-type",
            "searchType",
            "Search resources of a type",
            types=types,
            params=_search_params(b),
            responses=_responses(b.formats, {"200": "Bundle"}, COMMON_ERRORS),
        ),
    )
    b.add(
        "/{type}/_search",
        "post",
        b.operation(
            "search-type",
            "searchTypePost",
            "Search resources of a type, the parameters in a form body",
            types=types,
            params=_search_params(b),
            body={
                "required": False,
                "content": {
                    FORM: {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}
                },
            },
            responses=_responses(b.formats, {"200": "Bundle"}, (*COMMON_ERRORS, "413", "415")),
        ),
    )


def _batch(b: _Builder) -> None:
    """``batch`` and ``transaction`` share ``POST [base]``: described once."""
    if "/" in b.paths and "post" in b.paths["/"]:
        return
    codes = [c for c in ("batch", "transaction") if c in b.system_codes()]
    b.add(
        "/",
        "post",
        b.operation(
            codes,
            "batchOrTransaction",
            "Run a batch or transaction Bundle",
            params=_params(*_WRITE_PARAMS),
            body={"required": True, "content": _content(b.formats, "Bundle")},
            responses=_responses(
                b.formats, {"200": "Bundle"}, (*BODY_ERRORS, "404", "409", "412", "422")
            ),
        ),
    )


def _history_system(b: _Builder) -> None:
    b.add(
        "/_history",
        "get",
        b.operation(
            "history-system",
            "historySystem",
            "Every change on the server, newest first",
            params=_history_params(),
            responses=_responses(b.formats, {"200": "Bundle"}, COMMON_ERRORS),
        ),
    )


def _search_system(b: _Builder) -> None:
    b.add(
        "/",
        "get",
        b.operation(
            "search-system",
            "searchSystem",
            "Search every resource type (_type narrows it)",
            params=[*_search_params(b), _query("_type", "Comma-separated resource types")],
            responses=_responses(b.formats, {"200": "Bundle"}, COMMON_ERRORS),
        ),
    )


_EVERYTHING_PARAMS = (
    _query(
        "start",
        "Only records of care on or after this date (by clinical date, on the types R4's "
        "clinical-date parameter covers)",
    ),
    _query("end", "Only records of care on or before this date (as start)"),
    _query("_since", "Only resources changed at or after this instant"),
    _query("_type", "Comma-separated resource types to return (also repeatable)"),
)


def _everything(b: _Builder, types: list[str]) -> None:
    """``[type]/[id]/$everything`` and ``[type]/$everything``: GET with a query, POST with a
    Parameters body (https://hl7.org/fhir/R4/patient-operation-everything.html)."""
    params = [*_EVERYTHING_PARAMS, *_params("_count", "_format", "_pretty", "Prefer")]
    body = {"required": False, "content": _content(b.formats, "Parameters")}
    for path, level, own, errors in (
        ("/{type}/{id}/$everything", "Instance", _params("id"), ("404", "410")),
        ("/{type}/$everything", "Type", [], ()),
    ):
        summary = f"Everything about {'a patient' if own else 'every patient'}: " + (
            "its compartment and the resources that refers to"
        )
        b.add(
            path,
            "get",
            b.operation(
                "operation",
                f"everything{level}",
                summary,
                types=types,
                params=[*own, *params],
                responses=_responses(b.formats, {"200": "Bundle"}, (*COMMON_ERRORS, *errors)),
            ),
        )
        b.add(
            path,
            "post",
            b.operation(
                "operation",
                f"everything{level}Post",
                f"{summary} (the parameters in a Parameters body)",
                types=types,
                params=[*own, *params],
                body=body,
                responses=_responses(
                    b.formats, {"200": "Bundle"}, (*COMMON_ERRORS, *errors, "413", "415")
                ),
            ),
        )


_SCHEMA_OF_TYPE: dict[str, dict[str, Any]] = {
    "boolean": {"type": "string", "enum": ["true", "false"]},
    "integer": {"type": "integer"},
    "unsignedInt": {"type": "integer", "minimum": 0},
    "positiveInt": {"type": "integer", "minimum": 1},
    "date": {"type": "string", "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$"},
}
_OUTPUT_SCHEMAS = ("Bundle", "Parameters")


def _care_operation(b: _Builder, op: CareOperation, types: list[str]) -> None:
    """A care operation (``care/registry.py``) at the levels it has: its inputs as query
    parameters (a resource input only in the body), GET unless it changes data, and POST
    with a Parameters body."""
    inputs = [
        _query(
            i.name,
            f"{i.documentation} ({i.type}{', required' if i.min else ''}"
            f"{', repeatable' if i.repeats else ''})",
            _SCHEMA_OF_TYPE.get(i.type),
        )
        for i in op.inputs
        if i.type != "Resource"
    ]
    output = op.output if op.output in _OUTPUT_SCHEMAS else "Resource"
    body = {"required": False, "content": _content(b.formats, "Parameters")}
    levels: list[tuple[str, str, list[dict[str, str]], tuple[str, ...]]] = []
    if op.instance:
        levels.append((f"/{{type}}/{{id}}/${op.name}", "Instance", _params("id"), ("404", "410")))
    if op.type_level:
        levels.append((f"/{{type}}/${op.name}", "Type", [], ()))
    for path, level, own, errors in levels:
        params = [*own, *inputs, *_params("_format", "_pretty")]
        for method in op.methods:
            post = method == "POST"
            b.add(
                path,
                method.lower(),
                b.operation(
                    "operation",
                    f"{op.name}{level}{'Post' if post else ''}",
                    f"{op.summary}{' (the inputs in a Parameters body)' if post else ''}",
                    types=types,
                    params=params,
                    body=body if post else None,
                    responses=_responses(
                        b.formats,
                        {"200": output},
                        (*COMMON_ERRORS, *errors, *(("413", "415") if post else ()), "422"),
                    ),
                ),
            )


def _validate(b: _Builder, types: list[str]) -> None:
    """``[type]/$validate`` (POST) and ``[type]/[id]/$validate`` (GET, POST):
    ``interactions/validate.py``; always an OperationOutcome."""
    params = [
        _query("mode", "create, update or delete (default create; update for an instance)"),
        _query("profile", "The canonical URL of a profile to validate against"),
        *_params("_format", "_pretty"),
    ]
    body = {"required": False, "content": _content(b.formats, "Resource")}
    summary = "Check a resource against the base rules and the profiles; nothing is stored"
    for path, level, own, errors, methods in (
        ("/{type}/$validate", "Type", [], (), ("post",)),
        ("/{type}/{id}/$validate", "Instance", _params("id"), ("404", "410"), ("get", "post")),
    ):
        for method in methods:
            post = method == "post"
            b.add(
                path,
                method,
                b.operation(
                    "operation",
                    f"validate{level}{'Post' if post else ''}",
                    summary if post else "Check the stored resource",
                    types=types,
                    params=[*own, *params],
                    body=body if post else None,
                    responses=_responses(
                        b.formats,
                        {"200": "OperationOutcome"},
                        (*COMMON_ERRORS, *errors, *(("413", "415") if post else ())),
                    ),
                ),
            )


_NAMED_OPERATIONS: dict[str, Callable[[_Builder, list[str]], None]] = {
    "everything": _everything,
    "validate": _validate,
}


def _sync(b: _Builder) -> None:
    """``POST [base]/$sync`` (``sync/operations.py``): its parameters in the query or a
    Parameters body; the report in a Parameters resource, also when the run failed."""
    params = [
        _query("remote", "The name of a remote in the remotes file (required)"),
        _query("direction", "pull, push or both (default: the remote's own)", _DIRECTIONS),
        _query("dryRun", "Only say what would happen", {"type": "string", "enum": _BOOLEANS}),
        *_params("_format", "_pretty"),
    ]
    b.add(
        "/$sync",
        "post",
        b.operation(
            "operation",
            "syncSystem",
            "Run one sync with a configured remote and answer its report",
            params=params,
            body={"required": False, "content": _content(b.formats, "Parameters")},
            responses=_responses(
                b.formats, {"200": "Parameters"}, (*BODY_ERRORS, "404", "409", "503")
            ),
        ),
    )


def _sync_status(b: _Builder) -> None:
    """``GET|POST [base]/$sync-status`` (``sync/operations.py``): the latest run reports."""
    params = [
        _query("remote", "Only this remote's runs and conflicts"),
        _query("count", "How many runs", {"type": "integer", "minimum": 1, "maximum": 200}),
        *_params("_format", "_pretty"),
    ]
    summary = "The latest sync runs and the open conflicts"
    errors = (*COMMON_ERRORS, "404", "503")
    b.add(
        "/$sync-status",
        "get",
        b.operation(
            "operation",
            "syncStatus",
            summary,
            params=params,
            responses=_responses(b.formats, {"200": "Parameters"}, errors),
        ),
    )
    b.add(
        "/$sync-status",
        "post",
        b.operation(
            "operation",
            "syncStatusPost",
            f"{summary} (the parameters in a Parameters body)",
            params=params,
            body={"required": False, "content": _content(b.formats, "Parameters")},
            responses=_responses(b.formats, {"200": "Parameters"}, (*errors, "413", "415")),
        ),
    )


_DIRECTIONS = {"type": "string", "enum": ["pull", "push", "both"]}
_BOOLEANS = ["true", "false"]
_NAMED_SYSTEM_OPERATIONS: dict[str, Callable[[_Builder], None]] = {
    "sync": _sync,
    "sync-status": _sync_status,
}


def _write_responses(b: _Builder, success: Mapping[str, str | None], *extra: str) -> dict[str, Any]:
    return _responses(b.formats, success, (*WRITE_ERRORS, *extra))


_TYPE_LEVEL: dict[str, Callable[[_Builder, list[str]], None]] = {
    "read": _read,
    "vread": _vread,
    "update": _update,
    "patch": _patch,
    "delete": _delete,
    "history-instance": _history_instance,
    "history-type": _history_type,
    "create": _create,
    "search-type": _search_type,
}
_SYSTEM_LEVEL: dict[str, Callable[[_Builder], None]] = {
    "batch": _batch,
    "transaction": _batch,
    "history-system": _history_system,
    "search-system": _search_system,
}


def _schemas(resource_types: list[str]) -> dict[str, Any]:
    resource = {
        "type": "object",
        "description": "A FHIR resource (https://hl7.org/fhir/R4/resourcelist.html)",
        "required": ["resourceType"],
        "properties": {
            "resourceType": _ref("schemas", "ResourceType"),
            "id": _ID_SCHEMA,
            "meta": {"type": "object", "additionalProperties": True},
        },
        "additionalProperties": True,
    }

    def named(name: str, description: str, **properties: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "description": description,
            "required": ["resourceType", *properties.pop("_required", ())],
            "properties": {
                "resourceType": {"type": "string", "enum": [name]},
                **properties,
            },
            "additionalProperties": True,
        }

    entry_request = {
        "type": "object",
        "required": ["method", "url"],
        "properties": {
            "method": {"type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]},
            "url": {"type": "string"},
            "ifNoneMatch": {"type": "string"},
            "ifModifiedSince": {"type": "string"},
            "ifMatch": {"type": "string"},
            "ifNoneExist": {"type": "string"},
        },
        "additionalProperties": True,
    }
    bundle_entry = {
        "type": "object",
        "properties": {
            "fullUrl": {"type": "string"},
            "resource": _ref("schemas", "Resource"),
            "request": entry_request,
            "response": {"type": "object", "additionalProperties": True},
        },
        "additionalProperties": True,
    }
    issue = {
        "type": "object",
        "required": ["severity", "code"],
        "properties": {
            "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
            "code": {"type": "string"},
            "diagnostics": {"type": "string"},
            "expression": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": True,
    }
    return {
        "ResourceType": {"type": "string", "enum": resource_types},
        "Resource": resource,
        "Bundle": named(
            "Bundle",
            "A Bundle: batch or transaction in, searchset, history or *-response out",
            _required=("type",),
            type={"type": "string"},
            total={"type": "integer", "minimum": 0},
            link={"type": "array", "items": {"type": "object"}},
            entry={"type": "array", "items": bundle_entry},
        ),
        "OperationOutcome": named(
            "OperationOutcome",
            "Why a request failed (or what a delete did)",
            _required=("issue",),
            issue={"type": "array", "minItems": 1, "items": issue},
        ),
        "CapabilityStatement": named(
            "CapabilityStatement", "What this server implements", _required=("rest",)
        ),
        "Parameters": named("Parameters", "The result of an operation"),
        "JsonPatch": {
            "type": "array",
            "description": "A JSON Patch (RFC 6902)",
            "items": {
                "type": "object",
                "required": ["op", "path"],
                "properties": {
                    "op": {
                        "type": "string",
                        "enum": ["add", "remove", "replace", "move", "copy", "test"],
                    },
                    "path": {"type": "string"},
                    "from": {"type": "string"},
                    "value": {},
                },
                "additionalProperties": False,
            },
        },
    }


def openapi_document(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of what ``statement`` (a CapabilityStatement) declares."""
    builder = _Builder(statement)
    paths = builder.build()
    implementation = statement.get("implementation") or {}
    software = statement.get("software") or {}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "fhircare FHIR R4 API",
            "version": software.get("version", __version__),
            "description": (
                f"FHIR {statement.get('fhirVersion', '4.0.1')} REST API "
                "(https://hl7.org/fhir/R4/http.html). The CapabilityStatement at /metadata "
                "lists each type's search parameters."
            ),
        },
        "servers": [{"url": implementation.get("url", "/")}],
        "tags": [
            {"name": "system", "description": "Interactions on the whole server"},
            {"name": "type", "description": "Interactions on a resource type or instance"},
        ],
        "paths": paths,
        "components": {
            "parameters": {
                "type": {**_TYPE_PARAMETER, "schema": _ref("schemas", "ResourceType")},
                **_PARAMETERS,
            },
            "schemas": _schemas(builder.all_types),
        },
    }


# Rendered once per CapabilityStatement object's registry, like the statement itself.
_RENDERED: weakref.WeakKeyDictionary[object, dict[tuple[str, str], bytes]] = (
    weakref.WeakKeyDictionary()
)


def rendered(
    registry: object, base_url: str, policy: str, statement: Callable[[], Mapping[str, Any]]
) -> bytes:
    """The document as bytes, rendered once per (registry, base URL, delete policy)."""
    cache = _RENDERED.setdefault(registry, {})
    key = (base_url, policy)
    if key not in cache:
        cache[key] = jsonio.dumps(openapi_document(statement()))
    return cache[key]
