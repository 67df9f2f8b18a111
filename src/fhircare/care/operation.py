"""What a care operation is: its name, where it applies, its inputs and its handler.

Each operation's ``operation.py`` (``worklist/``, ``progress/``, ``apply/``, ``extract/``)
declares one ``CareOperation``; ``registry.py`` lists them. The same declaration routes
requests (``rest/dispatch.py``), names the operation in the CapabilityStatement, describes it
in the OpenAPI document, checks its inputs (``interactions/operation_inputs.py``) and is held
to its OperationDefinition in ``profiles/`` by a test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fhircare.interactions.operation_inputs import Input, Inputs, parse_inputs
from fhircare.interactions.request import Context, FhirRequest, FhirResponse

Handler = Callable[[Context, FhirRequest], Awaitable[FhirResponse]]


@dataclass(frozen=True)
class CareOperation:
    """``[type]/[id]/$name`` (``instance``) and/or ``[type]/$name`` (``type_level``) on each
    of ``types``; GET as well as POST unless it ``affects_state``."""

    name: str
    types: tuple[str, ...]
    definition: str
    """The canonical URL of its OperationDefinition in ``profiles/``."""
    summary: str
    inputs: tuple[Input, ...]
    handler: Handler
    output: str = "Bundle"
    """The resource type it answers with (the OpenAPI schema)."""
    instance: bool = True
    type_level: bool = False
    affects_state: bool = False

    @property
    def methods(self) -> tuple[str, ...]:
        return ("POST",) if self.affects_state else ("GET", "POST")

    def inputs_of(self, context: Context, request: FhirRequest) -> Inputs:
        """The request's inputs, checked against the declared ones (400 naming a bad one)."""
        return parse_inputs(context, request, self.inputs, f"${self.name}")


def fhircare_definition(name: str) -> str:
    """The canonical URL of one of fhircare's own OperationDefinitions."""
    return f"urn:fhircare:OperationDefinition:{name}"
