"""The error of an unusable conformance resource."""

from __future__ import annotations


class ProfileError(ValueError):
    """A StructureDefinition, ValueSet or CodeSystem the engine cannot use.

    The message names the resource's canonical url and, where there is one, the element.
    """

    def __init__(self, url: str, message: str, element: str | None = None) -> None:
        self.url = url
        self.element = element
        where = f"{url} ({element})" if element else url
        super().__init__(f"{where}: {message}")
