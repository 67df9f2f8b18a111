"""Check a resource against a compiled profile: one walk over the compiled nodes.

Only the elements a profile constrains are visited. Each occurrence is reported with a
FHIRPath expression rooted at the resource, indexed where the element repeats
(``CarePlan.activity[2].detail.status``) and with ``ofType`` for a choice
(``Observation.value.ofType(Quantity)``), as the rule walk names them. Messages follow the
reference validator's where it has one ("minimum required = 1, but only found 0").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fhircare.fhir.jsoncopy import copy_json
from fhircare.validation.issues import IssueCollector
from fhircare.validation.profiles.nodes import Node, SliceRules, Variant

if TYPE_CHECKING:
    from fhircare.validation.profiles.profile import Profile
    from fhircare.validation.profiles.profileset import ProfileSet

Occurrence = tuple[Any, Any, str]  # JSON value, "_name" object of a primitive, expression
_EMPTY: dict[str, Any] = {}


def _occurrences(
    obj: Mapping[str, Any], key: str, primitive: bool, is_list: bool, where: str
) -> list[Occurrence]:
    value = obj.get(key)
    ext = obj.get("_" + key) if primitive else None
    if value is None and ext is None:
        return []
    if not is_list:
        if type(value) is list or type(ext) is list:
            return []  # a wrong shape: the structural engine reports it
        return [(value, ext, where)]
    values = value if type(value) is list else ([] if value is None else [value])
    exts = ext if type(ext) is list else []
    out = []
    for index in range(max(len(values), len(exts))):
        item = values[index] if index < len(values) else None
        item_ext = exts[index] if index < len(exts) else None
        if item is not None or item_ext is not None:
            out.append((item, item_ext, f"{where}[{index}]"))
    return out


class _Run:
    """One check of one resource; the state every value check may ask for."""

    __slots__ = ("_contained", "_copy", "issues", "must_support", "profiles", "resource")

    def __init__(
        self,
        resource: Mapping[str, Any],
        profiles: ProfileSet,
        issues: IssueCollector,
        must_support: bool,
    ) -> None:
        self.resource = resource
        self.profiles = profiles
        self.issues = issues
        self.must_support = must_support
        self._contained: dict[str, str] | None = None
        self._copy: Any = None

    def issue(
        self, code: str, message: str, expression: str, severity: str = "error", key: str = ""
    ) -> None:
        self.issues.add(code, message, expression, severity=severity, key=key)

    def contained_type(self, contained_id: str) -> str | None:
        if self._contained is None:
            contained = self.resource.get("contained")
            self._contained = {
                c["id"]: c["resourceType"]
                for c in (contained if isinstance(contained, list) else ())
                if isinstance(c, Mapping)
                and isinstance(c.get("id"), str)
                and isinstance(c.get("resourceType"), str)
            }
        return self._contained.get(contained_id)

    def resource_copy(self) -> Any:
        """One copy of the resource for fhirpathpy, made when first asked for."""
        if self._copy is None:
            self._copy = copy_json(self.resource)
        return self._copy

    def conforms(self, node: Node, value: Any, ext: Any, expression: str) -> bool:
        """Whether the value has no error against ``node`` (nothing is reported)."""
        scratch = _Run(self.resource, self.profiles, IssueCollector(), False)
        scratch._contained = self._contained
        scratch._copy = self._copy
        scratch.item(node, value, ext, expression)
        return not any(i.severity == "error" for i in scratch.issues.issues)

    def item(self, node: Node, value: Any, ext: Any, expression: str) -> None:
        """Every rule of ``node`` on one occurrence, then its children."""
        for check in node.checks:
            check(value, ext, expression, self)
        if node.children:
            obj = value if type(value) is dict else ext
            self.children(node, obj if type(obj) is dict else _EMPTY, expression)

    def children(self, node: Node, obj: Mapping[str, Any], expression: str) -> None:
        for child in node.children:
            if child.variants is not None:
                self.choice(child, obj, expression)
                continue
            where = f"{expression}.{child.step}"
            found = _occurrences(obj, child.key, child.primitive, child.is_list, where)
            self.cardinality(child, len(found), where)
            if child.slicing is not None:
                self.slices(child, child.slicing, found, where)
            for value, ext, at in found:
                self.item(child, value, ext, at)

    def cardinality(self, node: Node, count: int, where: str) -> None:
        if node.check_min and count < node.min:
            message = f"{where}: minimum required = {node.min}, but only found {count}"
            self.issue("required", message, where, key=node.label)
        elif node.check_max and node.max is not None and count > node.max:
            message = f"{where}: max allowed = {node.max}, but found {count}"
            self.issue("structure", message, where, key=node.label)
        if self.must_support and node.must_support and count == 0:
            message = f"{where}: {node.label} is mustSupport but absent"
            self.issue("informational", message, where, "information", key=node.label)

    def choice(self, node: Node, obj: Mapping[str, Any], expression: str) -> None:
        variants = node.variants
        assert variants is not None
        found: list[tuple[Variant, Occurrence]] = []
        for key in obj:
            variant = variants.get(key)
            if variant is None and key.startswith("_"):
                variant = variants.get(key[1:])
                if variant is not None and variant.key in obj:
                    continue  # counted with its value
            if variant is not None:
                where = f"{expression}.{variant.step}"
                found.extend(
                    (variant, o)
                    for o in _occurrences(obj, variant.key, variant.primitive, False, where)
                )
        where = f"{expression}.{node.step[:-3]}"
        self.cardinality(node, len(found), where)
        for variant in variants.values():
            typed = variant.node
            if typed is None:
                continue
            count = sum(1 for v, _ in found if v is variant)
            if count < typed.min:
                message = f"{where}: {typed.label}: a value of type {variant.type_code} is required"
                self.issue("required", message, where, key=typed.label)
            elif typed.max is not None and count > typed.max:
                at = f"{expression}.{variant.step}"
                message = f"{at}: {typed.label}: max allowed = {typed.max}, but found {count}"
                self.issue("structure", message, at, key=typed.label)
        for variant, (value, ext, at) in found:
            if not variant.allowed:
                allowed = " | ".join(v.type_code for v in variants.values() if v.allowed)
                message = (
                    f"{at}: The type {variant.type_code} is not allowed by the profile "
                    f"(allowed: {allowed})"
                )
                self.issue("structure", message, at, key="type")
                continue
            self.item(node, value, ext, at)
            if variant.node is not None:
                self.item(variant.node, value, ext, at)

    def slices(self, node: Node, rules: SliceRules, found: list[Occurrence], where: str) -> None:
        """https://hl7.org/fhir/R4/profiling.html#slicing: each occurrence goes to the first
        slice it matches; then counts, closed and open-at-end rules, order, slice rules."""
        if rules.unresolvable is not None and found:
            # none can be told apart; with none at all, each required slice is missing
            message = f"{where}: The slices of {node.label} are not checked: {rules.unresolvable}"
            self.issue("informational", message, where, "information", key="slicing")
            return
        slices = rules.slices
        chosen: list[int] = []
        for value, ext, _ in found:
            index = -1
            for position, candidate in enumerate(slices):
                if all(m(value, ext, self) for m in candidate.matchers):
                    index = position
                    break
            chosen.append(index)
        for position, candidate in enumerate(slices):
            count = chosen.count(position)
            label = candidate.label
            if count < candidate.min:
                if count == 0:
                    message = (
                        f"{where}: Slice '{label}': a matching slice is required, but not found"
                    )
                else:
                    message = (
                        f"{where}: {label}: minimum required = {candidate.min}, "
                        f"but only found {count}"
                    )
                self.issue("required", message, where, key=label)
            elif candidate.max is not None and count > candidate.max:
                message = f"{where}: {label}: max allowed = {candidate.max}, but found {count}"
                self.issue("structure", message, where, key=label)
            if self.must_support and candidate.must_support and count == 0:
                message = f"{where}: {label} is mustSupport but absent"
                self.issue("informational", message, where, "information", key=label)
        last_matched = max((i for i, s in enumerate(chosen) if s >= 0), default=-1)
        previous = -1
        for position, ((value, ext, at), index) in enumerate(zip(found, chosen, strict=True)):
            if index < 0:
                if rules.open_at_end and position < last_matched:
                    message = (
                        f"{at}: This element does not match any slice, and {node.label} "
                        "allows that only at the end"
                    )
                    self.issue("structure", message, at, key="openAtEnd")
                self.unmatched(node, rules, value, ext, at)
                continue
            if rules.ordered and index < previous:
                message = (
                    f"{at}: {slices[index].label} is out of order: the slices of "
                    f"{node.label} must appear in the order the profile defines them"
                )
                self.issue("structure", message, at, key="ordered")
            previous = max(previous, index)
            self.item(slices[index], value, ext, at)

    def unmatched(self, node: Node, rules: SliceRules, value: Any, ext: Any, where: str) -> None:
        if rules.closed:
            message = (
                f"{where}: This element does not match any known slice defined in the "
                f"profile ({node.label} is closed)"
            )
            self.issue("structure", message, where, key="closed")
            return
        if rules.extensions and isinstance(value, Mapping):
            url = value.get("url")
            if not isinstance(url, str):
                return
            definition = self.profiles.profile(url)
            if definition is not None and definition.is_extension:
                self.item(definition.root, value, ext, where)
            else:
                message = f"{where}: The extension {url} is not known here, so not checked"
                self.issue("informational", message, where, "information", key="extension")


def check_profile(
    resource: Mapping[str, Any],
    profile: Profile,
    profiles: ProfileSet,
    issues: IssueCollector,
    *,
    report_must_support: bool = False,
) -> None:
    """Add one issue to ``issues`` per way ``resource`` falls short of ``profile``.

    Errors for what the profile forbids, warnings for extensible bindings and warning
    invariants, information for what cannot be checked here (and, when
    ``report_must_support``, for absent mustSupport elements). The base R4 rules are the
    structural validator's: run it too.
    """
    resource_type = resource.get("resourceType")
    if resource_type != profile.type:
        message = (
            f"{resource_type}: The profile {profile.url} is for {profile.type}, not {resource_type}"
        )
        issues.add("structure", message, str(resource_type or ""))
        return
    _Run(resource, profiles, issues, report_must_support).item(
        profile.root, resource, None, profile.type
    )
