"""The elements ``$extract`` fills from answers, and how an answer becomes their value.

Definition-based extraction (https://hl7.org/fhir/uv/sdc/STU3/extraction.html#definition-based-extraction):
an item's ``definition`` is ``[StructureDefinition url]#[element path]``, such as
``http://hl7.org/fhir/StructureDefinition/Condition#Condition.code``; each answer becomes
that element's value in the resource being extracted. fhircare knows the elements below
(``ELEMENTS``): a ``*`` marks an element that repeats, ``[x]`` a choice whose type the
answer picks (``Goal.target.detail[x]`` from a ``valueQuantity`` is ``detailQuantity``).

Writing a path: below a repeating element (``Goal.target``, ``Condition.note``) an answer
goes into the last instance unless that already holds the element, in which case it starts
a new one (a Goal's measure, detail and due date share one target; a second measure starts
a second target). A repeating leaf (``Condition.category``) takes each answer; a single one
takes one answer, and a second is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhircare.fhir import errors

ELEMENTS: dict[str, tuple[str, ...]] = {
    "Condition.clinicalStatus": ("CodeableConcept",),
    "Condition.verificationStatus": ("CodeableConcept",),
    "Condition.category*": ("CodeableConcept",),
    "Condition.severity": ("CodeableConcept",),
    "Condition.code": ("CodeableConcept",),
    "Condition.bodySite*": ("CodeableConcept",),
    "Condition.onset[x]": ("dateTime", "string"),
    "Condition.note*.text": ("markdown",),
    "Goal.category*": ("CodeableConcept",),
    "Goal.priority": ("CodeableConcept",),
    "Goal.description": ("CodeableConcept",),
    "Goal.start[x]": ("date", "CodeableConcept"),
    "Goal.target*.measure": ("CodeableConcept",),
    "Goal.target*.detail[x]": ("Quantity", "CodeableConcept", "string", "boolean", "integer"),
    "Goal.target*.due[x]": ("date",),
    "Goal.note*.text": ("markdown",),
    "CarePlan.title": ("string",),
    "CarePlan.description": ("string",),
    "CarePlan.category*": ("CodeableConcept",),
    "CarePlan.note*.text": ("markdown",),
}
"""fhircare's subset: each element path (``*`` repeats) and the types it takes, in the
order a choice tries them."""

EXTRACTED_TYPES = tuple(sorted({path.split(".")[0] for path in ELEMENTS}))


@dataclass(frozen=True)
class Step:
    name: str
    repeats: bool
    choice: bool


@dataclass(frozen=True)
class Element:
    """A known element: its path steps below the resource and the types it takes."""

    path: str
    steps: tuple[Step, ...]
    types: tuple[str, ...]


def _element(path: str, types: tuple[str, ...]) -> Element:
    steps = []
    for part in path.split(".")[1:]:
        repeats, part = part.endswith("*"), part.rstrip("*")
        choice, part = part.endswith("[x]"), part.removesuffix("[x]")
        steps.append(Step(part, repeats, choice))
    return Element(path.replace("*", ""), tuple(steps), types)


KNOWN = {e.path: e for e in (_element(path, types) for path, types in ELEMENTS.items())}


def element(path: str) -> Element | None:
    """The known element at ``path`` (``Condition.code``), or None."""
    return KNOWN.get(path)


def _coding(value: Any) -> Any:
    return {"coding": [value]}


def _text(value: Any) -> Any:
    return {"text": value}


def _same(value: Any) -> Any:
    return value


CONVERSIONS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "CodeableConcept": {"valueCoding": _coding, "valueString": _text},
    "string": {"valueString": _same},
    "markdown": {"valueString": _same},
    "dateTime": {"valueDateTime": _same, "valueDate": _same},
    "date": {"valueDate": _same},
    "Quantity": {"valueQuantity": _same},
    "boolean": {"valueBoolean": _same},
    "integer": {"valueInteger": _same},
}
"""For each element type, the answer ``value[x]`` kinds that fill it and how."""


def value_kind(answer: dict[str, Any]) -> str | None:
    """The ``value[x]`` key of an answer (or of an ``initial``), or None."""
    return next((key for key in answer if key.startswith("value")), None)


def typed_value(target: Element, answer: dict[str, Any], where: str) -> tuple[str, Any]:
    """The element type an answer fills and the value, or 422 naming the answer."""
    kind = value_kind(answer)
    for type_name in target.types:
        convert = CONVERSIONS[type_name].get(kind or "")
        if convert is not None:
            return type_name, convert(answer[kind or ""])
    raise errors.processing(
        f"{where}: {kind or 'an answer without a value'} cannot fill {target.path} "
        f"({' or '.join(target.types)})",
        where,
    )


def write(resource: dict[str, Any], target: Element, answer: dict[str, Any], where: str) -> None:
    """Put ``answer`` at ``target`` in ``resource`` (rules in the module docstring)."""
    type_name, value = typed_value(target, answer, where)
    node = resource
    *parents, leaf = target.steps
    for index, step in enumerate(parents):
        if not step.repeats:
            node = node.setdefault(step.name, {})
            continue
        instances = node.setdefault(step.name, [])
        rest = target.steps[index + 1 :]
        if not instances or _holds(instances[-1], rest):
            instances.append({})
        node = instances[-1]
    key = leaf.name + (type_name[0].upper() + type_name[1:] if leaf.choice else "")
    if leaf.repeats:
        node.setdefault(key, []).append(value)
    elif _holds(node, (leaf,)):
        raise errors.processing(
            f"{where}: {target.path} takes one value and already has one", where
        )
    else:
        node[key] = value


def _holds(node: dict[str, Any], steps: tuple[Step, ...]) -> bool:
    """Whether ``node`` already has a value at ``steps`` (a choice under any type)."""
    step, rest = steps[0], steps[1:]
    found = [v for k, v in node.items() if k == step.name or (step.choice and _typed(k, step))]
    if not rest:
        return bool(found)
    children = found[0] if found and isinstance(found[0], list) else found
    return any(isinstance(child, dict) and _holds(child, rest) for child in children)


def _typed(key: str, step: Step) -> bool:
    return key.startswith(step.name) and key[len(step.name) : len(step.name) + 1].isupper()
