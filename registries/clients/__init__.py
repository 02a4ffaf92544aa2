"""Registry protocol clients.

Nothing in this package imports Django: base URL, credentials, trust material and
timeouts come in as arguments, results are dataclasses and failures are the typed
errors of :mod:`registries.clients.errors`. They can be exercised against a real
registry with no database.
"""
