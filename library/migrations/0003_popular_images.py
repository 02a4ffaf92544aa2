"""Load the bundled popular images (library/data/popular_images.json)."""

import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "popular_images.json"


def load(apps, schema_editor):
    PopularImage = apps.get_model("library", "PopularImage")
    for position, item in enumerate(json.loads(DATA.read_text()), start=1):
        PopularImage.objects.get_or_create(
            name=item["name"],
            defaults={
                "description": item.get("description", ""),
                "is_official": item.get("is_official", False),
                "position": position * 10,
            },
        )


def unload(apps, schema_editor):
    PopularImage = apps.get_model("library", "PopularImage")
    names = [item["name"] for item in json.loads(DATA.read_text())]
    PopularImage.objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [("library", "0002_search_indexes")]

    operations = [migrations.RunPython(load, unload)]
