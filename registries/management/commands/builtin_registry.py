"""Configure and run the built-in registry, with the portal as its token service."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registries.builtin import config, keys, services


class Command(BaseCommand):
    help = (
        "config: write the built-in registry's configuration and create or update "
        "its registry entry; serve: do that, then run docker-registry with it."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["config", "serve"])

    def handle(self, *args, action: str, **options):
        path = self.configure()
        if action == "serve":
            self.serve(path)

    def configure(self):
        try:
            registry = services.builtin_registry_sync(acting_user=None)
        except ValidationError as exc:
            raise CommandError(
                "The built-in registry entry cannot be saved: " + " ".join(exc.messages)
            ) from exc
        hook = config.webhook_url(registry)
        notifications = (
            config.Notifications(url=hook, secret=registry.webhook_secret)
            if hook
            else None
        )
        host, port = services.builtin_host(), services.builtin_port()
        path = config.write(
            config.build(
                address=registry.address,
                host=host,
                port=port,
                notifications=notifications,
            )
        )
        out = self.stdout
        out.write(f"Wrote {path}")
        out.write(
            f"Registry: {registry.address} (listening on "
            f"{config.listen_address(host, port)})"
        )
        out.write(f"Token realm: {config.realm_url()}")
        if not settings.BUILTIN_REGISTRY_TLS_CERT:
            ca_path = keys.pki_dir() / "ca.crt"
            out.write(
                f"TLS: certificate from the portal's CA. Docker hosts trust it with:\n"
                f"  sudo mkdir -p /etc/docker/certs.d/{registry.host}\n"
                f"  sudo cp {ca_path} /etc/docker/certs.d/{registry.host}/ca.crt"
            )
        if notifications is None:
            self.stderr.write(
                "Notifications are off: the portal has no registry webhook yet, so "
                "pushes appear after the next crawl."
            )
        portal = urlsplit(settings.PORTAL_URL)
        if portal.scheme == "http" and not services.is_loopback(portal.hostname or ""):
            self.stderr.write(
                "Warning: PORTAL_URL is plain HTTP, so passwords sent to the token "
                "realm are not encrypted, and the crawler will not send its token "
                "there. Serve the portal over HTTPS."
            )
        return path

    def serve(self, path):
        command = config.registry_command(path)
        if command is None:
            raise CommandError(
                "docker-registry is not installed. On Debian or Ubuntu: "
                "sudo apt-get install docker-registry"
            )
        self.stdout.write("Starting: " + " ".join(command))
        sys.stdout.flush()
        sys.stderr.flush()
        # Replace this process, so signals and the exit status are the registry's.
        os.execv(command[0], command)
