"""``Patient/$everything`` (``operation.py``)."""
