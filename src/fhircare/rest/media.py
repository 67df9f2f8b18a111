"""Media types: JSON in and out; XML is refused, honestly. https://hl7.org/fhir/R4/http.html#mime-type"""

from __future__ import annotations

from fhircare.fhir import errors

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
JSON_PATCH = "application/json-patch+json"
JSON_FORMATS = ("json", FHIR_JSON, JSON, "application/json+fhir", "text/json")  # of _format
_XML_FORMATS = {
    "xml",
    "application/fhir+xml",
    "application/xml",
    "text/xml",
    "application/xml+fhir",
}
_ANY = {"*/*", "application/*"}


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def response_type(accept: str | None, format_param: str | None) -> str:
    """The content type to answer with, from ``_format`` (which wins) or ``Accept``; else 406."""
    if format_param is not None:
        wanted = format_param.strip().lower().replace(" ", "+")
        if wanted in JSON_FORMATS:
            return FHIR_JSON
        kind = "XML is" if wanted in _XML_FORMATS else f"'{format_param[:40]}' is"
        raise errors.not_acceptable(f"_format: {kind} not supported; this server speaks JSON")
    if not accept:
        return FHIR_JSON
    offered = [_media_type(part) for part in accept.split(",") if part.strip()]
    if FHIR_JSON in offered or "application/json+fhir" in offered:
        return FHIR_JSON
    if JSON in offered:
        return JSON
    if any(media in _ANY or media.endswith("+json") for media in offered):
        return FHIR_JSON
    raise errors.not_acceptable(
        f"Accept '{accept[:80]}' names no JSON type; this server speaks only FHIR JSON"
    )


FORM = "application/x-www-form-urlencoded"


def check_body_type(content_type: str | None, kind: str = "resource") -> None:
    """415 unless the body is FHIR JSON, a JSON Patch (``kind`` patch) or a form (``form``)."""
    media = _media_type(content_type or "")
    if kind == "form":
        if media not in ("", FORM):
            raise errors.unsupported_media(f"POST _search takes {FORM}, not '{media}'")
        return
    if kind == "patch":
        if media != JSON_PATCH:
            raise errors.unsupported_media(
                f"PATCH needs {JSON_PATCH}; '{media or 'no Content-Type'}' is not supported"
            )
        return
    if media in ("", FHIR_JSON, JSON, "application/json+fhir"):
        return
    if media in _XML_FORMATS:
        raise errors.unsupported_media("XML bodies are not supported; send application/fhir+json")
    raise errors.unsupported_media(f"Content-Type '{media}' is not supported; send {FHIR_JSON}")
