"""A compiled constraint profile, and references between profiles resolved once built."""

from __future__ import annotations

from fhircare.validation.profiles.nodes import Node


class Profile:
    """One StructureDefinition with derivation *constraint*, compiled for checking."""

    __slots__ = ("kind", "name", "root", "type", "url", "version")

    def __init__(
        self, url: str, version: str | None, name: str, type_name: str, kind: str, root: Node
    ) -> None:
        self.url = url
        self.version = version
        self.name = name
        self.type = type_name  # the constrained type: "CarePlan", "Extension", "Quantity"
        self.kind = kind  # resource | complex-type | primitive-type
        self.root = root

    @property
    def is_extension(self) -> bool:
        return self.type == "Extension"

    def __repr__(self) -> str:
        return f"Profile({self.url!r})"


class ProfileRef:
    """A profile named by url (``type.profile``), filled in once every profile is compiled:
    profiles may name each other in any order."""

    __slots__ = ("profile", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.profile: Profile | None = None
