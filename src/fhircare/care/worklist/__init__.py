"""``$worklist``: the care manager's open work (``operation.py``)."""
