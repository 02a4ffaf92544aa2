"""PostgreSQL: a trigram index on the short name, for typo-tolerant search.

Typos are matched against an image's own name (the last path component), where
common namespace prefixes do not make every row a candidate.
"""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX library_repo_short_name_trgm ON library_repository "
            "USING gin (short_name gin_trgm_ops)"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS library_repo_short_name_trgm")


class Migration(migrations.Migration):
    dependencies = [("library", "0005_search_vector")]

    operations = [migrations.RunPython(forward, backward)]
