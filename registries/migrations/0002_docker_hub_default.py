"""Create Docker Hub as a default global entry, unless settings say not to."""

from django.conf import settings
from django.db import migrations

DOCKER_HUB_ADDRESS = "https://registry.hub.docker.com"


def create_docker_hub(apps, schema_editor):
    if not settings.PORTOLAN_CREATE_DOCKER_HUB:
        return
    Registry = apps.get_model("registries", "Registry")
    Registry.objects.get_or_create(
        address=DOCKER_HUB_ADDRESS,
        namespace="",
        project=None,
        defaults={
            "name": "Docker Hub",
            "enabled": True,
            "is_default": True,
            "api_version": "v2",
            "flavour": "dockerhub",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("registries", "0001_initial")]

    operations = [migrations.RunPython(create_docker_hub, migrations.RunPython.noop)]
