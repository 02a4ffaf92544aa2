"""Settings from the environment: strict parsers, *_FILE secrets, kept keys."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("PORTAL_X", "PORTAL_X_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
    ],
)
def test_env_bool_accepts_the_usual_spellings(raw, expected, clean_env):
    clean_env.setenv("PORTAL_X", raw)
    assert env.env_bool("PORTAL_X", not expected) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "tru", "enabled", "y e s"])
def test_env_bool_refuses_anything_else_naming_the_variable(raw, clean_env):
    clean_env.setenv("PORTAL_X", raw)
    with pytest.raises(ImproperlyConfigured, match=r"PORTAL_X=.* is not a boolean"):
        env.env_bool("PORTAL_X", False)


def test_env_bool_unset_or_empty_is_the_default(clean_env):
    assert env.env_bool("PORTAL_X", True) is True
    clean_env.setenv("PORTAL_X", "")
    assert env.env_bool("PORTAL_X", False) is False


def test_env_int(clean_env):
    assert env.env_int("PORTAL_X", 7) == 7
    clean_env.setenv("PORTAL_X", " 42 ")
    assert env.env_int("PORTAL_X", 7, minimum=1) == 42
    clean_env.setenv("PORTAL_X", "4.5")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env.env_int("PORTAL_X", 7)
    clean_env.setenv("PORTAL_X", "0")
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        env.env_int("PORTAL_X", 7, minimum=1)


def test_env_list(clean_env):
    assert env.env_list("PORTAL_X", ["a"]) == ["a"]
    clean_env.setenv("PORTAL_X", " a.example, ,b.example ")
    assert env.env_list("PORTAL_X", []) == ["a.example", "b.example"]
    clean_env.setenv("PORTAL_X", "")
    assert env.env_list("PORTAL_X", ["a"]) == []


def test_env_str_reads_a_file(clean_env, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    clean_env.setenv("PORTAL_X_FILE", str(secret))
    assert env.env_str("PORTAL_X") == "from-a-file"


def test_env_str_refuses_both_the_value_and_the_file(clean_env, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("x")
    clean_env.setenv("PORTAL_X", "y")
    clean_env.setenv("PORTAL_X_FILE", str(secret))
    with pytest.raises(
        ImproperlyConfigured, match="PORTAL_X or PORTAL_X_FILE, not both"
    ):
        env.env_str("PORTAL_X")


def test_env_str_explains_an_unreadable_file(clean_env, tmp_path):
    clean_env.setenv("PORTAL_X_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env.env_str("PORTAL_X")


def test_kept_secret_generates_once_privately_and_reuses(clean_env, tmp_path):
    path = tmp_path / "data" / "secret_key"
    calls = []

    def generate():
        calls.append(1)
        return f"generated-{len(calls)}"

    first = env.kept_secret("PORTAL_X", path, generate)
    assert first == "generated-1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "generated-1\n"
    assert env.kept_secret("PORTAL_X", path, generate) == "generated-1"
    assert len(calls) == 1


def test_kept_secret_prefers_the_environment_and_its_file(clean_env, tmp_path):
    path = tmp_path / "kept"

    def generate():
        raise AssertionError("must not generate")

    clean_env.setenv("PORTAL_X", "from-env")
    assert env.kept_secret("PORTAL_X", path, generate) == "from-env"
    clean_env.delenv("PORTAL_X")
    secret = tmp_path / "mounted"
    secret.write_text("from-file\n")
    clean_env.setenv("PORTAL_X_FILE", str(secret))
    assert env.kept_secret("PORTAL_X", path, generate) == "from-file"
    assert not path.exists()


def test_kept_secret_lets_the_first_of_two_writers_win(clean_env, tmp_path):
    """A second process that lost the race reads the key the first one wrote."""
    path = tmp_path / "kept"

    def generate():
        # The other process writes its key between our read and our create.
        path.write_text("written-by-the-other-process\n")
        return "ours"

    assert env.kept_secret("PORTAL_X", path, generate) == "written-by-the-other-process"


def test_kept_secret_refuses_an_empty_key_file_naming_it(clean_env, tmp_path):
    """An emptied key file stops the start rather than silently making a new key."""
    path = tmp_path / "kept"
    path.write_text("\n")
    with pytest.raises(ImproperlyConfigured, match=str(path)):
        env.kept_secret("PORTAL_X", path, lambda: "fresh")
    assert path.read_text() == "\n"


def test_kept_secret_leaves_no_temporary_files(clean_env, tmp_path):
    env.kept_secret("PORTAL_X", tmp_path / "kept", lambda: "k")
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]


def test_generated_keys_are_usable():
    from cryptography.fernet import Fernet

    Fernet(env.generate_fernet_key().encode())
    assert len(env.generate_secret_key()) >= 50
    assert env.generate_secret_key() != env.generate_secret_key()


# -- the settings module itself, loaded in a fresh interpreter ----------------------

_PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "secret_key": settings.SECRET_KEY,
    "credentials_keys": settings.CREDENTIALS_KEYS,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "debug": settings.DEBUG,
}))
"""


def load_settings(data_dir: Path, **variables) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PORTAL_", "DATABASE_", "REDIS_", "SECRET_KEY"))
    }
    environment |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_DATA_DIR": str(data_dir),
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_variables_is_the_embedded_default_with_kept_keys(tmp_path):
    first = load_settings(tmp_path)
    assert first.returncode == 0, first.stderr
    values = json.loads(first.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["db_name"] == str(tmp_path / "portal.sqlite3")
    assert values["cache"].endswith("LocMemCache")
    assert values["eager"] is True
    assert values["debug"] is False
    for name in ("secret_key", "credentials_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert values["secret_key"] == (tmp_path / "secret_key").read_text().strip()

    again = json.loads(load_settings(tmp_path).stdout)
    assert again["secret_key"] == values["secret_key"]
    assert again["credentials_keys"] == values["credentials_keys"]
    # Another data directory is another installation with its own keys.
    other = json.loads(load_settings(tmp_path / "other").stdout)
    assert other["secret_key"] != values["secret_key"]


def test_variables_select_postgres_and_redis(tmp_path):
    result = load_settings(
        tmp_path,
        DATABASE_URL="postgres://user@db.example:5432/portal",
        REDIS_URL="redis://127.0.0.1:6379/9",
        SECRET_KEY="k" * 50,
        PORTAL_DEBUG="yes",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["cache"].endswith("RedisCache")
    assert values["eager"] is False
    assert values["secret_key"] == "k" * 50
    assert values["debug"] is True
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"PORTAL_DEBUG": "maybe"}, "PORTAL_DEBUG='maybe' is not a boolean"),
        ({"DATABASE_URL": "nonsense://x"}, "DATABASE_URL is not usable"),
        ({"SECRET_KEY": "a", "SECRET_KEY_FILE": "/etc/hostname"}, "not both"),
        ({"CELERY_TASK_TIME_LIMIT": "soon"}, "not a whole number"),
    ],
)
def test_bad_settings_stop_the_start_with_a_reason(tmp_path, variables, message):
    result = load_settings(tmp_path, **variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_a_bad_credentials_key_is_explained(tmp_path, settings):
    from registries import crypto

    settings.CREDENTIALS_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="PORTAL_CREDENTIALS_KEY"):
        crypto.encrypt("x")


def test_rotated_keys_still_decrypt_old_secrets(settings):
    from cryptography.fernet import Fernet

    from registries import crypto

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [old]
    token = crypto.encrypt("s3cret")
    settings.CREDENTIALS_KEYS = [new, old]
    assert crypto.decrypt(token) == "s3cret"
    settings.CREDENTIALS_KEYS = [new]
    with pytest.raises(ValueError, match="cannot be decrypted"):
        crypto.decrypt(token)
