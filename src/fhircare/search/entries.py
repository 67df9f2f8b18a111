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
- composite: ``k`` a list, one normalised string per component, joined as the
  parameter's components (``code$value``).

Entries never hold a ``$``-key, a dotted key, a nested array or a NUL: FerretDB stores
them as they are.
"""

from __future__ import annotations

from typing import Any

Entry = dict[str, Any]
