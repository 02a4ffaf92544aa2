"""Create a first portal admin when there is none, and print how to log in."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the user 'admin' with a generated password if no portal admin exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        password_file = settings.DATA_DIR / "admin_password"
        if User.objects.filter(is_staff=True, is_active=True).exists():
            if password_file.exists():
                self.stdout.write(
                    f"Log in as '{username}' with the password in {password_file}"
                )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created portal admin '{username}' with password '{password}' "
                f"(also kept in {password_file})."
            )
        )
