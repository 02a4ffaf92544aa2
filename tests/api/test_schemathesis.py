"""Schemathesis against our own OpenAPI schema, through the Django WSGI app.

Every operation gets a bounded number of generated requests as a portal admin
(who may call every endpoint); the responses must not be 5xx, must match the
schema (status codes, content types, headers, bodies) and must reject input
the schema rules out. The schema is loaded when
the module is collected: serving it needs no database.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from portal.wsgi import application

MAX_EXAMPLES = 15

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


@pytest.fixture
def admin_headers(
    personas, global_registry, registry_a, registry_b, token_for, settings
):
    from django.core.cache import cache

    from registries.models import Registry

    cache.clear()
    # No request may leave this machine: no Docker Hub to verify, search or HEAD.
    Registry.objects.filter(is_default=True).delete()
    # Throttling would turn a fast fuzzing run into 429s; it has its own test.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": None, "anon": None},
    }
    # Verify and existence checks must give up quickly on made-up hosts.
    settings.REGISTRY_CONNECT_TIMEOUT = 1.0
    settings.REGISTRY_READ_TIMEOUT = 2.0
    key = token_for(personas["portal_admin"])
    # Requests go straight into the WSGI app, not through Django's test client:
    # like that client, keep the request signals from closing the connection
    # that holds the test's transaction (PostgreSQL would lose it).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {"Authorization": f"Token {key}"}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.timeout(60)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, admin_headers):
    # Schema-valid input may still break a rule no schema can state (a taken
    # name, a host name that does not parse): that is a 400 with a message, so
    # "valid data must be accepted" does not apply. Everything else does.
    case.call_and_validate(
        headers=admin_headers,
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
