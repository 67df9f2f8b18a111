"""The realistic-data benchmark: Synthea patients loaded into FHIR servers over HTTP, checked
and queried the same way on each.

``python -m bench.realistic --patients 20 --server hapi=http://127.0.0.1:8090/fhir
--server fhircare=http://127.0.0.1:8080/fhir``; the first server is the reference the
ratios divide by. ``data`` and ``params`` read the bundles (pure), ``load``, ``checks`` and
``queries`` talk HTTP, ``tables`` and ``report`` render the results (pure).
"""
