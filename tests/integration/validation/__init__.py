"""fhircare's profile validation beside HAPI FHIR's ``$validate``, case by case."""
