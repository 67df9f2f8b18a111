"""The fhircare benchmark: HTTP create/read throughput and latency beside raw pymongo.

``python -m bench`` (or ``make bench``) starts a throwaway FerretDB (unless ``MONGODB_URI``
is set) and a fhircare server (unless ``--base-url`` names another FHIR server), runs each
row, prints a table and saves it as JSON under ``bench/results/``.
"""
