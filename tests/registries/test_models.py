"""Rules of registry entries: addresses, namespaces, duplicates, plain HTTP."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from registries.addresses import in_namespace, normalize_address, normalize_namespace
from registries.models import DOCKER_HUB_ADDRESS, Registry
from registries.services import registry_create, registry_update


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("registry.example.com", "https://registry.example.com"),
        ("REGISTRY.Example.com/", "https://registry.example.com"),
        ("https://registry.example.com:443", "https://registry.example.com"),
        ("http://registry.example.com:80/", "http://registry.example.com"),
        ("registry.example.com:5000", "https://registry.example.com:5000"),
        ("http://10.0.0.5:5000", "http://10.0.0.5:5000"),
        ("[::1]:5000", "https://[::1]:5000"),
        ("[0:0::0:1]:5000", "https://[::1]:5000"),
        ("https://[FE80:0:0::1]", "https://[fe80::1]"),
        (
            "https://jfrog.example.com/artifactory/api/docker/repo//",
            "https://jfrog.example.com/artifactory/api/docker/repo",
        ),
        ("  registry.example.com  ", "https://registry.example.com"),
    ],
)
def test_address_is_normalised(raw, expected):
    assert normalize_address(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "required"),
        ("ftp://registry.example.com", "scheme"),
        ("https://user:pw@registry.example.com", "credentials"),
        ("https://registry.example.com/?x=1", "query"),
        ("https://registry.example.com/#frag", "query"),
        ("https://bad_host!.example.com", "host"),
        ("https://registry.example.com:99999", "invalid"),
        ("https://registry.example.com:0", "port"),
        ("registry.example.com.", "host"),
        ("https://registry.example.com.:5000/x", "host"),
        ("https://[fe80::1%25eth0]", "host"),
        ("registry.example.com/" + "a" * 234, "max_length"),
    ],
)
def test_bad_addresses_are_refused_with_a_reason(raw, code):
    with pytest.raises(ValidationError) as exc:
        normalize_address(raw)
    assert exc.value.code == code
    assert exc.value.messages[0]


def test_namespace_rules():
    assert normalize_namespace("/team-a/sub/") == "team-a/sub"
    assert normalize_namespace("") == ""
    for bad in ("Team-A", "team a", "team-a//sub", "-team", "team-a/"[:0] + "a/-b"):
        with pytest.raises(ValidationError):
            normalize_namespace(bad)


def test_namespace_matching_is_by_whole_components():
    assert in_namespace("team-a/x", "team-a")
    assert in_namespace("team-a/sub/x", "team-a")
    assert in_namespace("team-a", "team-a")
    assert not in_namespace("team-ab/x", "team-a")
    assert in_namespace("anything/at/all", "")


def test_same_address_and_namespace_twice_in_one_scope_is_refused(personas):
    admin = personas["portal_admin"]
    registry_create(
        acting_user=admin, name="A", address="reg.example.com", namespace="x"
    )
    with pytest.raises(ValidationError) as exc:
        registry_create(
            acting_user=admin,
            name="B",
            address="https://REG.example.com:443/",
            namespace="x/",
        )
    assert "already exists" in str(exc.value)


def test_same_address_with_other_namespaces_and_scopes_is_fine(
    personas, project_a, project_b
):
    admin = personas["portal_admin"]
    registry_create(acting_user=admin, name="all", address="reg.example.com")
    registry_create(
        acting_user=admin, name="a", address="reg.example.com", namespace="team-a"
    )
    registry_create(
        acting_user=admin, name="b", address="reg.example.com", namespace="team-b"
    )
    registry_create(
        acting_user=admin, project=project_a, name="pa", address="reg.example.com"
    )
    registry_create(
        acting_user=admin, project=project_b, name="pb", address="reg.example.com"
    )
    assert Registry.objects.filter(address="https://reg.example.com").count() == 5
    with pytest.raises(ValidationError, match="already has an entry"):
        registry_create(
            acting_user=admin, project=project_a, name="pa2", address="reg.example.com"
        )


def test_database_enforces_uniqueness_too(personas):
    admin = personas["portal_admin"]
    registry_create(acting_user=admin, name="A", address="reg.example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Registry.objects.create(name="B", address="https://reg.example.com")


def test_plain_http_needs_explicit_opt_in(personas):
    admin = personas["portal_admin"]
    with pytest.raises(ValidationError) as exc:
        registry_create(
            acting_user=admin, name="insecure", address="http://10.1.2.3:5000"
        )
    assert "allow_plain_http" in exc.value.message_dict
    registry = registry_create(
        acting_user=admin,
        name="insecure",
        address="http://10.1.2.3:5000",
        allow_plain_http=True,
    )
    assert registry.address == "http://10.1.2.3:5000"
    # Nor can the database be talked into it behind the model's back.
    with pytest.raises(IntegrityError), transaction.atomic():
        Registry.objects.filter(pk=registry.pk).update(allow_plain_http=False)


def test_docker_hub_is_a_default_global_entry_that_can_be_disabled(personas):
    hub = Registry.objects.get(address=DOCKER_HUB_ADDRESS, project__isnull=True)
    assert hub.is_default and hub.enabled and hub.flavour == "dockerhub"
    registry_update(acting_user=personas["portal_admin"], registry=hub, enabled=False)
    hub.refresh_from_db()
    assert not hub.enabled


def test_docker_hub_default_can_be_switched_off(settings, db):
    from importlib import import_module

    from django.apps import apps

    Registry.objects.filter(address=DOCKER_HUB_ADDRESS).delete()
    migration = import_module("registries.migrations.0002_docker_hub_default")
    settings.PORTOLAN_CREATE_DOCKER_HUB = False
    migration.create_docker_hub(apps, None)
    assert not Registry.objects.filter(address=DOCKER_HUB_ADDRESS).exists()
    settings.PORTOLAN_CREATE_DOCKER_HUB = True
    migration.create_docker_hub(apps, None)
    assert Registry.objects.filter(address=DOCKER_HUB_ADDRESS).count() == 1


def test_credentials_are_encrypted_at_rest(registry_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT password_encrypted FROM registries_registry WHERE id = %s",
            [registry_a.pk],
        )
        (raw,) = cursor.fetchone()
    assert raw and "team-a-s3cret-value" not in raw
    assert Registry.objects.get(pk=registry_a.pk).password == "team-a-s3cret-value"


def test_empty_password_on_edit_keeps_the_old_one(registry_a, personas):
    registry_update(
        acting_user=personas["project_admin"],
        registry=registry_a,
        name="Renamed",
        password=None,
    )
    registry_a.refresh_from_db()
    assert registry_a.password == "team-a-s3cret-value"
    assert registry_a.name == "Renamed"


def test_pull_reference():
    registry = Registry(address="https://images.example.com:5000")
    assert (
        registry.pull_reference("team-a/app", "1.0")
        == "images.example.com:5000/team-a/app:1.0"
    )
    hub = Registry(address=DOCKER_HUB_ADDRESS, flavour="dockerhub")
    assert hub.pull_reference("library/nginx", "1.27") == "nginx:1.27"
    digest = "sha256:" + "ab" * 32
    assert hub.pull_reference("library/nginx", digest=digest) == f"nginx@{digest}"
    assert (
        registry.pull_reference("team-a/app", "1.0", digest=digest)
        == f"images.example.com:5000/team-a/app@{digest}"
    )


def test_the_builtin_entry_is_managed_apart_but_can_be_disabled(personas, client_for):
    from registries.services import registry_delete, registry_set_enabled

    admin = personas["portal_admin"]
    builtin = Registry.objects.create(
        name="Built-in", address="https://127.0.0.1:5443", is_builtin=True
    )
    with pytest.raises(ValidationError, match="builtin_registry config"):
        registry_update(acting_user=admin, registry=builtin, name="Renamed")
    with pytest.raises(ValidationError, match="builtin_registry config"):
        registry_delete(acting_user=admin, registry=builtin)
    client = client_for(admin)
    assert client.get(f"/registries/{builtin.pk}/edit/").status_code == 403
    assert client.post(f"/registries/{builtin.pk}/delete/").status_code == 403
    listing = client.get("/administration/registries/").content.decode()
    assert f"/registries/{builtin.pk}/toggle/" in listing
    assert f"/registries/{builtin.pk}/edit/" not in listing
    registry_set_enabled(acting_user=admin, registry=builtin, enabled=False)
    builtin.refresh_from_db()
    assert builtin.name == "Built-in" and not builtin.enabled


@pytest.mark.parametrize(
    ("address", "flavour", "expected"),
    [
        ("https://registry.hub.docker.com", "", True),
        ("https://index.docker.io", "", True),
        ("https://docker.io", "", True),
        ("https://registry-1.docker.io:443", "", True),
        ("https://mirror.example.com", "dockerhub", True),
        ("https://registry-1.docker.io:5000", "", False),
        ("http://docker.io", "", False),
        ("https://docker.io.example.com", "", False),
    ],
)
def test_docker_hub_is_recognised_under_its_names(address, flavour, expected):
    entry = Registry(address=address, flavour=flavour)
    assert entry.is_docker_hub is expected
    assert (entry.pull_reference("library/nginx", "1") == "nginx:1") is expected


def test_trailing_dot_says_to_drop_it():
    with pytest.raises(ValidationError, match="without the dot"):
        normalize_address("registry.example.com.")


def test_ipv6_spellings_are_one_address(personas):
    admin = personas["portal_admin"]
    registry_create(acting_user=admin, name="A", address="[::1]:5000")
    with pytest.raises(ValidationError) as exc:
        registry_create(acting_user=admin, name="B", address="[0:0::0:1]:5000")
    assert "already exists" in str(exc.value.message_dict)
    assert Registry.objects.filter(address="https://[::1]:5000").count() == 1


def test_address_too_long_with_its_scheme_is_refused_on_the_field(personas):
    """255 characters typed become 263 with https://: no DataError on PostgreSQL."""
    raw = "registry.example.com/" + "a" * 234
    assert len(raw) == 255
    with pytest.raises(ValidationError) as exc:
        registry_create(acting_user=personas["portal_admin"], name="Long", address=raw)
    assert "too long" in " ".join(exc.value.message_dict["address"])
    assert not Registry.objects.filter(name="Long").exists()
    # The longest that fits is still fine.
    fits = registry_create(
        acting_user=personas["portal_admin"],
        name="Fits",
        address="registry.example.com/" + "a" * 226,
    )
    assert len(fits.address) == 255


def test_address_too_long_on_the_page_is_a_message(personas, client_for):
    response = client_for(personas["portal_admin"]).post(
        "/administration/registries/add/",
        {
            "name": "Long",
            "address": "registry.example.com/" + "a" * 234,
            "crawl_interval_minutes": 60,
        },
    )
    assert response.status_code == 422
    assert "too long" in response.content.decode()
    assert not Registry.objects.filter(name="Long").exists()


@pytest.fixture
def builtin_entry(db):
    return Registry.objects.create(
        name="Built-in", address="https://127.0.0.1:5443", is_builtin=True
    )


@pytest.mark.parametrize(
    ("address", "plain"),
    [
        ("127.0.0.1:5443", False),
        ("https://127.0.0.1:5443/v2", False),
        ("localhost:5443", False),
        ("[::1]:5443", False),
        ("http://127.0.0.1:5443", True),
        # Other names of this machine.
        ("0.0.0.0:5443", False),
        ("[::]:5443", False),
        ("[::ffff:127.0.0.1]:5443", False),
        ("registry.localhost:5443", False),
        ("127.9.9.9:5443", False),
    ],
)
def test_the_builtin_address_cannot_be_added_again(
    personas, project_a, builtin_entry, address, plain
):
    """Another entry for it would skip the one-namespace-per-project rule."""
    for project, user in (
        (project_a, personas["project_admin"]),
        (None, personas["portal_admin"]),
    ):
        with pytest.raises(ValidationError) as exc:
            registry_create(
                acting_user=user,
                project=project,
                name="Sneaky",
                address=address,
                namespace="team-b",
                allow_plain_http=plain,
            )
        assert "built-in registry" in " ".join(exc.value.message_dict["address"])
    assert not Registry.objects.filter(name="Sneaky").exists()


def test_an_entry_cannot_be_moved_to_the_builtin_address(
    personas, registry_a, builtin_entry
):
    with pytest.raises(ValidationError) as exc:
        registry_update(
            acting_user=personas["project_admin"],
            registry=registry_a,
            address="127.0.0.1:5443",
            password="again",
        )
    assert "built-in registry" in " ".join(exc.value.message_dict["address"])
    registry_a.refresh_from_db()
    assert registry_a.address == "https://images.example.com:5000"


def test_other_ports_of_the_builtin_host_are_other_registries(
    personas, project_a, builtin_entry
):
    entry = registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Lab",
        address="127.0.0.1:5000",
    )
    assert entry.address == "https://127.0.0.1:5000"
    # The built-in entry itself still saves (builtin_registry config re-syncs it).
    builtin_entry.full_clean()


def test_the_builtin_address_is_refused_on_the_page(
    personas, client_for, builtin_entry
):
    response = client_for(personas["project_admin"]).post(
        "/projects/team-a/registries/add/",
        {
            "name": "Sneaky",
            "address": "127.0.0.1:5443",
            "namespace": "team-b",
            "crawl_interval_minutes": 60,
        },
    )
    assert response.status_code == 422
    assert "built-in registry" in response.content.decode()
    assert not Registry.objects.filter(name="Sneaky").exists()
