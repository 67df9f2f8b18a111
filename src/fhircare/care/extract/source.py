"""The response ``$extract`` works on and the Questionnaire it answers.

The Questionnaire is found by the response's ``questionnaire`` canonical
(https://hl7.org/fhir/R4/references.html#canonical): ``url|version`` is a search on both,
a bare url takes the most recently updated Questionnaire with that url.
"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import errors, jsonio
from fhircare.fhir.errors import FhirError
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.search import search
from fhircare.search.normalize import split_canonical

QUESTIONNAIRE = "QuestionnaireResponse.questionnaire"


async def questionnaire_of(context: Context, response: dict[str, Any]) -> dict[str, Any]:
    """The Questionnaire ``response`` answers; 422 naming its ``questionnaire`` when none
    can be found."""
    canonical = response.get("questionnaire")
    if not isinstance(canonical, str) or not canonical:
        raise errors.processing(
            "The response names no questionnaire, so there is nothing to extract by",
            QUESTIONNAIRE,
        )
    url, version = split_canonical(canonical)
    query = [("url", _escaped(url)), ("_sort", "-_lastUpdated"), ("_count", "1")]
    if version is not None:
        query.append(("version", _escaped(version)))
    try:
        found = await search(context, FhirRequest("GET", "Questionnaire", query=tuple(query)))
    except FhirError as error:
        raise errors.processing(
            f"The response's questionnaire cannot be looked up: {error}", QUESTIONNAIRE
        ) from None
    entries = jsonio.loads(found.body or b"{}").get("entry") or []
    matches = [e["resource"] for e in entries if e.get("search", {}).get("mode") == "match"]
    if not matches:
        raise errors.processing(
            f"No Questionnaire on this server has url '{url[:200]}'"
            + (f" and version '{version[:40]}'" if version is not None else ""),
            QUESTIONNAIRE,
        )
    return dict(matches[0])


def _escaped(value: str) -> str:
    """A search value matching ``value`` itself (https://hl7.org/fhir/R4/search.html#escaping)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$").replace("|", "\\|")
