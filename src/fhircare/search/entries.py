"""The shape of index entries: what extraction writes and what every query reads.

https://hl7.org/fhir/R4/search.html#ptypes. A resource's index is a list of flat
entries, one per (parameter, value), stored with the current version. ``p`` is the
parameter code; the other keys depend on the parameter's type:

- string: ``v`` the value folded (lower case, accents removed, white space collapsed),
  ``x`` the value exactly as written (for ``:exact``). HumanName and Address give one
  entry per part and one for their whole text.
- token: ``s`` system (None when the element has none), ``c`` code/value exactly, ``t``
  folded display/text when there is one (for ``:text``), ``ot`` for an Identifier's type
  as ``system|code`` (for ``:of-type``). booleans are ``c`` "true"/"false".
- date: ``lo`` and ``hi``, UTC datetimes: the instant range the value covers at its
  precision, ``lo`` inclusive and ``hi`` exclusive (``2026-03`` → [03-01, 04-01)).
- number: ``lo``/``hi`` floats, the range implied by the significant digits
  (``7.00`` → [6.995, 7.005)), ``n`` the value.
- quantity: as number, plus ``s`` system, ``c`` code, ``u`` unit.
- reference: ``r`` the reference normalised to ``Type/id`` (absolute URLs on this
  server's base made relative, ``_history`` removed), or the absolute URL / ``#id`` as
  written; ``ty`` the target type when known; ``is``/``iv`` the identifier system/value
  of a logical reference (for ``:identifier``).
- uri: ``v`` the URI exactly.
- composite: one entry per fragment (``search/extract/composite.py``). ``k`` a list of
  the combinations of the components matched by equality (token, string, reference,
  uri), each normalised and joined in component order (``code`` for
  ``code-value-quantity``, ``code$value`` for ``code-value-concept``); absent when every
  component is ordered. ``q`` a list of sub-entries, the values of the ordered components
  (number, quantity, date) as their own parameter type indexes them (``lo``/``hi``, and
  ``s``/``c``/``u`` for a quantity, without ``p``, ``n`` or None fields), each with ``i``
  the component's position in the composite; absent when no component is ordered.

Entries are flat except ``q``, a list of flat sub-entries. They never hold a ``$``-key, a
dotted key, an array directly inside an array or a NUL: FerretDB stores them as they are.
"""

from __future__ import annotations

from typing import Any

Entry = dict[str, Any]

COMPOSITE_KEYS = "k"
"""A composite entry's equality combinations."""
COMPOSITE_PARTS = "q"
"""A composite entry's sub-entries: the values of its ordered components."""
COMPONENT = "i"
"""A sub-entry's component: its position among the composite's components."""
ORDERED_TYPES = frozenset(("number", "quantity", "date"))
"""The component types stored in ``q`` and compared by range, with prefixes."""
