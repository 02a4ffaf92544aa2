"""PostgreSQL search: pg_trgm, a full-text expression index and pattern indexes.

Nothing here runs on SQLite, where search falls back to plain substring matches.
The expressions must stay identical to those in ``library.selectors``.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = [
    (
        "library_repo_name_trgm",
        "CREATE INDEX library_repo_name_trgm ON library_repository "
        "USING gin (name gin_trgm_ops)",
    ),
    (
        "library_repo_fts",
        "CREATE INDEX library_repo_fts ON library_repository "
        "USING gin (to_tsvector('simple'::regconfig, search_text))",
    ),
    (
        "library_repo_source_name_pattern",
        "CREATE INDEX library_repo_source_name_pattern ON library_repository "
        "(source_id, name varchar_pattern_ops)",
    ),
    (
        "library_repo_short_name_pattern",
        "CREATE INDEX library_repo_short_name_pattern ON library_repository "
        "(short_name varchar_pattern_ops)",
    ),
    (
        "library_tag_digest_pattern",
        "CREATE INDEX library_tag_digest_pattern ON library_tag "
        "(digest varchar_pattern_ops)",
    ),
    (
        "library_tag_labels_gin",
        "CREATE INDEX library_tag_labels_gin ON library_tag "
        "USING gin (labels jsonb_path_ops)",
    ),
    (
        "library_tag_os_arch_gin",
        "CREATE INDEX library_tag_os_arch_gin ON library_tag "
        "USING gin (os_arch jsonb_path_ops)",
    ),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _name, sql in INDEXES:
        schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _sql in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("library", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
