"""Walking a QuestionnaireResponse beside its Questionnaire into the resources it makes.

https://hl7.org/fhir/uv/sdc/STU3/extraction.html#definition-based-extraction. Each
response item whose Questionnaire item carries an extraction context starts a new
resource, so a repeating group makes one resource per answered repetition; the answers of
the items below it (and below its answers) fill the elements their definitions name. A
resource no answer reached is not made, except the one the Questionnaire itself starts,
which always is (SDC: "created even if there are no answers"). Hidden items' initial
values (``extract_form``) fill what the response left out, but do not by themselves make
a resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhircare.care.extract.elements import write
from fhircare.care.extract.form import ROOT, Form, FormItem
from fhircare.fhir import errors


@dataclass
class Draft:
    """A resource being extracted and the response item it comes from."""

    resource_type: str
    where: str
    """The response item that started it (``QuestionnaireResponse`` for the root)."""
    scope: str
    resource: dict[str, Any] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.resource.setdefault("resourceType", self.resource_type)


def extract_drafts(form: Form, response: dict[str, Any]) -> list[Draft]:
    """The resources ``response`` makes, innermost first and the Questionnaire's last."""
    made: list[Draft] = []
    root = Draft(form.root_context, "QuestionnaireResponse", ROOT) if form.root_context else None
    _walk(form, response.get("item") or [], "QuestionnaireResponse", root, made)
    if root is not None:
        _fix(form, root)
        made.append(root)
    return made


def _walk(
    form: Form, items: list[dict[str, Any]], prefix: str, draft: Draft | None, made: list[Draft]
) -> None:
    for index, item in enumerate(items):
        where = f"{prefix}.item[{index}]"
        known = form.items.get(str(item.get("linkId")))
        if known is None:
            raise errors.processing(
                f"{where}: linkId '{str(item.get('linkId'))[:64]}' is not an item of the "
                "response's Questionnaire",
                f"{where}.linkId",
            )
        current = draft
        if known.context is not None:
            current = Draft(known.context, where, known.link_id)
        answers = item.get("answer") or []
        if current is not None:
            _fill(form, current, known, answers, f"{where}.answer")
        _walk(form, item.get("item") or [], where, current, made)
        for number, answer in enumerate(answers):
            _walk(form, answer.get("item") or [], f"{where}.answer[{number}]", current, made)
        if known.context is not None and current is not None and current.answered:
            _fix(form, current)
            made.append(current)


def _fill(
    form: Form, draft: Draft, item: FormItem, answers: list[dict[str, Any]], prefix: str
) -> None:
    target = form.target(item, draft.resource_type)
    if target is None or not answers:
        return
    for number, answer in enumerate(answers):
        write(draft.resource, target, answer, f"{prefix}[{number}]")
    draft.answered.add(item.link_id)


def _fix(form: Form, draft: Draft) -> None:
    """The initial values of the hidden items the response did not answer."""
    for item in form.fixed.get(draft.scope, ()):
        target = form.target(item, draft.resource_type)
        if target is None or item.link_id in draft.answered:
            continue
        for number, initial in enumerate(item.initial):
            write(draft.resource, target, initial, f"{item.where}.initial[{number}]")
