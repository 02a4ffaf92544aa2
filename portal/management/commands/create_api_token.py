"""Create an API token for a user and print its key (shown only this once)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.api.tokens import api_token_create


class Command(BaseCommand):
    help = (
        "Create an API token for USERNAME and print the key on stdout; only a hash "
        "is stored, so the key cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--name", default="", help="What the token is for (default: cli-<date>)."
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Expire the token after this many days (default: never).",
        )

    def handle(self, *args, username, name, expires_days, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user '{username}'.")
        if not user.is_active:
            raise CommandError(f"The user '{username}' is disabled.")
        if expires_days is not None and not 1 <= expires_days <= 36500:
            raise CommandError("--expires-days must be between 1 and 36500.")
        now = timezone.now()
        name = name.strip() or f"cli-{now:%Y%m%d-%H%M%S}"
        expires_at = now + timedelta(days=expires_days) if expires_days else None
        try:
            created = api_token_create(
                acting_user=None, user=user, name=name, expires_at=expires_at
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        # The key alone on stdout, so scripts can capture it; the rest on stderr.
        self.stderr.write(
            f"Created API token '{created.token.name}' for '{username}'"
            + (f", expiring {expires_at:%Y-%m-%d}" if expires_at else "")
            + ". Send it as 'Authorization: Token <key>'."
        )
        self.stdout.write(created.key)
