"""What every benchmark shares: its own PostgreSQL database, Django, figures.

The benchmarks run the portal's real code against a database of their own
(``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/portolan_bench``),
created and dropped here. To keep a typo from dropping someone's data, the
database name must contain "bench".
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = Path(os.environ.get("BENCH_OUT_DIR") or ROOT / "bench" / "out")
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portolan_bench"


class BenchError(RuntimeError):
    """The benchmark cannot run here; the message says why."""


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """Return a whole-number knob from the environment, strictly parsed."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise BenchError(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise BenchError(f"{name}={value} must be at least {minimum}.")
    return value


# -- the bench database ---------------------------------------------------------------


def database_url(suffix: str = "") -> str:
    """Return the bench database URL (``suffix`` appended to its name)."""
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise BenchError(f"BENCH_DATABASE_URL must be a PostgreSQL URL, not {url!r}.")
    name = parts.path.lstrip("/") + suffix
    if "bench" not in name:
        raise BenchError(
            f"Refusing database {name!r}: a bench database's name contains 'bench' "
            "(it is dropped and created again)."
        )
    return urlunsplit(parts._replace(path="/" + name))


def _maintenance(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


def _name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name or not name.replace("_", "").isalnum():
        raise BenchError(f"Refusing database {name!r}.")
    return name


def recreate_database(url: str) -> None:
    """Drop the bench database if it exists and create it empty."""
    name = _name(url)
    try:
        with _maintenance(url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        raise BenchError(f"PostgreSQL is not usable at {url}: {exc}") from exc


def drop_database(url: str) -> None:
    """Drop the bench database (``BENCH_KEEP_DATABASE=1`` keeps it)."""
    if os.environ.get("BENCH_KEEP_DATABASE", "").strip() in ("1", "true", "yes"):
        print(f"  (kept {url})")
        return
    name = _name(url)
    from django.db import connections

    connections.close_all()
    with _maintenance(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def portal_environment(url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Return the environment the portal runs with here (this process and children).

    ``PORTAL_DATA_DIR`` keeps the bench's secret keys apart from ``var/``; every
    process of one bench shares them, as the web and worker processes of one
    deployment do.
    """
    # STATIC_ROOT lives there; an empty one keeps whitenoise from warning.
    (Path(data_dir) / "static").mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": url,
        "PORTAL_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_DEBUG": "false",
    }
    env.update(extra)
    return env


def setup_django(env: dict[str, str] | None, *, migrate: bool = False) -> None:
    """Configure Django from ``env`` (None: as inherited) and migrate if asked."""
    if env is not None:
        os.environ.update(env)
        # A broker or thread count from the caller's shell would change what runs.
        for name in ("REDIS_URL", "PORTAL_INPROCESS_THREADS"):
            if name not in env:
                os.environ.pop(name, None)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def bench_admin(username: str = "bench-admin"):
    """Return a portal admin for the bench (created once)."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save()
    return user


def verified_entry(admin, **fields):
    """Create a global registry entry and verify it, as an admin does in the UI."""
    from registries.connect import verify
    from registries.services import registry_create, registry_record_verification

    entry = registry_create(acting_user=admin, **fields)
    outcome = verify(entry)
    if not outcome.ok:
        raise BenchError(f"{fields.get('address')} did not verify: {outcome.message}")
    return registry_record_verification(
        registry=entry,
        ok=True,
        message=outcome.message,
        api_version=outcome.api_version,
        flavour=outcome.flavour,
    )


def without_docker_hub(admin) -> None:
    """Disable the default Docker Hub entry: there is no internet here."""
    from registries.models import DOCKER_HUB_ADDRESS, Registry
    from registries.services import registry_set_enabled

    for registry in Registry.objects.filter(address=DOCKER_HUB_ADDRESS):
        registry_set_enabled(acting_user=admin, registry=registry, enabled=False)


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory:
    """Return a temporary directory, in memory (/dev/shm) where there is one.

    Registry storage on a slow disk would time the disk, not the code; and
    removing thousands of small blobs from it takes longer than the bench.
    ``BENCH_TMPDIR`` chooses another place.
    """
    parent = os.environ.get("BENCH_TMPDIR") or None
    if parent is None and os.access("/dev/shm", os.W_OK):
        parent = "/dev/shm"
    return tempfile.TemporaryDirectory(prefix=prefix, dir=parent)


def require_registry() -> str:
    from tests.support.registry import registry_binary

    binary = registry_binary()
    if binary is None:
        raise BenchError(
            "docker-registry is not installed "
            "(Debian: apt-get install docker-registry)."
        )
    return binary


# -- numbers --------------------------------------------------------------------------


def percentile(values: Iterable[float], pct: float) -> float:
    """Return the nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def proc_status_kb(field_name: str) -> int | None:
    """Return a ``/proc/self/status`` figure in KiB (VmRSS, VmHWM), if available."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Stopwatch:
    """Time a block: wall seconds, and CPU seconds of this process (all threads).

    On a shared machine the wall time depends on what else runs; the CPU time
    says what the code itself cost.
    """

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        self.seconds = self.cpu = 0.0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self.start
        self.cpu = time.process_time() - self.cpu_start


# -- reports ---------------------------------------------------------------------------


@dataclass
class Figure:
    key: str
    label: str
    value: float | int | str
    unit: str = ""
    note: str = ""
    target: str = ""
    ok: bool | None = None


@dataclass
class Report:
    """Figures of one benchmark, printed as they come and saved as JSON."""

    name: str
    sizes: dict = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)

    def add(self, key: str, label: str, value, unit: str = "", **kwargs) -> Figure:
        figure = Figure(key, label, value, unit, **kwargs)
        self.figures.append(figure)
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        verdict = {True: "  [met]", False: "  [MISSED]", None: ""}[figure.ok]
        target = f"  (target {figure.target})" if figure.target else ""
        note = f"  {figure.note}" if figure.note else ""
        print(f"  {label:<44} {shown:>10} {unit:<5}{target}{verdict}{note}", flush=True)
        return figure

    def heading(self, text: str) -> None:
        print(f"\n== {text}", flush=True)

    def save(self) -> Path:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUT_DIR / f"{self.name}.json"
        data = {
            "name": self.name,
            "sizes": self.sizes,
            "machine": machine(),
            "figures": [asdict(f) for f in self.figures],
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        }
        path.write_text(json.dumps(data, indent=2, default=str))
        return path


def machine() -> dict:
    """Describe where the figures were taken."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) // 1024} MiB"
                break
    except OSError:
        pass
    registry = ""
    binary = shutil.which("docker-registry")
    if binary:
        try:
            registry = subprocess.run(
                [binary, "--version"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            registry = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "registry": registry,
        "load_average": os.getloadavg(),
    }


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]
