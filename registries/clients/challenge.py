"""Parse ``WWW-Authenticate`` headers (RFC 7235) into challenges.

Registries put URLs, spaces, commas and ``host:port`` inside quoted parameters
(``scope="repository:reg:5000/a:pull,push"``), so splitting on commas is wrong.
This is a small recursive-descent parser over the RFC grammar::

    challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    auth-param = token BWS "=" BWS ( token / quoted-string )

It is lenient where real servers are sloppy: unquoted values may contain any
character but white space and commas (``realm=https://a/token``).
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field

_TCHAR = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)
_TOKEN68 = frozenset(string.ascii_letters + string.digits + "-._~+/")
_WS = " \t"


class ChallengeSyntaxError(ValueError):
    """The header does not follow the challenge grammar."""


@dataclass(frozen=True)
class Challenge:
    """One authentication challenge; scheme and parameter names are lower case."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str = ""

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def error(self) -> str:
        return self.params.get("error", "")

    @property
    def scopes(self) -> tuple[str, ...]:
        """Return the space-separated scopes of the ``scope`` parameter."""
        return tuple(self.params.get("scope", "").split())


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    @property
    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return "" if self.at_end else self.text[self.pos]

    def skip_ws(self) -> None:
        while not self.at_end and self.text[self.pos] in _WS:
            self.pos += 1

    def skip_separators(self) -> None:
        while not self.at_end and self.text[self.pos] in _WS + ",":
            self.pos += 1

    def read_run(self, allowed: frozenset[str]) -> str:
        start = self.pos
        while not self.at_end and self.text[self.pos] in allowed:
            self.pos += 1
        return self.text[start : self.pos]

    def fail(self, what: str) -> ChallengeSyntaxError:
        return ChallengeSyntaxError(f"{what} at position {self.pos} in {self.text!r}")

    def read_quoted(self) -> str:
        self.pos += 1  # opening quote
        out = []
        while not self.at_end:
            char = self.text[self.pos]
            if char == "\\":
                if self.pos + 1 >= len(self.text):
                    break
                out.append(self.text[self.pos + 1])
                self.pos += 2
            elif char == '"':
                self.pos += 1
                return "".join(out)
            else:
                out.append(char)
                self.pos += 1
        raise self.fail("unterminated quoted string")

    def read_value(self) -> str:
        if self.peek() == '"':
            return self.read_quoted()
        start = self.pos
        while not self.at_end and self.text[self.pos] not in _WS + ',"':
            self.pos += 1
        return self.text[start : self.pos]

    def looking_at_param(self) -> bool:
        """Tell whether a ``name=`` follows, without consuming anything."""
        start = self.pos
        try:
            if not self.read_run(_TCHAR):
                return False
            self.skip_ws()
            return self.peek() == "="
        finally:
            self.pos = start

    def looking_at_token68(self) -> bool:
        start = self.pos
        try:
            if not self.read_run(_TOKEN68):
                return False
            self.read_run(frozenset("="))
            self.skip_ws()
            return self.at_end or self.peek() == ","
        finally:
            self.pos = start

    def parse(self) -> list[Challenge]:
        challenges = []
        self.skip_separators()
        while not self.at_end:
            challenges.append(self.parse_challenge())
            self.skip_separators()
        return challenges

    def parse_challenge(self) -> Challenge:
        scheme = self.read_run(_TCHAR)
        if not scheme:
            raise self.fail("expected an authentication scheme")
        if not self.at_end and self.peek() not in _WS + ",":
            raise self.fail("unexpected character after the scheme")
        self.skip_ws()
        if self.at_end or self.peek() == ",":
            return Challenge(scheme.lower())
        if self.looking_at_token68():
            token68 = self.read_run(_TOKEN68) + self.read_run(frozenset("="))
            return Challenge(scheme.lower(), token68=token68)
        return Challenge(scheme.lower(), self.parse_params())

    def parse_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        while True:
            name = self.read_run(_TCHAR).lower()
            self.skip_ws()
            if not name or self.peek() != "=":
                raise self.fail("expected name=value")
            self.pos += 1
            self.skip_ws()
            value = self.read_value()
            if name == "scope" and name in params:
                # Several scope parameters add up, like several space-separated ones.
                value = f"{params[name]} {value}"
            params[name] = value
            self.skip_ws()
            if self.at_end:
                return params
            if self.peek() != ",":
                raise self.fail("expected a comma")
            self.skip_separators()
            # After a comma either another parameter or the next challenge follows.
            if self.at_end or not self.looking_at_param():
                return params


def parse_challenges(header: str | Iterable[str]) -> list[Challenge]:
    """Return every challenge in one header value or in several header lines."""
    values = [header] if isinstance(header, str) else list(header)
    challenges: list[Challenge] = []
    for value in values:
        challenges.extend(_Parser(value).parse())
    return challenges


def find_challenge(challenges: Iterable[Challenge], scheme: str) -> Challenge | None:
    """Return the first challenge of ``scheme`` (case-insensitive), if any."""
    scheme = scheme.lower()
    return next((c for c in challenges if c.scheme == scheme), None)
