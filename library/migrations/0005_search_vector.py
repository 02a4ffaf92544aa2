"""PostgreSQL: a stored full-text vector, and indexes in the orders search uses.

An expression index makes PostgreSQL recompute ``to_tsvector`` for every
candidate row it rechecks; a stored column kept up to date by a trigger does not.
The trigger fires only when ``search_text`` is written, so the crawler's bulk
"seen" updates do not recompute anything. The model does not declare the column:
only ``library.selectors`` reads it, on PostgreSQL.
"""

from django.db import migrations

FORWARD = [
    "ALTER TABLE library_repository ADD COLUMN search_vector tsvector",
    "UPDATE library_repository "
    "SET search_vector = to_tsvector('simple'::regconfig, search_text)",
    "CREATE TRIGGER library_repository_search_vector "
    "BEFORE INSERT OR UPDATE OF search_text ON library_repository "
    "FOR EACH ROW EXECUTE FUNCTION "
    "tsvector_update_trigger(search_vector, 'pg_catalog.simple', search_text)",
    "CREATE INDEX library_repo_search_vector ON library_repository "
    "USING gin (search_vector)",
    "DROP INDEX IF EXISTS library_repo_fts",
    # The orders search uses, so a page is read from an index, not sorted.
    "CREATE INDEX library_repo_popular ON library_repository (is_official DESC, "
    "pull_count DESC NULLS LAST, star_count DESC NULLS LAST, name, id)",
    "CREATE INDEX library_repo_name_id ON library_repository (name, id)",
    "CREATE INDEX library_repo_updated ON library_repository "
    "(last_modified DESC NULLS LAST, name, id)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS library_repo_popular",
    "DROP INDEX IF EXISTS library_repo_name_id",
    "DROP INDEX IF EXISTS library_repo_updated",
    "CREATE INDEX library_repo_fts ON library_repository "
    "USING gin (to_tsvector('simple'::regconfig, search_text))",
    "DROP TRIGGER IF EXISTS library_repository_search_vector ON library_repository",
    "ALTER TABLE library_repository DROP COLUMN IF EXISTS search_vector",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("library", "0004_repository_default_tag")]

    operations = [migrations.RunPython(forward, backward)]
