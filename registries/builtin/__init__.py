"""The built-in registry: the portal is the token service of a distribution registry.

``scopes`` parses and intersects requested access, ``keys`` keeps the portal's CA
and signing keys, ``tokens`` signs registry JWTs, ``accounts`` decides who is
asking, ``config`` writes the registry's configuration and ``services`` holds
every write (robot accounts, access tokens, the registry entry, deletes).
"""
