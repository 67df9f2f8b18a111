"""What a Questionnaire says about extraction: where resources start and what each item fills.

SDC 3.0.0 (the version for R4) marks where a resource starts with the extension
``sdc-questionnaire-itemExtractionContext`` on the Questionnaire or on an item
(https://hl7.org/fhir/uv/sdc/STU3/StructureDefinition-sdc-questionnaire-itemExtractionContext.html);
a ``valueCode`` names the resource type to create. An item's ``definition``
(``...StructureDefinition/Condition#Condition.code``) names the element its answers fill
in the nearest enclosing context's resource. A hidden item
(``questionnaire-hidden``) with an ``initial`` value is how a form fixes a value the user
never sees (a Condition's category): fhircare takes its initial value as the answer when the
response leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhircare.care.extract.elements import EXTRACTED_TYPES, Element, element
from fhircare.fhir import errors

CONTEXT = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-itemExtractionContext"
HIDDEN = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
ROOT = ""
"""The key of the Questionnaire's own context in ``Form.fixed``."""


@dataclass(frozen=True)
class FormItem:
    """One Questionnaire item as extraction sees it."""

    link_id: str
    where: str
    context: str | None
    """The resource type this item starts (its extraction context), or None."""
    definition: tuple[str, str] | None
    """(resource type, element path) of its ``definition``, or None."""
    initial: tuple[dict[str, Any], ...] = ()


@dataclass
class Form:
    """A Questionnaire indexed for extraction."""

    root_context: str | None
    items: dict[str, FormItem] = field(default_factory=dict)
    fixed: dict[str, list[FormItem]] = field(default_factory=dict)
    """Per context (its item's linkId, ``ROOT`` for the Questionnaire), the hidden items
    with a definition and an initial value directly in its scope."""

    @property
    def extracts(self) -> bool:
        return self.root_context is not None or any(i.context for i in self.items.values())

    def target(self, item: FormItem, resource_type: str) -> Element | None:
        """The element ``item`` fills in a ``resource_type`` being extracted: None when it
        has no definition or one of another type; 422 when fhircare does not know it."""
        if item.definition is None or item.definition[0] != resource_type:
            return None
        known = element(item.definition[1])
        if known is None:
            raise errors.processing(
                f"{item.where}.definition: fhircare does not extract {item.definition[1]} "
                "(see the $extract OperationDefinition for the elements it fills)",
                f"{item.where}.definition",
            )
        return known


def read_form(questionnaire: dict[str, Any]) -> Form:
    """Index ``questionnaire``; 422 naming an extraction context fhircare cannot follow."""
    form = Form(_context(questionnaire, "Questionnaire"))
    form.fixed[ROOT] = []
    _index(form, questionnaire.get("item") or [], "Questionnaire", ROOT)
    return form


def _index(form: Form, items: list[dict[str, Any]], prefix: str, scope: str) -> None:
    for index, item in enumerate(items):
        where = f"{prefix}.item[{index}]"
        link_id = str(item.get("linkId"))
        context = _context(item, where)
        found = FormItem(
            link_id, where, context, _definition(item), tuple(item.get("initial") or ())
        )
        form.items[link_id] = found
        if found.definition and found.initial and _hidden(item):
            form.fixed[scope].append(found)
        inner = scope
        if context is not None:
            inner = link_id
            form.fixed[inner] = []
        _index(form, item.get("item") or [], where, inner)


def _context(element: dict[str, Any], where: str) -> str | None:
    for extension in element.get("extension") or ():
        if extension.get("url") != CONTEXT:
            continue
        code = extension.get("valueCode")
        if code not in EXTRACTED_TYPES:
            given = f"'{code}'" if code else "an expression"
            raise errors.processing(
                f"{where}: its extraction context is {given}; fhircare extracts new "
                f"{', '.join(EXTRACTED_TYPES)} resources named by valueCode",
                f"{where}.extension",
            )
        return str(code)
    return None


def _definition(item: dict[str, Any]) -> tuple[str, str] | None:
    """(type, path) of ``StructureDefinition-url#Type.path``; None for anything else."""
    definition = item.get("definition")
    if not isinstance(definition, str) or "#" not in definition:
        return None
    path = definition.rsplit("#", 1)[1]
    resource_type = path.split(".", 1)[0]
    return (resource_type, path) if resource_type[:1].isupper() and "." in path else None


def _hidden(item: dict[str, Any]) -> bool:
    return any(
        e.get("url") == HIDDEN and e.get("valueBoolean") is True
        for e in item.get("extension") or ()
    )
