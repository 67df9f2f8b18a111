"""Care-coordination operations, beside ``interactions/`` and built on it and the store.

``everything.py`` is ``Patient/$everything``
(https://hl7.org/fhir/R4/patient-operation-everything.html).
"""
