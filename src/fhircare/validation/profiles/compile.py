"""Compile a snapshot tree into the ``Node`` tree the check walks.

Each element keeps only what the profile adds to its base R4 definition (``origin``): a
changed cardinality, narrower types or targets, type profiles, fixed and pattern values, a
changed required or extensible binding, invariants the base types do not define, slicing
and mustSupport. An element with none of these, and no descendant with any, is left out:
the structural engine checks the base definitions, and the walk never visits it.
"""

from __future__ import annotations

from collections.abc import Callable

from fhircare.validation.profiles.base import base_constraints, core_type_of, is_primitive
from fhircare.validation.profiles.bindings import BindingCheck
from fhircare.validation.profiles.conformance import ProfileCheck, ResourceTypeCheck
from fhircare.validation.profiles.definition import Definition
from fhircare.validation.profiles.discriminator_paths import Unresolvable
from fhircare.validation.profiles.discriminators import compile_matchers
from fhircare.validation.profiles.facts import EXTENSION_SLICING, TypeRef
from fhircare.validation.profiles.invariants import InvariantCheck
from fhircare.validation.profiles.nodes import Node, SliceRules, ValueCheck, Variant
from fhircare.validation.profiles.profile import ProfileRef
from fhircare.validation.profiles.targets import TargetCheck
from fhircare.validation.profiles.terminology import Terminology
from fhircare.validation.profiles.values import FixedCheck, PatternCheck

_ANY_RESOURCE = frozenset({"Resource", "DomainResource"})
_CONTAINERS = frozenset({"BackboneElement", "Element"})
_EXTENSIONS = frozenset({"extension", "modifierExtension"})


def _capitalized(code: str) -> str:
    return code[:1].upper() + code[1:]


def _own_profiles(types: tuple[TypeRef, ...]) -> list[str]:
    """Profile urls of the types, leaving out the base types' own urls."""
    return [u for t in types for u in t.profiles if core_type_of(u) is None]


def _targets(types: tuple[TypeRef, ...]) -> set[str]:
    return {u for t in types if t.code == "Reference" for u in t.target_profiles}


class Compiler:
    """Compiles the snapshot of one profile; ``ref`` and ``type_of`` reach the other
    profiles of the set (a ``ProfileRef`` filled in later, the type a url constrains)."""

    def __init__(
        self,
        url: str,
        terminology: Terminology,
        ref: Callable[[str], ProfileRef],
        type_of: Callable[[str], str | None],
    ) -> None:
        self.url = url
        self.terminology = terminology
        self.ref = ref
        self.type_of = type_of

    def compile(self, root: Definition) -> Node:
        node = self._node(root, force=True)
        assert node is not None
        return node

    def _node(self, definition: Definition, force: bool) -> Node | None:
        origin = definition.origin
        node = Node(definition.id)
        node.key = node.step = definition.name
        node.is_list = (origin.max or "1") != "1"
        codes = {t.code for t in definition.types}
        node.primitive = len(codes) == 1 and is_primitive(next(iter(codes)))
        node.min = definition.min
        node.max = None if definition.max == "*" else int(definition.max)
        is_slice = definition.slice_name is not None
        node.check_min = is_slice or definition.min != (origin.min or 0)
        node.check_max = is_slice or definition.max != (origin.max or "1")
        node.must_support = definition.must_support
        node.checks = self._checks(definition)
        node.children = tuple(
            child
            for child in (self._node(c, force=False) for c in definition.children or ())
            if child is not None
        )
        relevant = bool(
            node.checks or node.children or node.check_min or node.check_max or node.must_support
        )
        if definition.is_choice:
            node.variants, narrowed = self._variants(definition)
            relevant = relevant or narrowed
        elif definition.slices or (definition.slicing and definition.slicing.rules != "open"):
            node.slicing = self._slicing(definition)
            relevant = True
        return node if relevant or force else None

    def _checks(self, definition: Definition) -> tuple[ValueCheck, ...]:
        origin = definition.origin
        checks: list[ValueCheck] = []
        if definition.fixed is not None and definition.fixed != origin.fixed:
            checks.append(FixedCheck(definition.fixed[1]))
        if definition.pattern is not None and definition.pattern != origin.pattern:
            checks.append(PatternCheck(definition.pattern[1]))
        binding = definition.binding
        if (
            binding is not None
            and binding != origin.binding
            and binding.strength in ("required", "extensible")
            and binding.value_set
        ):
            expansion = self.terminology.expansion(binding.value_set)
            checks.append(
                BindingCheck(
                    binding.strength,
                    binding.value_set,
                    expansion,
                    self.terminology.system_codes,
                )
            )
        if not definition.is_choice:
            # a choice's types and invariants are checked per type: see _variants
            checks.extend(self._type_checks(definition.types, origin.types or ()))
            checks.extend(self._invariants(definition, self._type_path(definition)))
        return tuple(checks)

    def _invariants(self, definition: Definition, type_path: str) -> list[ValueCheck]:
        known = base_constraints()
        return [
            InvariantCheck(constraint, type_path, self.url, definition.id)
            for constraint in definition.constraints
            if (constraint.key, constraint.expression) not in known
        ]

    def _type_checks(
        self, types: tuple[TypeRef, ...], origin_types: tuple[TypeRef, ...]
    ) -> list[ValueCheck]:
        checks: list[ValueCheck] = []
        urls = _own_profiles(types)
        if urls and urls != _own_profiles(origin_types):
            checks.append(ProfileCheck(tuple(self.ref(u) for u in urls)))
        targets = _targets(types)
        if targets and targets != _targets(origin_types):
            allowed = {core_type_of(u) or self.type_of(u) for u in targets}
            if None not in allowed and not allowed & _ANY_RESOURCE:
                checks.append(TargetCheck(frozenset(a for a in allowed if a is not None)))
        codes = {t.code for t in types}
        if {t.code for t in origin_types} & _ANY_RESOURCE and not codes & _ANY_RESOURCE:
            checks.append(ResourceTypeCheck(frozenset(codes)))
        return checks

    def _type_path(self, definition: Definition) -> str:
        """What types the focus of an invariant in fhirpathpy's R4 model."""
        codes = {t.code for t in definition.types}
        if len(codes) == 1:
            code = next(iter(codes))
            if code not in _CONTAINERS and not code.startswith("System."):
                return code
        return definition.origin.path

    def _variants(self, choice: Definition) -> tuple[dict[str, Variant], bool]:
        """One variant per R4 type of a choice; ``True`` if the profile narrows them."""
        prefix = choice.name[:-3]
        allowed = {t.code: t for t in choice.types}
        origin_types = choice.origin.types or ()
        narrowed = set(allowed) != {t.code for t in origin_types}
        variants: dict[str, Variant] = {}
        for base_ref in origin_types:
            code = base_ref.code
            key = prefix + _capitalized(code)
            type_slice = choice.slice(key)
            node = self._node(type_slice, force=True) if type_slice is not None else None
            ref = allowed.get(code)
            extra = []
            if ref is not None:
                extra = self._type_checks((ref,), (base_ref,)) + self._invariants(choice, code)
            if extra:
                if node is None:
                    node = Node(f"{choice.id}:{key}")
                node.checks += tuple(extra)
            narrowed = narrowed or node is not None
            step = f"{prefix}.ofType({code})"
            variants[key] = Variant(key, code, step, is_primitive(code), ref is not None, node)
        return variants, narrowed

    def _slicing(self, definition: Definition) -> SliceRules:
        slicing = definition.slicing or EXTENSION_SLICING
        slices = []
        for slice_def in definition.slices:
            node = self._node(slice_def, force=True)
            assert node is not None
            slices.append(node)
        rules = SliceRules(
            tuple(slices), slicing.rules, slicing.ordered, definition.name in _EXTENSIONS
        )
        try:
            for slice_def, node in zip(definition.slices, slices, strict=True):
                node.matchers = compile_matchers(
                    slicing.discriminators,
                    slice_def,
                    node,
                    self.url,
                    self.terminology,
                    self.ref,
                    self.type_of,
                )
        except Unresolvable as exc:
            rules.unresolvable = str(exc)
        return rules
