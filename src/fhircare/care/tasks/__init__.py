"""The R4 Task state machine on every Task write (``lifecycle.py``, ``states.py``)."""
