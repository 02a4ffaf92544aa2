"""The API's one body format: JSON, with every way it can fail a 400 or a 413."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser that also refuses JSON nested too deeply to decode."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # "[" * 100000 exhausts the decoder's stack: the body's fault, not ours.
            raise ParseError(
                _("JSON parse error - arrays and objects are nested too deeply.")
            ) from None
