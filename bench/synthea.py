"""Realistic patient records from Synthea (https://synthetichealth.github.io/synthea/), made
once per version, seed and population and cached under ``var/synthea/``.

Synthea is the Maven Central artifact ``org.mitre.synthea:synthea``: a plain jar (its
classes, modules and reference data, no dependencies inside) whose main class is ``App``
in the default package. Maven copies it and its runtime dependencies into
``var/synthea/lib-<version>/`` from a generated one-dependency pom, so the classpath is a
folder of our own (``lib/*``) and the same command works on any machine with Java 17 and
Maven. Generation runs offline.

The run is reproducible: a fixed population seed (``-s``), clinician seed (``-cs``) and
reference date (``-r``); FHIR R4 only, as transaction bundles, with the hospital and
practitioner batches. Synthea 3.3.0 writes into ``fhir/``:

* ``hospitalInformation<ms>.json``: a batch of conditional creates (``ifNoneExist`` on the
  Synthea identifier) of Organizations and Locations;
* ``practitionerInformation<ms>.json``: a batch of conditional creates of Practitioners
  (by NPI) and plain creates of PractitionerRoles, which refer by identifier;
* ``<Given>_<Family>_<uuid>.json``: one transaction per patient (``-p`` living patients,
  plus those who died in the simulation), referring inside by ``urn:uuid`` and to the
  above by conditional references (``Practitioner?identifier=…``), pretty-printed
  whatever ``exporter.pretty_print`` says (about 2.7 KB an entry: 40 MB for 14,000).

``python -m bench.synthea --patients 20 --seed 2026`` prints the bundles and entry counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

VERSION = "3.3.0"
ARTIFACT = ("org.mitre.synthea", "synthea")
MAIN_CLASS = "App"
DEFAULT_SEED = 2026
REFERENCE_DATE = "20250101"
"""The simulation's "today": records end here whatever day they are made."""
MANIFEST = "bundles.json"

OPTIONS: tuple[str, ...] = (
    "--exporter.fhir.export=true",
    "--exporter.fhir.transaction_bundle=true",
    "--exporter.fhir.bulk_data=false",
    "--exporter.hospital.fhir.export=true",
    "--exporter.practitioner.fhir.export=true",
    "--exporter.use_uuid_filenames=false",
    "--exporter.metadata.export=false",
    "--exporter.groups.fhir.export=false",
    "--exporter.fhir_stu3.export=false",
    "--exporter.fhir_dstu2.export=false",
    "--exporter.hospital.fhir_stu3.export=false",
    "--exporter.hospital.fhir_dstu2.export=false",
    "--exporter.practitioner.fhir_stu3.export=false",
    "--exporter.practitioner.fhir_dstu2.export=false",
    "--exporter.ccda.export=false",
    "--exporter.csv.export=false",
    "--exporter.cpcds.export=false",
    "--exporter.bfd.export=false",
    "--exporter.cdw.export=false",
    "--exporter.json.export=false",
    "--exporter.text.export=false",
    "--exporter.text.per_encounter_export=false",
    "--exporter.clinical_note.export=false",
    "--exporter.symptoms.csv.export=false",
    "--exporter.symptoms.text.export=false",
)
"""Synthea settings beside seed, date and population: FHIR R4 only, every other export off."""

HOSPITAL, PRACTITIONER, PATIENT = "hospital", "practitioner", "patient"
_PATIENT_LINE = re.compile(r"^\d+ -- (?P<who>.+)$")


class SyntheaError(RuntimeError):
    """Synthea could not be fetched or run."""


@dataclass(frozen=True)
class BundleFile:
    """One bundle Synthea wrote: its path, what it holds and its number of entries."""

    path: Path
    kind: str
    entries: int
    bytes: int


@dataclass(frozen=True)
class SyntheaData:
    """The bundles of one generation, in load order (hospital, practitioner, patients)."""

    folder: Path
    version: str
    seed: int
    patients: int
    reference_date: str
    bundles: list[BundleFile]
    generate_seconds: float
    cached: bool

    @property
    def entries(self) -> int:
        return sum(bundle.entries for bundle in self.bundles)


def options_digest(options: Sequence[str]) -> str:
    """A short digest of the settings, so changing them never reuses an older cache."""
    return hashlib.sha256("\n".join(options).encode()).hexdigest()[:8]


def cache_key(
    version: str,
    seed: int,
    patients: int,
    reference_date: str = REFERENCE_DATE,
    options: Sequence[str] = OPTIONS,
) -> str:
    """The cache folder's name: everything the output depends on."""
    return f"{version}-seed{seed}-p{patients}-r{reference_date}-{options_digest(options)}"


def synthea_command(
    classpath: str, out_dir: Path, patients: int, seed: int, reference_date: str = REFERENCE_DATE
) -> list[str]:
    """The java command line of one generation into ``out_dir``."""
    return [
        "java",
        "-cp",
        classpath,
        MAIN_CLASS,
        "-s",
        str(seed),
        "-cs",
        str(seed),
        "-r",
        reference_date,
        "-p",
        str(patients),
        f"--exporter.baseDirectory={out_dir}",
        *OPTIONS,
    ]


def bundle_kind(name: str) -> str:
    if name.startswith("hospitalInformation"):
        return HOSPITAL
    if name.startswith("practitionerInformation"):
        return PRACTITIONER
    return PATIENT


def load_order(names: Sequence[str]) -> list[str]:
    """Hospitals first (patients and practitioner roles refer to them), practitioners
    next, then the patients by file name (stable for a seed)."""
    rank = {HOSPITAL: 0, PRACTITIONER: 1, PATIENT: 2}
    return sorted(names, key=lambda name: (rank[bundle_kind(name)], name))


def pom(version: str) -> str:
    group, artifact = ARTIFACT
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.bench</groupId>
  <artifactId>synthea-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>{group}</groupId>
      <artifactId>{artifact}</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


def progress(message: str) -> None:
    print(f"synthea: {message}", file=sys.stderr, flush=True)


def require(tool: str) -> None:
    if shutil.which(tool) is None:
        raise SyntheaError(f"{tool} is not on PATH (Synthea needs Java 17+ and Maven)")


def classpath(root: Path, version: str = VERSION) -> str:
    """``lib/*`` of Synthea and its dependencies, copied by Maven on first use."""
    lib = root / f"lib-{version}"
    if not (lib / ".complete").exists():
        require("mvn")
        work = root / f"maven-{version}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "pom.xml").write_text(pom(version))
        progress(f"fetching {':'.join(ARTIFACT)}:{version} and its dependencies with Maven")
        command = [
            "mvn",
            "-B",
            "-ntp",
            "-q",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            "-DoutputDirectory=lib",
        ]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True)
        if done.returncode != 0:
            raise SyntheaError(f"mvn failed ({done.returncode}): {done.stdout[-2000:]}")
        shutil.rmtree(lib, ignore_errors=True)
        (work / "lib").rename(lib)
        shutil.rmtree(work)
        (lib / ".complete").touch()
    return str(lib / "*")


def run_synthea(command: list[str], patients: int, log: Path) -> None:
    """Run Synthea, its output to ``log``, one progress line per finished patient."""
    progress(f"generating {patients} living patients (and those who die on the way)")
    alive = 0
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            sink.write(line)
            match = _PATIENT_LINE.match(line.strip())
            if match:
                dead = "DECEASED" in line
                alive += 0 if dead else 1
                progress(f"[{alive}/{patients}] {match.group('who')}")
        code = process.wait()
    if code != 0:
        tail = log.read_text()[-2000:]
        raise SyntheaError(f"Synthea exited with {code}; the end of {log}:\n{tail}")


def scan(fhir_dir: Path) -> list[BundleFile]:
    """The bundles in load order with their entry counts."""
    found: list[BundleFile] = []
    for name in load_order([p.name for p in fhir_dir.glob("*.json")]):
        path = fhir_dir / name
        bundle = json.loads(path.read_bytes())
        entries = len(bundle.get("entry") or [])
        found.append(BundleFile(path, bundle_kind(name), entries, path.stat().st_size))
    return found


def read_manifest(folder: Path) -> SyntheaData | None:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    bundles = [
        BundleFile(folder / b["path"], b["kind"], b["entries"], b["bytes"]) for b in data["bundles"]
    ]
    if not all(bundle.path.exists() for bundle in bundles):
        return None
    return SyntheaData(
        folder=folder,
        version=data["version"],
        seed=data["seed"],
        patients=data["patients"],
        reference_date=data["reference_date"],
        bundles=bundles,
        generate_seconds=data["generate_seconds"],
        cached=True,
    )


def write_manifest(data: SyntheaData) -> None:
    body = asdict(data)
    body.pop("folder")
    body.pop("cached")
    body["bundles"] = [
        {**asdict(b), "path": str(b.path.relative_to(data.folder))} for b in data.bundles
    ]
    (data.folder / MANIFEST).write_text(json.dumps(body, indent=1) + "\n")


def generate(
    var_dir: Path,
    patients: int,
    seed: int = DEFAULT_SEED,
    *,
    version: str = VERSION,
    reference_date: str = REFERENCE_DATE,
    run: Callable[[list[str], int, Path], None] = run_synthea,
) -> SyntheaData:
    """The bundles of ``patients`` Synthea patients for ``seed``: from the cache when this
    version, seed and population were made before, else made now (minutes)."""
    if patients < 1:
        raise ValueError("patients must be at least 1")
    root = var_dir.resolve() / "synthea"
    folder = root / cache_key(version, seed, patients, reference_date)
    cached = read_manifest(folder)
    if cached is not None:
        return cached
    require("java")
    cp = classpath(root, version)
    work = folder.with_name(folder.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    start = time.perf_counter()
    run(synthea_command(cp, work / "out", patients, seed, reference_date), patients, work / "log")
    seconds = time.perf_counter() - start
    shutil.rmtree(folder, ignore_errors=True)
    work.rename(folder)
    data = SyntheaData(
        folder=folder,
        version=version,
        seed=seed,
        patients=patients,
        reference_date=reference_date,
        bundles=scan(folder / "out" / "fhir"),
        generate_seconds=seconds,
        cached=False,
    )
    if not data.bundles:
        raise SyntheaError(f"Synthea wrote no FHIR bundles into {folder / 'out' / 'fhir'}")
    write_manifest(data)
    return data


def describe(data: SyntheaData) -> str:
    """The bundles, one line each, and their totals."""
    made = "cached" if data.cached else "generated"
    lines = [
        f"Synthea {data.version}, seed {data.seed}, {data.patients} patients, reference date "
        f"{data.reference_date}: {len(data.bundles)} bundles, {data.entries:,} entries "
        f"({made}; generation took {data.generate_seconds:.0f}s) in {data.folder}"
    ]
    width = max(len(b.path.name) for b in data.bundles)
    for bundle in data.bundles:
        lines.append(
            f"  {bundle.path.name:<{width}}  {bundle.kind:<12}  {bundle.entries:>7,} entries"
            f"  {bundle.bytes / 1e6:>7.1f} MB"
        )
    patients = [b.entries for b in data.bundles if b.kind == PATIENT]
    if patients:
        lines.append(
            f"patient bundles: {len(patients)}, entries smallest {min(patients):,}, "
            f"largest {max(patients):,}, total {sum(patients):,}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.synthea", description="Generate (or reuse) Synthea FHIR bundles."
    )
    parser.add_argument("--patients", type=int, default=20, help="living patients (default 20)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed (default 2026)")
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(os.environ.get("FHIRCARE_VAR_DIR", "var")),
        help="where generated data lives (default $FHIRCARE_VAR_DIR or var)",
    )
    args = parser.parse_args(argv)
    try:
        data = generate(args.var_dir, args.patients, args.seed)
    except SyntheaError as exc:
        print(f"synthea: {exc}", file=sys.stderr)
        return 1
    print(describe(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
