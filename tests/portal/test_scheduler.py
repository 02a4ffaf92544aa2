"""The embedded default crawls on schedule with no broker: ``run_scheduler``.

Runs the real command in a subprocess on a fresh SQLite data directory, with the
in-process task threads, against the real distribution registry.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.registry import RegistryServer, registry_binary

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed"
)


def manage(data_dir: Path, *args: str, check: bool = True) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(PORTAL_DATA_DIR=str(data_dir), PORTAL_INPROCESS_THREADS="2")
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"manage.py {args} failed:\n{result.stdout}{result.stderr}"
        )
    return result.stdout + result.stderr


def test_run_scheduler_crawls_a_due_registry_on_the_embedded_default(tmp_path):
    registry = RegistryServer("http", workdir=tmp_path / "registry").start()
    try:
        registry.pusher().image("team-a/app", "1.0")
        data_dir = tmp_path / "data"
        manage(data_dir, "migrate", "--no-input")
        manage(
            data_dir,
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model;"
            "from registries.services import registry_create;"
            "admin = get_user_model().objects.create_superuser('root', '', 'pw-1234');"
            "registry_create(acting_user=admin, name='Local', "
            f"address='{registry.url}', allow_plain_http=True)",
        )
        output = manage(data_dir, "run_scheduler", "--once")
        assert "periodic task" in output
        names = manage(
            data_dir,
            "shell",
            "-c",
            "from library.models import Repository;"
            "print(sorted(Repository.objects.values_list('name', flat=True)))",
        )
        assert "['team-a/app']" in names
    finally:
        registry.stop()


def test_run_scheduler_refuses_when_a_broker_is_configured(tmp_path):
    env_backup = os.environ.get("REDIS_URL")
    result = subprocess.run(
        [sys.executable, "manage.py", "run_scheduler", "--once"],
        cwd=ROOT,
        env={
            **os.environ,
            "PORTAL_DATA_DIR": str(tmp_path),
            "REDIS_URL": "redis://127.0.0.1:6379/13",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert env_backup == os.environ.get("REDIS_URL")
    assert result.returncode != 0
    assert "run Celery beat instead" in result.stderr
