"""Registry notifications: a real registry posting to the portal's webhook."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.db import OperationalError
from django.urls import reverse

from library.models import NotificationEvent, Tag
from registries.models import Registry

pytestmark = [pytest.mark.timeout(120)]

EVENTS = "application/vnd.docker.distribution.events.v1+json"


def wait_for(predicate, timeout: float = 10.0):
    """Poll ``predicate`` until it returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OperationalError:
            # SQLite's shared in-memory test database: the live server thread
            # holds a table lock while it writes. Look again in a moment.
            value = None
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def envelope(*events) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def event(action="push", repository="team-a/app", tag="1", digest="sha256:" + "a" * 64):
    return {
        "id": str(uuid.uuid4()),
        "timestamp": "2024-05-17T08:30:12.123456789Z",
        "action": action,
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": digest,
            "repository": repository,
            "tag": tag,
        },
    }


@pytest.fixture
def entry(personas, project_a):
    from registries.services import registry_create

    return registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Hooked",
        address="http://127.0.0.1:9",
        allow_plain_http=True,
        namespace="team-a",
    )


def post(client, entry, body, *, secret=None, content_type=EVENTS):
    secret = entry.webhook_secret if secret is None else secret
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return client.post(
        reverse("library_webhook", args=[entry.pk]),
        data=body,
        content_type=content_type,
        headers=headers,
    )


@pytest.mark.parametrize(
    ("secret", "content_type", "body", "status", "says"),
    [
        ("", EVENTS, envelope(), 401, "Bearer"),
        ("wrong-secret", EVENTS, envelope(), 401, "Bearer"),
        (None, "text/plain", envelope(), 415, "events.v1+json"),
        (None, EVENTS, b"{not json", 400, "not valid JSON"),
        (None, EVENTS, b'{"events": "nope"}', 400, "events"),
        (None, EVENTS, b'{"events": [{"action": "push"}]}', 400, "no id"),
        (None, EVENTS, b'{"events": [42]}', 400, "not an object"),
    ],
)
def test_bad_requests_get_a_clear_answer(
    client, entry, secret, content_type, body, status, says
):
    response = post(client, entry, body, secret=secret, content_type=content_type)
    assert response.status_code == status
    assert says in response.json()["error"]
    assert not NotificationEvent.objects.exists()


def test_unknown_registry_and_wrong_method(client, db):
    url = reverse("library_webhook", args=[999999])
    assert client.post(url, data=envelope(), content_type=EVENTS).status_code in (
        401,
        404,
    )
    assert client.get(url).status_code == 405


def test_events_are_deduplicated_by_id_and_pulls_ignored(
    client, entry, django_capture_on_commit_callbacks
):
    push = event()
    with django_capture_on_commit_callbacks() as queued:
        first = post(client, entry, envelope(push, event(action="pull")))
    assert first.status_code == 202
    assert first.json() == {"accepted": 1, "duplicates": 0, "ignored": 1}
    assert len(queued) == 1  # one refresh queued after commit
    with django_capture_on_commit_callbacks() as queued_again:
        again = post(client, entry, envelope(push))
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 1, "ignored": 0}
    assert queued_again == []


@pytest.mark.parametrize(
    "repository", ["team-b/ledger", "team-ab/x", "team-a/../../etc", "team-a//x", ""]
)
def test_an_entry_speaks_for_its_own_namespace_only(
    client, entry, repository, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = post(client, entry, envelope(event(repository=repository)))
    assert response.json() == {"accepted": 0, "duplicates": 0, "ignored": 1}
    assert queued == []
    assert not NotificationEvent.objects.exists()


def test_long_event_ids_are_told_apart(client, entry):
    first, second = event(), event()
    first["id"] = "x" * 150 + "1"
    second["id"] = "x" * 150 + "2"
    response = post(client, entry, envelope(first, second))
    assert response.json()["accepted"] == 2
    again = post(client, entry, envelope(first))
    assert again.json()["duplicates"] == 1


def test_a_disabled_entry_acknowledges_and_ignores(client, entry):
    Registry.objects.filter(pk=entry.pk).update(enabled=False)
    response = post(client, entry, envelope(event()))
    assert response.status_code == 200
    assert response.json()["ignored"] == 1


@pytest.mark.registry
def test_pushes_and_deletes_reach_the_index_through_a_real_registry(
    live_server, fresh_registry, entry
):
    """The registry itself posts to the webhook; the index follows within a second."""
    url = live_server.url + reverse("library_webhook", args=[entry.pk])
    server = fresh_registry(
        extra_config={
            "notifications": {
                "endpoints": [
                    {
                        "name": "portolan",
                        "url": url,
                        "headers": {
                            "Authorization": [f"Bearer {entry.webhook_secret}"]
                        },
                        "timeout": "2s",
                        "threshold": 5,
                        "backoff": "200ms",
                        "ignore": {"actions": ["pull"]},
                    }
                ]
            }
        }
    )
    Registry.objects.filter(pk=entry.pk).update(address=server.url)
    pusher = server.pusher()

    started = time.monotonic()
    image = pusher.image("team-a/app", "1.0", labels={"built-by": "ci"})
    tag = wait_for(
        lambda: Tag.objects.filter(repository__name="team-a/app", name="1.0").first()
    )
    latency = time.monotonic() - started
    assert tag.digest == image.digest
    assert tag.labels == {"built-by": "ci"}
    assert latency < 3.0, f"searchable after {latency:.2f}s"

    pusher.image("team-b/elsewhere", "1")  # outside the entry's namespace
    moved = pusher.image("team-a/app", "1.0")  # the tag moves to a new image
    wait_for(
        lambda: Tag.objects.filter(
            repository__name="team-a/app", name="1.0", digest=moved.digest
        ).exists()
    )
    pusher.delete("team-a/app", moved.digest)
    wait_for(lambda: not Tag.objects.filter(repository__name="team-a/app").exists())
    assert not Tag.objects.filter(repository__name="team-b/elsewhere").exists()
    assert NotificationEvent.objects.filter(action="delete").exists()
