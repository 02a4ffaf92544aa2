"""Project slugs become registry namespaces; audit rows keep their project's name.

The schema half; 0004 fixes existing rows. They are apart because PostgreSQL
will not build this migration's index on a table whose rows were just written
in the same transaction (their foreign-key checks are deferred to commit).
"""

import re

import django.core.validators
from django.db import migrations, models

PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0002_api_token"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="project_name",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="project_slug",
            field=models.CharField(blank=True, db_index=True, max_length=63),
        ),
        migrations.AlterField(
            model_name="project",
            name="slug",
            field=models.SlugField(
                help_text=(
                    "Short lower-case name used in URLs and as the built-in "
                    "registry namespace. It cannot be changed once the project "
                    "exists."
                ),
                max_length=63,
                unique=True,
                validators=[
                    django.core.validators.RegexValidator(
                        PATH_COMPONENT,
                        "Use lower-case letters and digits, separated by - or _ "
                        "(not at the start or end): the slug is the project's "
                        "namespace in the built-in registry, where names are "
                        "lower case.",
                        code="invalid_slug",
                    )
                ],
                verbose_name="slug",
            ),
        ),
    ]
