"""The write rules the care workflows add (``interactions/write_rules.py``), as the
settings choose them."""

from __future__ import annotations

from fhircare.care.progress.sync import follow
from fhircare.care.tasks.lifecycle import check_task
from fhircare.interactions.write_rules import WriteRules
from fhircare.settings import Settings


def care_rules(settings: Settings) -> WriteRules:
    """The Task state machine unless ``task_lifecycle`` is off; the progress followers
    while ``care_progress_updates`` is on."""
    checks = {"Task": (check_task,)} if settings.task_lifecycle == "enforce" else {}
    followers = (follow,) if settings.care_progress_updates else ()
    return WriteRules(checks, followers)
