"""Image references read the way ``docker pull`` reads them (no database needed)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from portal.access import parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("raw", "domain", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "", ""),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", ""),
        ("library/nginx", "docker.io", "library/nginx", "", ""),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", ""),
        ("docker.io/nginx", "docker.io", "library/nginx", "", ""),
        ("index.docker.io/nginx", "docker.io", "library/nginx", "", ""),
        ("registry-1.docker.io/library/nginx:x", "docker.io", "library/nginx", "x", ""),
        (
            "registry.hub.docker.com/grafana/grafana",
            "docker.io",
            "grafana/grafana",
            "",
            "",
        ),
        (f"nginx@{DIGEST}", "docker.io", "library/nginx", "", DIGEST),
        (f"nginx:1.27@{DIGEST}", "docker.io", "library/nginx", "1.27", DIGEST),
        ("localhost/app", "localhost", "app", "", ""),
        ("localhost:5000/team-a/app:v1", "localhost:5000", "team-a/app", "v1", ""),
        ("Registry.Example.com/a/b", "registry.example.com", "a/b", "", ""),
        (
            "127.0.0.1:5000/a_b/c__d/e-f/g.h:T_1.x-y",
            "127.0.0.1:5000",
            "a_b/c__d/e-f/g.h",
            "T_1.x-y",
            "",
        ),
        ("[::1]:5000/app", "[::1]:5000", "app", "", ""),
        ("host.example/a/b/c/d", "host.example", "a/b/c/d", "", ""),
        # A first component without . or : is a Docker Hub namespace, not a host.
        ("team-a/app", "docker.io", "team-a/app", "", ""),
        # An explicit port makes docker.io someone else's host.
        ("docker.io:5000/x", "docker.io:5000", "x", "", ""),
    ],
)
def test_valid_references(raw, domain, repository, tag, digest):
    ref = parse_reference(raw)
    assert (ref.domain, ref.repository, ref.tag, ref.digest) == (
        domain,
        repository,
        tag,
        digest,
    )


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "Enter an image reference"),
        ("   ", "Enter an image reference"),
        ("nginx latest", "spaces"),
        ("Nginx", "lower-case"),
        ("registry.example.com/Team/app", "lower-case"),
        ("registry.example.com/", "empty component"),
        ("registry.example.com//app", "empty component"),
        ("app:", "tag"),
        ("app:.hidden", "tag"),
        ("app:" + "t" * 129, "tag"),
        ("app@sha256:abc", "64"),
        ("app@sha256:" + "AB" * 32, "lower-case hex"),
        ("app@md5:" + "ab" * 16, "sha256, sha384 or sha512"),
        ("app@latest", "digest"),
        ("-app", "not a valid repository name component"),
        ("a--/b", "not a valid repository name component"),
        ("host.example:99999/app", "between 1 and 65535"),
        ("host.example:port/app", "port must be a number"),
        ("-bad-.example/app", "not a valid host name"),
        ("[zz::1]/app", "IPv6"),
        ("registry.example.com/" + "a" * 300, "longer than 255"),
        (":tag", "name is missing"),
    ],
)
def test_malformed_references_say_why(raw, says):
    with pytest.raises(ValidationError) as info:
        parse_reference(raw)
    assert says in " ".join(info.value.messages)
