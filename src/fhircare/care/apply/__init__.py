"""``PlanDefinition/[id]/$apply``: care protocols to draft plans (``operation.py``)."""
