"""The sync adapter: pull from and push to external FHIR servers."""
