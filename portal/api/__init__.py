"""The REST API under ``/api/v1/``: the pages' selectors and services over JSON."""
