"""Discriminator paths: https://hl7.org/fhir/R4/profiling.html#discriminator

The restricted FHIRPath of a discriminator (element names, ``$this``, ``extension('url')``,
``ofType(T)``, ``resolve()``) is followed through a slice's definition, once, to find the
element it names there, and compiled into steps that find the values it names in an
occurrence's JSON, each with its type when known (a choice's key, a resource's
``resourceType``, a reference's target after ``resolve()``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fhircare.validation.profiles.definition import Definition, ExpansionError
from fhircare.validation.profiles.errors import ProfileError
from fhircare.validation.profiles.nodes import Run
from fhircare.validation.profiles.targets import target_type

Values = list[tuple[Any, str | None]]  # JSON values and their type codes, when known
Step = Callable[[Values, Run], Values]

_TOKEN = re.compile(
    r"""\$this|resolve\(\)|extension\((?:'(?P<q1>[^']*)'|"(?P<q2>[^"]*)")\)"""
    r"|ofType\((?P<type>[A-Za-z]+)\)|(?P<name>[A-Za-z][A-Za-z0-9_]*)(?:\[x\])?"
)


def _tokens(path: str, url: str, where: str) -> list[re.Match[str]]:
    out, position = [], 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise ProfileError(url, f"discriminator path {path!r} is not supported", where)
        out.append(match)
        position = match.end()
        if position < len(path):
            if path[position] != ".":
                raise ProfileError(url, f"discriminator path {path!r} is not supported", where)
            position += 1
    return out


def _typed(value: Any, declared: str | None) -> tuple[Any, str | None]:
    if isinstance(value, Mapping) and isinstance(value.get("resourceType"), str):
        return value, value["resourceType"]
    return value, declared


def _child_step(key: str, declared: str | None) -> Step:
    def step(values: Values, run: Run) -> Values:
        out: Values = []
        for value, _ in values:
            if isinstance(value, Mapping):
                found = value.get(key)
                if isinstance(found, list):
                    out.extend(_typed(v, declared) for v in found if v is not None)
                elif found is not None:
                    out.append(_typed(found, declared))
        return out

    return step


def _choice_step(keys: dict[str, str]) -> Step:
    def step(values: Values, run: Run) -> Values:
        out: Values = []
        for value, _ in values:
            if isinstance(value, Mapping):
                out.extend((value[k], code) for k, code in keys.items() if k in value)
        return out

    return step


def _of_type(code: str) -> Step:
    def step(values: Values, run: Run) -> Values:
        return [(v, t) for v, t in values if t == code]

    return step


def _extension_step(url: str) -> Step:
    def step(values: Values, run: Run) -> Values:
        out: Values = []
        for value, _ in values:
            extensions = value.get("extension") if isinstance(value, Mapping) else None
            for item in extensions if isinstance(extensions, list) else ():
                if isinstance(item, Mapping) and item.get("url") == url:
                    out.append((item, "Extension"))
        return out

    return step


def _resolve_step(values: Values, run: Run) -> Values:
    out: Values = []
    for value, _ in values:
        target = target_type(value, run) if isinstance(value, Mapping) else None
        if target is not None:
            out.append(({"resourceType": target}, target))
    return out


def _capitalized(code: str) -> str:
    return code[:1].upper() + code[1:]


def _single_type(node: Definition) -> str | None:
    codes = {t.code for t in node.types}
    return next(iter(codes)) if len(codes) == 1 else None


def _extension_slice(node: Definition, url: str) -> Definition | None:
    extension = node.child("extension")
    for found in extension.slices if extension is not None else ():
        if any(url in t.profiles for t in found.types):
            return found
        child = found.child("url")
        if child is not None and child.fixed is not None and child.fixed[1] == url:
            return found
    return None


class Unresolvable(Exception):
    """A discriminator that reads into a referenced resource, which nothing here fetches."""


class DiscriminatorPath:
    """A discriminator path followed through one slice's definition.

    ``node`` is the element the path names; ``nodes`` adds the same element in each slice
    the path passes through (``code.coding.code`` where ``code.coding`` is sliced and each
    slice fixes its code), where a value discriminator finds its values too.
    """

    def __init__(self, slice_def: Definition, path: str, url: str) -> None:
        self.where = slice_def.id
        self.steps: list[Step] = []
        self.resolved = False
        self.parent: Definition | None = None
        node = slice_def
        nodes = [slice_def]
        tokens = _tokens(path, url, self.where)
        try:
            for index, token in enumerate(tokens):
                text = token.group(0)
                if text == "$this":
                    continue
                if self.resolved:
                    raise Unresolvable(f"{path!r} reads into the referenced resource")
                if text == "resolve()":
                    self.resolved = True
                    self.steps.append(_resolve_step)
                    continue
                ext_url = token.group("q1") or token.group("q2")
                if ext_url is not None:
                    found = _extension_slice(node, ext_url)
                    if found is None:
                        raise ProfileError(url, f"no extension slice for {ext_url}", self.where)
                    self.parent, node, nodes = node, found, [found]
                    self.steps.append(_extension_step(ext_url))
                    continue
                if token.group("type"):
                    code = token.group("type")
                    self.steps.append(_of_type(code))
                    if node.is_choice:
                        node = node.slice(node.name[:-3] + _capitalized(code)) or node
                        nodes = [node]
                    continue
                name = token.group("name")
                following = tokens[index + 1].group("type") if index + 1 < len(tokens) else None
                children = []
                for candidate in nodes:
                    child = candidate.child(name) or candidate.child(name + "[x]")
                    if child is None:
                        message = f"no element {name!r} on the discriminator path"
                        raise ProfileError(url, message, self.where)
                    if child.is_choice:
                        keys = {child.name[:-3] + _capitalized(t.code): t.code for t in child.types}
                        if following is None and len(keys) == 1:
                            child = child.slice(next(iter(keys))) or child
                    children.append(child)
                    children.extend(s for s in child.slices if not child.is_choice)
                primary = children[0]
                if primary.is_choice:
                    keys = {name + _capitalized(t.code): t.code for t in primary.types}
                    self.steps.append(_choice_step(keys))
                else:
                    self.steps.append(_child_step(name, _single_type(primary)))
                self.parent, node, nodes = node, primary, children
        except ExpansionError as exc:
            raise ProfileError(url, str(exc), self.where) from None
        self.node = node
        self.nodes = nodes

    def values(self, value: Any, run: Run) -> Values:
        found: Values = [_typed(value, None)]
        for step in self.steps:
            found = step(found, run)
            if not found:
                break
        return found
