"""Slice discriminators, compiled into matchers: https://hl7.org/fhir/R4/profiling.html#discriminator

A discriminator path is the restricted FHIRPath of the spec: element names, ``$this``,
``extension('url')``, ``ofType(T)`` and ``resolve()``. It is followed twice: through the
slice's definition when compiling, to find what the slice says there (a fixed or pattern
value, a required binding, a cardinality, types, profiles), and through each occurrence's
JSON when checking, to find the values to compare.

- value, pattern: some value there equals the fixed value, or contains the pattern, or is
  in the value set of a required binding; on an extension's ``url``, the extension's
  profile url stands in for a fixed value.
- exists: the element is present (the slice says min 1) or absent (max 0).
- type: some value there is of one of the slice's types; after ``resolve()``, a reference
  whose target type is one of the target profiles' types.
- profile: some value conforms to one of the profiles; after ``resolve()``, only the
  target's type can be compared, as nothing is fetched.

With no discriminator at all, an occurrence belongs to a slice it conforms to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fhircare.validation.profiles.base import core_type_of
from fhircare.validation.profiles.definition import Definition, ExpansionError
from fhircare.validation.profiles.errors import ProfileError
from fhircare.validation.profiles.facts import Discriminator
from fhircare.validation.profiles.nodes import Matcher, Node, Run
from fhircare.validation.profiles.profile import ProfileRef
from fhircare.validation.profiles.targets import target_type
from fhircare.validation.profiles.terminology import Expansion, Terminology
from fhircare.validation.profiles.values import contains, same_value

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


class _Path:
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


class _ValueMatcher:
    __slots__ = ("exact", "expected", "path")

    def __init__(self, path: _Path, expected: list[Any], exact: bool) -> None:
        self.path, self.expected, self.exact = path, expected, exact

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        test = same_value if self.exact else contains
        return any(test(v, e) for v, _ in self.path.values(value, run) for e in self.expected)


class _CodeMatcher:
    __slots__ = ("expansion", "path")

    def __init__(self, path: _Path, expansion: Expansion) -> None:
        self.path, self.expansion = path, expansion

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        codes = self.expansion.codes
        for found, _ in self.path.values(value, run):
            if isinstance(found, str) and found in self.expansion.bare:
                return True
            if isinstance(found, Mapping):
                codings = found.get("coding") if "coding" in found else [found]
                for c in codings if isinstance(codings, list) else ():
                    if isinstance(c, Mapping) and (c.get("system"), c.get("code")) in codes:
                        return True
        return False


class _ExistsMatcher:
    __slots__ = ("path", "present")

    def __init__(self, path: _Path, present: bool) -> None:
        self.path, self.present = path, present

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        return bool(self.path.values(value, run)) == self.present


class _TypeMatcher:
    __slots__ = ("codes", "path")

    def __init__(self, path: _Path, codes: frozenset[str]) -> None:
        self.path, self.codes = path, codes

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        return any(t in self.codes for _, t in self.path.values(value, run))


class _ProfileMatcher:
    __slots__ = ("path", "refs")

    def __init__(self, path: _Path, refs: tuple[ProfileRef, ...]) -> None:
        self.path, self.refs = path, refs

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        for found, found_type in self.path.values(value, run):
            for ref in self.refs:
                profile = ref.profile
                if self.path.resolved:
                    if found_type == (profile.type if profile else core_type_of(ref.url)):
                        return True
                elif profile is not None and run.conforms(profile.root, found, None, ""):
                    return True
        return False


class _ConformsMatcher:
    """No discriminator: the occurrence belongs to the slice it conforms to."""

    __slots__ = ("slice",)

    def __init__(self, node: Node) -> None:
        self.slice = node

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        return run.conforms(self.slice, value, ext, "")


def _target_types(
    node: Definition, url: str, where: str, type_of: Callable[[str], str | None]
) -> frozenset[str]:
    out = set()
    for ref in node.types:
        for target in ref.target_profiles:
            found = core_type_of(target) or type_of(target)
            if found is None:
                raise ProfileError(url, f"target profile {target} is not known", where)
            out.add(found)
    return frozenset(out)


def compile_matchers(
    discriminators: tuple[Discriminator, ...],
    slice_def: Definition,
    slice_node: Node,
    url: str,
    terminology: Terminology,
    ref: Callable[[str], ProfileRef],
    type_of: Callable[[str], str | None],
) -> tuple[Matcher, ...]:
    """The matchers that decide whether an occurrence belongs to ``slice_def``."""
    if not discriminators:
        return (_ConformsMatcher(slice_node),)
    out: list[Matcher] = []
    where = slice_def.id
    for discriminator in discriminators:
        path = _Path(slice_def, discriminator.path, url)
        node = path.node
        kind = discriminator.kind
        if kind in ("value", "pattern"):
            fixed = [n.fixed[1] for n in path.nodes if n.fixed is not None]
            patterns = [n.pattern[1] for n in path.nodes if n.pattern is not None]
            binding = node.binding
            if fixed:
                out.append(_ValueMatcher(path, fixed, exact=True))
            elif patterns:
                out.append(_ValueMatcher(path, patterns, exact=False))
            elif binding is not None and binding.strength == "required" and binding.value_set:
                expansion = terminology.expansion(binding.value_set)
                if not isinstance(expansion, Expansion):
                    raise ProfileError(url, f"discriminator: {expansion.reason}", where)
                out.append(_CodeMatcher(path, expansion))
            elif node.name == "url" and path.parent is not None and _extension_url(path.parent):
                out.append(_ValueMatcher(path, [_extension_url(path.parent)], exact=True))
            else:
                message = f"no fixed value, pattern or required binding at {discriminator.path!r}"
                raise ProfileError(url, message, where)
        elif kind == "exists":
            if node.min >= 1:
                out.append(_ExistsMatcher(path, True))
            elif node.max == "0":
                out.append(_ExistsMatcher(path, False))
            else:
                raise ProfileError(
                    url, f"{discriminator.path!r} is neither required nor forbidden", where
                )
        elif kind == "type":
            codes = (
                _target_types(node, url, where, type_of)
                if path.resolved
                else frozenset(t.code for t in node.types)
            )
            out.append(_TypeMatcher(path, codes))
        else:  # profile
            urls = [
                u for t in node.types for u in (t.target_profiles if path.resolved else t.profiles)
            ]
            if not urls:
                raise ProfileError(url, f"no profile at {discriminator.path!r}", where)
            out.append(_ProfileMatcher(path, tuple(ref(u) for u in urls)))
    return tuple(out)


def _extension_url(node: Definition) -> str | None:
    """The url of the extension definition an extension slice is typed with."""
    for ref in node.types:
        if ref.code == "Extension" and ref.profiles:
            return ref.profiles[0].partition("|")[0]
    return None
