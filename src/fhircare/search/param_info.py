"""What search parsing needs to know of a search parameter, and which types there are.

Its own module so that key, value and result parsing (``parse_*.py``) share one
definition, which ``search/registry.py`` provides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Protocol

__all__ = ["PARAM_TYPES", "TYPE_NAME", "ParamInfo", "ParamLookup"]


class ParamInfo(Protocol):
    """What parsing needs of a search parameter (``search/registry.py`` provides it).

    ``type`` is one of number, date, string, token, reference, composite, quantity, uri,
    special; ``targets`` the resource types a reference parameter may point at (empty:
    any). A composite may also have ``components``: in order, each either a parameter
    type or a tuple whose first item is the code of the component's own parameter on the
    same resource type (as ``SearchParam.components`` holds them).
    """

    @property
    def code(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def targets(self) -> Collection[str]: ...


ParamLookup = Callable[[str | None, str], ParamInfo | None]
"""``(resource_type, code)``: the parameter, or None when there is none. ``resource_type``
None is a system-level search: only the parameters common to every type."""

PARAM_TYPES = frozenset(
    ("number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special")
)

TYPE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
"""A resource type's name, as a chain, ``_has``, modifier or ``_include`` may give it."""
