"""The sync adapter against a live HAPI FHIR: push and pull beside HAPI's own create and
read of the same resources, with the peak memory of the process that ran each.

``python -m bench.sync --sizes 10000,100000 --start hapi``. ``data`` makes the resources
(pure), ``rows`` does each row's work in a child process (``child``), ``table`` renders the
results (pure), ``__main__`` starts HAPI and runs the rows in order.
"""
