"""Security: SMART-on-FHIR access tokens and scopes."""
