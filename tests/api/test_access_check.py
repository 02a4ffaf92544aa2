"""The deploy guard: POST /api/v1/access-check/.

Matching rules are checked with ``require_exists: false`` (no network); the
existence check runs against a real distribution registry on loopback.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "0123456789abcdef" * 4


def check(client, image, project="team-a", **extra):
    body = {"project": project, "image": image, "require_exists": False, **extra}
    response = client.post("/api/v1/access-check/", body)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def member(api_as, global_registry, registry_a, registry_b):
    return api_as("member")


# -- hosts and entries -----------------------------------------------------------------


def test_global_entry_serves_every_project(member, api_as):
    answer = check(member, "registry.corp.example/tools/builder:2")
    assert answer["allowed"] is True
    assert answer["code"] == "allowed"
    assert answer["registry"] == "registry.corp.example"
    assert answer["repository"] == "tools/builder"
    assert answer["tag"] == "2"
    assert answer["pull_reference"] == "registry.corp.example/tools/builder:2"
    assert answer["registry_entry"]["name"] == "Corp registry"
    assert answer["registry_entry"]["project"] is None
    # ... including project B.
    assert check(api_as("other_admin"), "registry.corp.example/x", "team-b")["allowed"]


def test_default_port_is_the_same_host(member):
    assert check(member, "registry.corp.example:443/x")["allowed"] is True
    answer = check(member, "registry.corp.example:5000/x")
    assert answer["allowed"] is False
    assert answer["code"] == "no_registry"


def test_unknown_host_is_refused_with_the_reason(member):
    answer = check(member, "ghcr.io/someone/tool:1")
    assert answer["allowed"] is False
    assert answer["code"] == "no_registry"
    assert "ghcr.io" in answer["reason"] and "team-a" in answer["reason"]
    assert answer["pull_reference"] is None
    assert answer["registry_entry"] is None


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("images.example.com:5000/team-a", True),
        ("images.example.com:5000/team-a/x", True),
        ("images.example.com:5000/team-a/sub/x:1", True),
        ("images.example.com:5000/team-ab/x", False),
        ("images.example.com:5000/team-b/x", False),
        ("images.example.com:5000/x", False),
    ],
)
def test_project_entry_namespace_is_whole_components(member, image, allowed):
    answer = check(member, image)
    assert answer["allowed"] is allowed, answer
    if not allowed:
        assert answer["code"] == "outside_namespace"
        assert "team-a" in answer["reason"]


def test_another_projects_entry_does_not_count(api_as, registry_a, registry_b):
    # Same host, but project B only has its own namespace there.
    answer = check(api_as("other_admin"), "images.example.com:5000/team-a/x", "team-b")
    assert answer["code"] == "outside_namespace"
    assert "team-b" in answer["reason"]
    assert check(api_as("other_admin"), "images.example.com:5000/team-b/x", "team-b")[
        "allowed"
    ]


def test_disabled_entry_refuses_and_says_so(member, registry_a, personas):
    from registries.services import registry_set_enabled

    registry_set_enabled(
        acting_user=personas["project_admin"], registry=registry_a, enabled=False
    )
    answer = check(member, "images.example.com:5000/team-a/x")
    assert answer["allowed"] is False
    assert answer["code"] == "registry_disabled"
    assert "Team A images" in answer["reason"]
    assert answer["pull_reference"] is None


def test_most_specific_enabled_entry_answers(member, personas, project_a, registry_a):
    from registries.services import registry_create, registry_set_enabled

    sub = registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Team A sub",
        address="images.example.com:5000",
        namespace="team-a/sub",
    )
    answer = check(member, "images.example.com:5000/team-a/sub/x")
    assert answer["registry_entry"]["id"] == sub.pk
    # With the specific one disabled, the wider one still allows it.
    registry_set_enabled(
        acting_user=personas["project_admin"], registry=sub, enabled=False
    )
    answer = check(member, "images.example.com:5000/team-a/sub/x")
    assert answer["allowed"] is True
    assert answer["registry_entry"]["id"] == registry_a.pk


# -- Docker Hub ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "library/nginx",
        "docker.io/nginx",
        "docker.io/library/nginx:latest",
        "index.docker.io/library/nginx",
        "registry-1.docker.io/library/nginx",
        "registry.hub.docker.com/library/nginx",
        "docker.io:443/library/nginx",
        "docker.io:443/nginx",
        "registry-1.docker.io:443/library/nginx",
        "index.docker.io:443/library/nginx",
    ],
)
def test_docker_hub_names_all_match_the_default_entry(member, image):
    answer = check(member, image)
    assert answer["allowed"] is True, answer
    assert answer["registry"] == "docker.io"
    assert answer["repository"] == "library/nginx"
    assert answer["tag"] == "latest"
    assert answer["registry_entry"]["name"] == "Docker Hub"
    assert answer["pull_reference"] == "docker.io/library/nginx:latest"


def test_docker_hub_disabled_or_gone(member, personas):
    from registries.models import Registry
    from registries.services import registry_delete, registry_set_enabled

    hub = Registry.objects.get(is_default=True)
    registry_set_enabled(
        acting_user=personas["portal_admin"], registry=hub, enabled=False
    )
    assert check(member, "grafana/grafana")["code"] == "registry_disabled"
    registry_delete(acting_user=personas["portal_admin"], registry=hub)
    answer = check(member, "grafana/grafana")
    assert answer["code"] == "no_registry"
    assert "docker.io" in answer["reason"]


def test_docker_hub_namespace_entry(member, personas, project_a):
    """A project may be limited to one Docker Hub organisation."""
    from registries.models import Registry
    from registries.services import registry_create, registry_delete

    registry_delete(
        acting_user=personas["portal_admin"],
        registry=Registry.objects.get(is_default=True),
    )
    registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Hub: bitnami only",
        address="index.docker.io",
        namespace="bitnami",
    )
    assert check(member, "bitnami/redis:7")["allowed"] is True
    assert check(member, "docker.io/bitnami/redis")["allowed"] is True
    assert check(member, "nginx")["code"] == "outside_namespace"


def test_docker_hub_on_another_port_is_another_registry(member):
    answer = check(member, "docker.io:5000/library/nginx")
    assert answer["code"] == "no_registry"


# -- IPv6 literals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "image"),
    [
        ("[::1]:5000", "[0:0::0:1]:5000/team-a/app:1"),
        ("[0:0::0:1]:5000", "[::1]:5000/team-a/app:1"),
        ("[FE80::1]", "[fe80:0::1]/team-a/app:1"),
    ],
)
def test_ipv6_literals_match_however_written(
    member, personas, project_a, address, image
):
    from registries.services import registry_create

    registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="IPv6 lab",
        address=address,
        namespace="team-a",
    )
    answer = check(member, image)
    assert answer["allowed"] is True, answer
    assert answer["registry_entry"]["name"] == "IPv6 lab"


def test_ipv6_zone_in_a_reference_is_refused(member):
    body = {"project": "team-a", "image": "[fe80::1%eth0]:5000/app"}
    error = assert_error(member.post("/api/v1/access-check/", body), 400, "invalid")
    assert "zone" in " ".join(error["fields"]["image"])


# -- the built-in registry -------------------------------------------------------------


@pytest.fixture
def builtin_entry(db):
    from registries.models import Registry

    return Registry.objects.create(
        name="Built-in", address="https://127.0.0.1:5443", is_builtin=True
    )


def test_the_builtin_address_cannot_be_added_as_a_project_entry(api_as, builtin_entry):
    admin = api_as("project_admin")
    response = admin.post(
        "/api/v1/registries/?project=team-a",
        {"name": "Sneaky", "address": "127.0.0.1:5443", "namespace": "team-b"},
    )
    error = assert_error(response, 400, "invalid")
    assert "built-in registry" in " ".join(error["fields"]["address"])
    answer = check(admin, "127.0.0.1:5443/team-b/app:1")
    assert answer["allowed"] is False
    assert answer["code"] == "outside_namespace"


@pytest.mark.parametrize(
    "address",
    ["https://127.0.0.1:5443", "http://127.0.0.1:5443", "https://localhost:5443"],
)
def test_no_entry_opens_another_projects_builtin_namespace(
    member, project_a, builtin_entry, address
):
    """Entries saved before the address was refused still give only team-a."""
    from registries.models import Registry

    host = address.split("://")[1]
    for namespace in ("team-b", ""):
        Registry.objects.filter(is_builtin=False, project=project_a).delete()
        Registry.objects.create(
            name="Old entry",
            project=project_a,
            address=address,
            namespace=namespace,
            allow_plain_http=address.startswith("http://"),
        )
        answer = check(member, f"{host}/team-b/app:1")
        assert answer["allowed"] is False, (namespace, answer)
        assert answer["code"] == "outside_namespace"
        assert "team-a" in answer["reason"] and "team-b:" not in answer["reason"]
        assert check(member, f"{host}/stray:1")["allowed"] is False
    # The project's own namespace stays allowed.
    assert check(member, f"{host}/team-a/app:1")["allowed"] is True


def test_an_old_entry_inside_the_own_namespace_keeps_working(
    member, project_a, builtin_entry
):
    from registries.models import Registry

    Registry.objects.create(
        name="Old sub entry",
        project=project_a,
        address="https://127.0.0.1:5443",
        namespace="team-a/sub",
    )
    answer = check(member, "127.0.0.1:5443/team-a/sub/app:1")
    assert answer["allowed"] is True
    assert answer["registry_entry"]["name"] == "Old sub entry"


# -- digests and tags ------------------------------------------------------------------


def test_digest_is_pinned_in_the_answer(member):
    answer = check(member, f"registry.corp.example/app@{DIGEST}")
    assert answer["allowed"] is True
    assert answer["digest"] == DIGEST
    assert answer["tag"] is None
    assert answer["pull_reference"] == f"registry.corp.example/app@{DIGEST}"
    answer = check(member, f"nginx:1.27@{DIGEST}")
    assert answer["tag"] == "1.27"
    assert answer["pull_reference"] == f"docker.io/library/nginx@{DIGEST}"


# -- who may ask, and bad input --------------------------------------------------------


def test_outsiders_and_anonymous_cannot_ask(api_as, registry_a):
    body = {"project": "team-a", "image": "nginx", "require_exists": False}
    assert_error(api_as("other_admin").post("/api/v1/access-check/", body), 404)
    assert_error(api_as(None).post("/api/v1/access-check/", body), 401)
    assert check(api_as("viewer"), "nginx")["allowed"] is True


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"project": "team-a", "image": "Nginx"}, "image", "lower-case"),
        ({"project": "team-a", "image": "nginx@sha256:12"}, "image", "64"),
        ({"project": "team-a", "image": "a b"}, "image", "spaces"),
        ({"project": "team-a", "image": ""}, "image", "blank"),
        ({"project": "team-a"}, "image", "required"),
        ({"image": "nginx"}, "project", "required"),
        ({"project": "no such!", "image": "nginx"}, "project", "slug"),
        (
            {"project": "team-a", "image": "x", "require_exists": "maybe"},
            "require_exists",
            "valid boolean",
        ),
    ],
)
def test_malformed_requests_are_400_with_a_message(member, body, field, says):
    error = assert_error(member.post("/api/v1/access-check/", body), 400, "invalid")
    assert field in error["fields"], error
    assert says in " ".join(error["fields"][field])


def test_unknown_project_is_404(member):
    body = {"project": "team-z", "image": "nginx"}
    assert_error(member.post("/api/v1/access-check/", body), 404)


# -- existence, against a real registry ------------------------------------------------


@pytest.fixture
def live_entry(live_registry, personas, project_a):
    from registries.services import registry_create

    return registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Live registry",
        address=live_registry.url,
        namespace="team-a",
        allow_plain_http=True,
    )


@pytest.fixture(scope="session")
def pushed(live_registry):
    pusher = live_registry.pusher()
    return pusher.image("team-a/app", "v1")


@pytest.mark.registry
def test_existing_tag_is_allowed_and_pinned(api_as, live_registry, live_entry, pushed):
    image = f"{live_registry.host_port}/team-a/app:v1"
    response = api_as("member").post(
        "/api/v1/access-check/", {"project": "team-a", "image": image}
    )
    answer = response.json()
    assert answer["allowed"] is True, answer
    assert answer["digest"] == pushed.digest
    assert answer["pull_reference"] == (
        f"{live_registry.host_port}/team-a/app@{pushed.digest}"
    )
    assert answer["tag"] == "v1"


@pytest.mark.registry
def test_existing_digest_is_allowed(api_as, live_registry, live_entry, pushed):
    image = f"{live_registry.host_port}/team-a/app@{pushed.digest}"
    answer = (
        api_as("viewer")
        .post("/api/v1/access-check/", {"project": "team-a", "image": image})
        .json()
    )
    assert answer["allowed"] is True, answer
    assert answer["digest"] == pushed.digest


@pytest.mark.registry
@pytest.mark.parametrize(
    "path",
    ["team-a/app:no-such-tag", f"team-a/app@{DIGEST}", "team-a/never-pushed:v1"],
)
def test_missing_image_is_refused(api_as, live_registry, live_entry, pushed, path):
    image = f"{live_registry.host_port}/{path}"
    answer = (
        api_as("member")
        .post("/api/v1/access-check/", {"project": "team-a", "image": image})
        .json()
    )
    assert answer["allowed"] is False
    assert answer["code"] == "image_not_found"
    assert "was not found" in answer["reason"]
    assert answer["pull_reference"] is None
    # Without the existence check the same reference is allowed (not pinned).
    answer = check(api_as("member"), image)
    assert answer["allowed"] is True


@pytest.mark.registry
def test_unreachable_registry_fails_closed(api_as, personas, project_a):
    from registries.services import registry_create
    from tests.support.registry import refused_port

    with refused_port() as port:
        registry_create(
            acting_user=personas["project_admin"],
            project=project_a,
            name="Down",
            address=f"http://127.0.0.1:{port}",
            allow_plain_http=True,
        )
        answer = (
            api_as("member")
            .post(
                "/api/v1/access-check/",
                {"project": "team-a", "image": f"127.0.0.1:{port}/team-a/app:v1"},
            )
            .json()
        )
    assert answer["allowed"] is False
    assert answer["code"] == "registry_error"
    assert "Down" in answer["reason"]


# -- existence in the index ------------------------------------------------------------


def _crawl(entry):
    from library import services

    crawl = services.crawl_request(source=services.source_for_entry(entry))
    services.crawl_run(crawl_id=crawl.pk)
    crawl.refresh_from_db()
    assert crawl.status == "succeeded", crawl.error_message


@pytest.mark.registry
def test_the_index_answers_and_pins_without_the_network(
    api_as, live_registry, live_entry
):
    pusher = live_registry.pusher()
    image = pusher.image("team-a/indexed", "v1")
    _crawl(live_entry)
    reference = f"{live_registry.host_port}/team-a/indexed:v1"
    # Without the existence check the index still pins the digest it knows.
    answer = check(api_as("member"), reference)
    assert answer["digest"] == image.digest
    assert answer["pull_reference"].endswith(f"/team-a/indexed@{image.digest}")
    # Gone from the registry but still indexed: the index is enough.
    pusher.delete("team-a/indexed", image.digest)
    answer = (
        api_as("member")
        .post("/api/v1/access-check/", {"project": "team-a", "image": reference})
        .json()
    )
    assert answer["allowed"] is True
    assert answer["digest"] == image.digest


@pytest.mark.registry
def test_index_rows_of_a_disabled_entry_do_not_count(
    api_as, live_registry, live_entry, personas
):
    from registries.services import registry_set_enabled

    image = live_registry.pusher().image("team-a/hidden", "v1")
    _crawl(live_entry)
    registry_set_enabled(
        acting_user=personas["project_admin"], registry=live_entry, enabled=False
    )
    answer = check(api_as("member"), f"{live_registry.host_port}/team-a/hidden:v1")
    assert answer["code"] == "registry_disabled"
    assert answer["digest"] is None
    assert image.digest not in str(answer)


# -- Docker Hub, live (against the fake hub: Docker Hub is unreachable here) -----------


@pytest.fixture
def fake_hub(settings):
    from django.core.cache import cache

    from tests.fakes.dockerhub import FakeDockerHub

    with FakeDockerHub() as hub:
        settings.DOCKER_HUB_URLS = hub.client_kwargs()
        cache.clear()
        yield hub
    cache.clear()


def test_docker_hub_image_checked_live(api_as, fake_hub, personas):
    """The default Docker Hub entry asks the (fake) hub's registry for the digest."""
    from registries.models import Registry
    from registries.services import registry_update

    # The fake hub speaks plain HTTP on loopback; the real one never does.
    registry_update(
        acting_user=personas["portal_admin"],
        registry=Registry.objects.get(is_default=True),
        allow_plain_http=True,
    )
    fake_hub.add_repository("library/nginx")
    digest = fake_hub.store.add_image("library/nginx", "1.27")
    member = api_as("member")
    answer = member.post(
        "/api/v1/access-check/", {"project": "team-a", "image": "nginx:1.27"}
    ).json()
    assert answer["allowed"] is True, answer
    assert answer["digest"] == digest
    assert answer["pull_reference"] == f"docker.io/library/nginx@{digest}"
    answer = member.post(
        "/api/v1/access-check/", {"project": "team-a", "image": "nginx:0.0-nope"}
    ).json()
    assert (answer["allowed"], answer["code"]) == (False, "image_not_found")
