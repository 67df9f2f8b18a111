"""The R4 Task state machine on every Task write (not built yet)."""

from __future__ import annotations

from typing import Any


def check_task(resource: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Refuse a Task write that breaks the state machine."""
