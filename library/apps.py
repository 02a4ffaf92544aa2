from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _trigram_threshold(sender, connection, **kwargs) -> None:
    """Make pg_trgm's ``<%`` as typo-tolerant as the search wants, per connection.

    Setting it once per connection (not per query) keeps the search to one
    statement; before pg_trgm is loaded the value waits as a placeholder.
    """
    if connection.vendor != "postgresql":
        return
    from library.selectors import FUZZY_THRESHOLD

    with connection.cursor() as cursor:
        cursor.execute("SET pg_trgm.word_similarity_threshold = %s", [FUZZY_THRESHOLD])


class LibraryConfig(AppConfig):
    name = "library"
    verbose_name = "Library"

    def ready(self) -> None:
        connection_created.connect(_trigram_threshold, dispatch_uid="library-trgm")
