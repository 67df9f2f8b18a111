"""The compiled form of a profile: plain objects the check walks, no lookups by path.

Only what a profile adds to the base R4 definitions is kept (a narrower cardinality or type,
a fixed or pattern value, a binding, an invariant, slicing, mustSupport) together with the
elements on the way to it; the rest is the structural engine's to check.
"""

from __future__ import annotations

from typing import Any, Protocol


class Run(Protocol):
    """What a value check may ask of the check in progress."""

    resource: Any

    def issue(
        self, code: str, message: str, expression: str, severity: str = "error", key: str = ""
    ) -> None: ...

    def item(self, node: Node, value: Any, ext: Any, expression: str) -> None: ...

    def conforms(self, node: Node, value: Any, ext: Any, expression: str) -> bool: ...

    def contained_type(self, contained_id: str) -> str | None: ...

    def resource_copy(self) -> Any: ...


class ValueCheck(Protocol):
    """One rule on each occurrence of an element: ``value`` is its JSON value, ``ext`` the
    ``_name`` object of a primitive (its id and extensions)."""

    def __call__(self, value: Any, ext: Any, expression: str, run: Run) -> None: ...


class Variant:
    """One type of a choice element: its JSON key, FHIRPath step and own constraints."""

    __slots__ = ("allowed", "key", "node", "primitive", "step", "type_code")

    def __init__(
        self,
        key: str,
        type_code: str,
        step: str,
        primitive: bool,
        allowed: bool,
        node: Node | None,
    ) -> None:
        self.key = key  # "valueQuantity"
        self.type_code = type_code  # "Quantity"
        self.step = step  # "value.ofType(Quantity)"
        self.primitive = primitive
        self.allowed = allowed
        self.node = node  # the type slice (value[x]:valueQuantity), when the profile has one


class Node:
    """One element of a compiled profile (or one slice of it)."""

    __slots__ = (
        "check_max",
        "check_min",
        "checks",
        "children",
        "is_list",
        "key",
        "label",
        "matchers",
        "max",
        "min",
        "must_support",
        "primitive",
        "slicing",
        "step",
        "variants",
    )

    def __init__(self, label: str) -> None:
        self.label = label  # the element id: "Observation.category:vital"
        self.key = ""  # JSON key of a non-choice element: "status"
        self.step = ""  # its FHIRPath step: "status"
        self.is_list = False  # repeats in the base: occurrences are indexed
        self.primitive = False  # children (id, extension) live in "_key"
        self.variants: dict[str, Variant] | None = None  # a choice: JSON key -> type
        self.min = 0
        self.max: int | None = None  # None: unbounded
        self.check_min = False
        self.check_max = False
        self.checks: tuple[ValueCheck, ...] = ()
        self.children: tuple[Node, ...] = ()
        self.slicing: SliceRules | None = None
        self.matchers: tuple[Matcher, ...] = ()  # a slice: what an occurrence must match
        self.must_support = False

    def __repr__(self) -> str:
        return f"Node({self.label!r})"


class Matcher(Protocol):
    """One discriminator of one slice: does this occurrence belong to the slice?"""

    def __call__(self, value: Any, ext: Any, run: Run) -> bool: ...


class SliceRules:
    """https://hl7.org/fhir/R4/profiling.html#slicing: the slices and how they are kept."""

    __slots__ = ("closed", "extensions", "open_at_end", "ordered", "slices", "unresolvable")

    def __init__(
        self, slices: tuple[Node, ...], rules: str, ordered: bool, extensions: bool
    ) -> None:
        self.slices = slices
        self.closed = rules == "closed"
        self.open_at_end = rules == "openAtEnd"
        self.ordered = ordered
        self.extensions = extensions  # the element is extension or modifierExtension
        self.unresolvable: str | None = None  # why the slices cannot be told apart here
