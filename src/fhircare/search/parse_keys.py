"""A search parameter's key (name, chain, ``_has``, modifier) into the parameter it names.

https://hl7.org/fhir/R4/search.html#chaining, #has, #modifiers: ``subject:Patient.name``,
``subject.name`` and ``_has:Observation:patient:code``, to ``SearchLimits.max_chain_depth``
hops in all. ``:missing`` for every type; string ``:exact :contains``; token ``:text :not
:above :below :of-type``; uri ``:above :below``; reference ``:identifier`` and
``:[Type]``. ``:in``/``:not-in`` need terminology, which fhircare has not: 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fhircare.fhir import errors
from fhircare.search.limits import SearchLimits
from fhircare.search.param_info import PARAM_TYPES, TYPE_NAME, ParamInfo, ParamLookup
from fhircare.search.parse_errors import shown, too_costly
from fhircare.search.request import ChainHop, HasHop

__all__ = ["Target", "UnknownParameter", "resolve_key"]

_MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset(("exact", "contains")),
    "token": frozenset(("text", "not", "above", "below", "of-type")),
    "reference": frozenset(("identifier",)),
    "uri": frozenset(("above", "below")),
}
_TERMINOLOGY = frozenset(("in", "not-in"))

_Found = Sequence[tuple[str | None, ParamInfo]]


class UnknownParameter(Exception):
    """A parameter code the lookup does not know, somewhere in a key."""


@dataclass(frozen=True)
class Target:
    """The parameter a key ends at: its type and what its modifier and values need."""

    code: str
    param_type: str
    modifier: str | None
    chain: tuple[ChainHop, ...]
    has: tuple[HasHop, ...]
    component_types: tuple[str, ...]


def resolve_key(
    key: str, resource_type: str | None, lookup: ParamLookup, limits: SearchLimits
) -> Target:
    """What ``key`` names: the hops to the final parameter, its type and modifier.

    ``UnknownParameter`` when a code in it is not known; ``FhirError`` (400) when it is
    malformed or chains past ``limits``.
    """
    current = resource_type
    has: list[HasHop] = []
    rest = key
    while rest == "_has" or rest.startswith("_has:"):
        parts = rest.split(":", 3)
        if len(parts) < 4 or not all(parts):
            raise errors.invalid(f"{shown(key)}: _has is _has:Type:reference:parameter", key)
        _, source, reference, rest = parts
        if not TYPE_NAME.fullmatch(source):
            raise errors.invalid(f"{shown(key)}: {shown(source)} is not a type", key)
        info = lookup(source, reference)
        if info is None:
            raise UnknownParameter
        if info.type != "reference":
            raise errors.invalid(
                f"{shown(key)}: {source}.{reference} is not a reference parameter", key
            )
        if current is not None and info.targets and current not in info.targets:
            raise errors.invalid(
                f"{shown(key)}: {source}.{reference} does not refer to {current}", key
            )
        has.append(HasHop(source, reference))
        current = source
    segments = rest.split(".")
    types: list[str | None] = [current]
    if not _find(lookup, types, segments[0].partition(":")[0]):
        raise UnknownParameter
    if len(has) + len(segments) - 1 > limits.max_chain_depth:
        raise too_costly(f"{shown(key)} chains deeper than {limits.max_chain_depth}", key)
    chain: list[ChainHop] = []
    for segment in segments[:-1]:
        code, colon, type_name = segment.partition(":")
        found = _find(lookup, types, code)
        if not found:
            raise UnknownParameter
        if any(info.type != "reference" for _, info in found):
            raise errors.invalid(
                f"{shown(key)}: {shown(code)} is not a reference parameter to chain", key
            )
        targets = _targets(found)
        open_ended = any(not info.targets for _, info in found)
        hop_type: str | None
        if colon:
            if not TYPE_NAME.fullmatch(type_name):
                raise errors.invalid(
                    f"{shown(key)}: only a resource type may qualify a chained "
                    f"parameter ({shown(type_name)})",
                    key,
                )
            if not open_ended and type_name not in targets:
                raise errors.invalid(f"{shown(key)}: {code} does not refer to {type_name}", key)
            hop_type, types = type_name, [type_name]
        elif open_ended:
            raise errors.invalid(
                f"{shown(key)}: {code} may refer to any type; name one as {code}:[type]",
                key,
            )
        elif len(targets) == 1:
            hop_type, types = targets[0], [targets[0]]
        else:
            hop_type, types = None, list(targets)
        chain.append(ChainHop(code, hop_type))
    code, colon, modifier = segments[-1].partition(":")
    found = _find(lookup, types, code)
    if not found:
        raise UnknownParameter
    param_types = sorted({info.type for _, info in found})
    if len(param_types) > 1:
        raise errors.invalid(
            f"{shown(key)}: {code} is a {' or '.join(param_types)} parameter depending "
            "on the target; name the type as reference:[type]",
            key,
        )
    param_type = param_types[0]
    if colon:
        _check_modifier(key, modifier, param_type, found)
    owner, info = found[0]
    components = _components(lookup, owner, info) if param_type == "composite" else ()
    return Target(
        code,
        param_type,
        modifier if colon else None,
        tuple(chain),
        tuple(has),
        components,
    )


def _find(lookup: ParamLookup, types: Sequence[str | None], code: str) -> _Found:
    found = []
    for owner in types:
        info = lookup(owner, code)
        if info is not None:
            found.append((owner, info))
    return found


def _check_modifier(key: str, modifier: str, param_type: str, found: _Found) -> None:
    if modifier == "missing":
        return
    if modifier in _TERMINOLOGY and param_type == "token":
        raise errors.unsupported(
            f"{shown(key)}: :{modifier} is not supported until terminology exists", key
        )
    if modifier[:1].isupper() and param_type == "reference":
        if not TYPE_NAME.fullmatch(modifier):
            raise errors.invalid(f"{shown(key)}: {shown(modifier)} is not a type", key)
        open_ended = any(not info.targets for _, info in found)
        if not open_ended and modifier not in _targets(found):
            raise errors.invalid(
                f"{shown(key)}: {found[0][1].code} does not refer to {modifier}", key
            )
        return
    if modifier not in _MODIFIERS.get(param_type, ()):
        raise errors.invalid(
            f"{shown(key)}: the modifier {shown(modifier)} is not valid for a "
            f"{param_type} parameter",
            key,
        )


def _components(lookup: ParamLookup, owner: str | None, info: ParamInfo) -> tuple[str, ...]:
    """The types of a composite's components; () when they cannot all be known (each
    component is then read as a string)."""
    types: list[str] = []
    for component in getattr(info, "components", None) or ():
        if isinstance(component, str):
            name = component
        elif isinstance(component, tuple | list) and component:
            name = component[0]
        else:
            return ()
        if isinstance(name, str) and name in PARAM_TYPES:
            types.append(name)
            continue
        part = lookup(owner, name) if isinstance(name, str) else None
        if part is None or part.type not in PARAM_TYPES:
            return ()
        types.append(part.type)
    return tuple("string" if t in ("composite", "special") else t for t in types)


def _targets(found: _Found) -> list[str]:
    """The target types of ``found``'s reference parameters, each once, sorted."""
    return sorted({t for _, info in found for t in info.targets})
