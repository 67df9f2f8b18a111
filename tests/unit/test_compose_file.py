"""docker-compose.yml names MongoDB 7 as a replica set, HAPI FHIR and fhircare.

No Docker engine runs where the tests run, so the file is checked as data.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_services() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"mongodb", "hapi", "fhircare"}
    assert services["mongodb"]["image"] == "mongo:7"
    assert "--replSet" in services["mongodb"]["command"]
    assert services["hapi"]["image"].startswith("hapiproject/hapi")
    fhircare = services["fhircare"]
    assert fhircare["build"] == "."
    assert "replicaSet=rs0" in fhircare["environment"]["MONGODB_URI"]
    assert fhircare["depends_on"]["mongodb"]["condition"] == "service_healthy"


def test_dockerfile_runs_the_server() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and '"fhircare", "serve"' in dockerfile
