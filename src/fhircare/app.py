"""The composition root: ``create_app(settings)`` wires settings, store and routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from datetime import timedelta

from fastapi import FastAPI

from fhircare import __version__
from fhircare.care.registry import type_operations
from fhircare.care.rules import care_rules
from fhircare.interactions.profiles import Profiles, required_profiles
from fhircare.interactions.request import Context, Limits
from fhircare.interactions.search_parameters import SearchParameters
from fhircare.rest import errors
from fhircare.rest.auth import Authenticator
from fhircare.rest.request_id import RequestIdMiddleware
from fhircare.rest.routes import fhir_router
from fhircare.rest.server_timing import ServerTimingMiddleware
from fhircare.search.limits import SearchLimits
from fhircare.search.registry import default_registry
from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore

log = logging.getLogger(__name__)


def open_store(settings: Settings) -> ResourceStore:
    """The store the settings name: MongoDB with ``MONGODB_URI``, else the SQLite file."""
    intent_timeout = timedelta(seconds=settings.write_intent_timeout_seconds)
    if settings.uses_sqlite:
        from fhircare.storage.sqlite.store import SqliteStore

        return SqliteStore(
            settings.effective_sqlite_path(), settings.sqlite_synchronous, intent_timeout
        )
    from fhircare.storage.mongo.store import connect

    return connect(
        settings.effective_mongodb_uri(),
        settings.database,
        intent_timeout,
    )


def context_for(settings: Settings, store: ResourceStore) -> Context:
    """What interactions need: the store, the limits the settings give and the search
    parameters (call ``context.search_parameters.load()`` once the store is open)."""
    limits = Limits(
        settings.default_count,
        settings.max_count,
        settings.max_json_depth,
        max_bundle_entries=settings.max_bundle_entries,
        conditional_delete=settings.conditional_delete,
        validator=settings.validator,
    )
    search_limits = SearchLimits(max_count=settings.max_count, default_count=settings.default_count)
    parameters = SearchParameters(
        store, default_registry(), settings.search_parameter_refresh_seconds
    )
    profiles = Profiles(
        store,
        settings.search_parameter_refresh_seconds,
        settings.unknown_profile,
        required_profiles(settings.required_profiles),
    )
    return Context(
        store=store,
        profiles=profiles,
        limits=limits,
        search_limits=search_limits,
        search_parameters=parameters,
        sync_remotes=settings.sync_remotes,
        type_operations=type_operations(),
        rules=care_rules(settings),
    )


async def recover_periodically(store: ResourceStore, seconds: float) -> None:
    """Finish writes a crashed process left behind (``ResourceStore.recover``)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await store.recover()
        except Exception:  # a store outage must not end the task; the next round retries
            log.exception("recovery failed")


def create_app(settings: Settings | None = None, store: ResourceStore | None = None) -> FastAPI:
    """The ASGI app; the store is opened in the lifespan (or injected, for tests)."""
    settings = settings or Settings()
    authenticator = Authenticator(settings)  # TokenConfigError names a missing setting
    endpoints = authenticator.endpoints

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = store or open_store(settings)
        await active.open()
        context = context_for(settings, active)
        if endpoints is not None:
            context = replace(context, security=endpoints.rest_security())
        app.state.context = context
        authenticator.announce()
        await app.state.context.search_parameters.load()
        await app.state.context.profiles.load()
        recovery = asyncio.create_task(recover_periodically(active, settings.recovery_seconds))
        try:
            yield
        finally:
            recovery.cancel()
            with suppress(asyncio.CancelledError):
                await recovery
            if store is None:
                await active.close()

    app = FastAPI(
        title="fhircare",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    errors.install(app)
    app.include_router(fhir_router(settings, authenticator), prefix=settings.base_path)
    app.add_middleware(RequestIdMiddleware)
    if settings.server_timing:
        app.add_middleware(ServerTimingMiddleware)
    return app
