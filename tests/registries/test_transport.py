"""The transport against real registries (auth, TLS) and small stub servers.

Stub servers stand in where a real registry cannot misbehave on demand: rate
limits, redirects to other hosts, garbage, loops, huge bodies, slow answers.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from registries.clients import errors
from registries.clients.tls import certificate_info
from registries.clients.transport import (
    Transport,
    error_message,
    parse_link_header,
    retry_after_seconds,
)
from registries.clients.types import ClientConfig
from tests.support.registry import refused_port
from tests.support.tokenserver import Reply, StubServer

REPO_SCOPE = ("repository:seed/app:pull",)


@pytest.fixture
def stub():
    """Start stub servers for one test: ``stub(handler, host=..., tls=...)``."""
    servers: list[StubServer] = []

    def start(handler, **kwargs) -> StubServer:
        server = StubServer(handler, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def stub_config(url: str, **overrides) -> ClientConfig:
    values = {
        "base_url": url,
        "allow_plain_http": True,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
    }
    values.update(overrides)
    return ClientConfig(**values)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def token_requests(server, since: int) -> list:
    return [r for r in server.received[since:] if r.path == "/token"]


# -- Basic auth against a real registry ----------------------------------------------


@pytest.mark.registry
def test_basic_auth_succeeds_with_the_right_password(basic_registry):
    with Transport(basic_registry.client_config()) as transport:
        response = transport.request("GET", "/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


@pytest.mark.registry
def test_basic_auth_with_a_wrong_password_fails(basic_registry):
    config = basic_registry.client_config(password="not-the-password")
    with Transport(config) as transport, pytest.raises(errors.AuthFailed) as caught:
        transport.request("GET", "/v2/")
    assert "'alice'" in caught.value.message
    assert caught.value.status == 401


@pytest.mark.registry
def test_basic_auth_without_credentials_says_they_are_needed(basic_registry):
    config = basic_registry.client_config(username="", password="")
    with Transport(config) as transport, pytest.raises(errors.AuthFailed) as caught:
        transport.request("GET", "/v2/")
    assert "requires a user name and password" in caught.value.message


# -- Token auth against a real registry ----------------------------------------------


@pytest.mark.registry
def test_token_auth_posts_oauth_form_once_and_caches_the_token(
    token_registry, token_server
):
    before = len(token_server.received)
    with Transport(token_registry.client_config()) as transport:
        for _ in range(3):
            transport.request(
                "GET", "/v2/seed/app/tags/list", scope=REPO_SCOPE, allow_status=(404,)
            )
        fetched = token_requests(token_server, before)
        # The first request learns the challenge; the token serves all three.
        assert len(fetched) == 1
        assert fetched[0].method == "POST"
        assert b"grant_type=password" in fetched[0].body
        assert b"scope=repository%3Aseed%2Fapp%3Apull" in fetched[0].body
        assert fetched[0].header("Authorization") is None
        # Another repository needs another token.
        transport.request(
            "GET",
            "/v2/other/tags/list",
            scope=("repository:other:pull",),
            allow_status=(404,),
        )
        assert len(token_requests(token_server, before)) == 2


@pytest.mark.registry
def test_a_token_for_more_scopes_serves_fewer(token_registry, token_server):
    before = len(token_server.received)
    with Transport(token_registry.client_config()) as transport:
        # The challenge adds repository:wide:pull to the scope asked for.
        transport.request(
            "GET", "/v2/wide/tags/list", scope=REPO_SCOPE, allow_status=(404,)
        )
        transport.request(
            "GET", "/v2/seed/app/tags/list", scope=REPO_SCOPE, allow_status=(404,)
        )
        transport.request("GET", "/v2/")
    assert len(token_requests(token_server, before)) == 1


@pytest.mark.registry
def test_token_auth_falls_back_to_get_when_post_is_not_offered(
    token_registry, token_server
):
    before = len(token_server.received)
    with token_server.configure(allow_post=False):
        with Transport(token_registry.client_config()) as transport:
            transport.request("GET", "/v2/", scope=REPO_SCOPE)
            transport.request(
                "GET", "/v2/other/tags/list", scope=(), allow_status=(404,)
            )
    methods = [r.method for r in token_requests(token_server, before)]
    assert methods == ["POST", "GET", "GET"]  # POST is not tried again
    last = token_requests(token_server, before)[-1]
    assert last.header("Authorization") == basic("alice", "wonderland")
    assert last.query["scope"] == ["repository:other:pull"]
    assert last.query["service"] == [token_server.service]


@pytest.mark.registry
def test_short_token_lifetimes_count_as_sixty_seconds(token_registry, token_server):
    before = len(token_server.received)
    with token_server.configure(expires_in=1):
        with Transport(token_registry.client_config()) as transport:
            transport.request("GET", "/v2/")
            time.sleep(1.2)
            transport.request("GET", "/v2/")
    assert len(token_requests(token_server, before)) == 1


@pytest.mark.registry
@pytest.mark.parametrize("token_field", ["decoy", "token", "access_token"])
def test_access_token_is_preferred_over_token(
    token_registry, token_server, token_field
):
    with token_server.configure(token_field=token_field):
        with Transport(token_registry.client_config()) as transport:
            assert transport.request("GET", "/v2/").status_code == 200


@pytest.mark.registry
def test_an_invalid_cached_token_is_replaced_once(token_registry, token_server):
    with Transport(token_registry.client_config()) as transport:
        transport.request("GET", "/v2/")
        for token in transport._tokens.values():
            token.value = "eyJhbGciOiJub25lIn0.e30.garbage"
        before = len(token_server.received)
        assert transport.request("GET", "/v2/").status_code == 200
    assert len(token_requests(token_server, before)) == 1


@pytest.mark.registry
def test_denied_scope_with_credentials_is_forbidden(token_registry, token_server):
    def deny_secret(account, type_, name, actions):
        return [] if name.startswith("secret/") else list(actions)

    with token_server.configure(policy=deny_secret):
        with Transport(token_registry.client_config()) as transport:
            with pytest.raises(errors.Forbidden) as caught:
                transport.request(
                    "GET",
                    "/v2/secret/app/tags/list",
                    scope=("repository:secret/app:pull",),
                )
    assert "repository:secret/app:pull" in caught.value.message
    assert "'alice'" in caught.value.message


@pytest.mark.registry
def test_denied_scope_for_anonymous_asks_for_credentials(token_registry):
    config = token_registry.client_config(username="", password="")
    with Transport(config) as transport, pytest.raises(errors.AuthFailed) as caught:
        transport.request("GET", "/v2/seed/app/tags/list", scope=REPO_SCOPE)
    assert "anonymous" in caught.value.message
    assert "credentials are needed" in caught.value.message


@pytest.mark.registry
def test_token_service_rejecting_the_password_is_auth_failed(token_registry):
    config = token_registry.client_config(password="wrong")
    with Transport(config) as transport, pytest.raises(errors.AuthFailed) as caught:
        transport.request("GET", "/v2/")
    assert caught.value.message.startswith("Token service 127.0.0.1:")
    assert "rejected" in caught.value.message


@pytest.mark.registry
def test_token_service_down_is_unreachable(start_registry):
    with refused_port() as port:
        dead = f"https://127.0.0.1:{port}/token"
        registry = start_registry("token", token_realm=dead)
        with Transport(registry.client_config()) as transport:
            with pytest.raises(errors.Unreachable) as caught:
                transport.request("GET", "/v2/")
    assert caught.value.message.startswith("Token service 127.0.0.1:")
    assert "refused" in caught.value.message
    assert caught.value.retryable


@pytest.mark.registry
def test_token_service_failing_is_a_server_error(start_registry, stub, test_ca):
    realm = stub(lambda request: Reply(503, "upstream down"), tls=test_ca.localhost())
    registry = start_registry("token", token_realm=f"{realm.url}/token")
    with Transport(registry.client_config()) as transport:
        with pytest.raises(errors.ServerError) as caught:
            transport.request("GET", "/v2/")
    assert "Token service" in caught.value.message
    assert "upstream down" in caught.value.message


@pytest.mark.registry
def test_plain_http_token_realm_is_refused(start_registry):
    registry = start_registry("token", token_realm="http://127.0.0.1:9/token")
    with Transport(registry.client_config()) as transport:
        with pytest.raises(errors.PlainHTTPNotAllowed) as caught:
            transport.request("GET", "/v2/")
    assert "token service" in caught.value.message.lower()


# -- TLS against real registries -------------------------------------------------------


@pytest.mark.registry
def test_unknown_ca_is_untrusted_and_shows_the_certificate(https_registry):
    config = https_registry.client_config(ca_pem="")
    with Transport(config) as transport, pytest.raises(errors.TLSUntrusted) as caught:
        transport.request("GET", "/v2/")
    certificate = caught.value.certificate
    assert certificate is not None
    assert certificate.sha256_fingerprint == https_registry.leaf.sha256
    assert "IP:127.0.0.1" in certificate.sans
    assert "Portolan Test CA" in certificate.issuer
    assert not certificate.self_signed
    assert "BEGIN CERTIFICATE" in certificate.pem


@pytest.mark.registry
def test_another_ca_is_not_enough(https_registry):
    from tests.support.certs import TestCA

    config = https_registry.client_config(ca_pem=TestCA("Other CA").cert_pem)
    with Transport(config) as transport, pytest.raises(errors.TLSUntrusted):
        transport.request("GET", "/v2/")


@pytest.mark.registry
def test_trusting_the_ca_works(https_registry, test_ca):
    config = https_registry.client_config(ca_pem=test_ca.cert_pem)
    with Transport(config) as transport:
        assert transport.request("GET", "/v2/").status_code == 200


@pytest.mark.registry
def test_trusting_only_the_server_certificate_works_without_its_ca(https_registry):
    """What "Trust this certificate" stores: the leaf alone, issued by a private CA."""
    config = https_registry.client_config(ca_pem=https_registry.leaf.cert_pem)
    with Transport(config) as transport:
        assert transport.request("GET", "/v2/").status_code == 200


@pytest.mark.registry
def test_pinning_the_leaf_fingerprint_works_without_the_ca(https_registry):
    raw = https_registry.leaf.sha256.upper()
    colons = ":".join(raw[i : i + 2] for i in range(0, len(raw), 2))
    config = https_registry.client_config(ca_pem="", pinned_sha256=colons)
    with Transport(config) as transport:
        assert transport.request("GET", "/v2/").status_code == 200


@pytest.mark.registry
def test_a_wrong_pin_is_untrusted(https_registry):
    config = https_registry.client_config(ca_pem="", pinned_sha256="ab" * 32)
    with Transport(config) as transport, pytest.raises(errors.TLSUntrusted) as caught:
        transport.request("GET", "/v2/")
    assert "pinned" in caught.value.message
    assert caught.value.certificate.sha256_fingerprint == https_registry.leaf.sha256


@pytest.mark.registry
def test_certificate_for_another_host_is_a_hostname_mismatch(start_registry, test_ca):
    registry = start_registry("https", leaf=test_ca.wrong_host())
    with Transport(registry.client_config()) as transport:
        with pytest.raises(errors.TLSHostnameMismatch) as caught:
            transport.request("GET", "/v2/")
    assert caught.value.certificate.sans == ("DNS:registry.example.invalid",)


@pytest.mark.registry
def test_dialling_localhost_with_an_ip_only_certificate_mismatches(
    start_registry, test_ca
):
    registry = start_registry("https", leaf=test_ca.issue("127.0.0.1"))
    config = registry.client_config(base_url=f"https://localhost:{registry.port}")
    with Transport(config) as transport, pytest.raises(errors.TLSHostnameMismatch):
        transport.request("GET", "/v2/")


@pytest.mark.registry
def test_expired_certificate(start_registry, test_ca):
    registry = start_registry("https", leaf=test_ca.expired())
    with Transport(registry.client_config()) as transport:
        with pytest.raises(errors.TLSExpired) as caught:
            transport.request("GET", "/v2/")
    assert caught.value.certificate.not_after < datetime.now(UTC)


@pytest.mark.registry
def test_plain_http_needs_permission(http_registry):
    config = http_registry.client_config(allow_plain_http=False)
    with Transport(config) as transport:
        with pytest.raises(errors.PlainHTTPNotAllowed):
            transport.request("GET", "/v2/")
    with Transport(http_registry.client_config()) as transport:
        assert transport.request("GET", "/v2/").status_code == 200


def test_an_unusable_ca_bundle_is_a_tls_error():
    config = ClientConfig(base_url="https://127.0.0.1:9", ca_pem="not a certificate")
    with Transport(config) as transport, pytest.raises(errors.TLSError):
        transport.request("GET", "/v2/")


# -- statuses and error bodies -------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.RequestRejected),
        (401, errors.AuthFailed),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (405, errors.NotSupported),
        (500, errors.ServerError),
        (502, errors.ServerError),
    ],
)
def test_statuses_map_to_typed_errors(stub, status, error):
    body = {"errors": [{"code": "SOME_CODE", "message": "went wrong", "detail": "d"}]}
    server = stub(lambda request: Reply(status, body))
    with Transport(stub_config(server.url)) as transport:
        with pytest.raises(error) as caught:
            transport.request("GET", "/v2/x")
        assert caught.value.status == status
        assert "SOME_CODE: went wrong (d)" in caught.value.message
        allowed = transport.request("GET", "/v2/x", allow_status=(status,))
        assert allowed.status_code == status


def test_rate_limit_with_retry_after_seconds(stub):
    body = {"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}
    server = stub(lambda request: Reply(429, body, {"Retry-After": "7"}))
    with Transport(stub_config(server.url)) as transport:
        with pytest.raises(errors.RateLimited) as caught:
            transport.request("GET", "/v2/")
    assert caught.value.retry_after == 7
    assert caught.value.retryable
    assert "TOOMANYREQUESTS" in caught.value.message


def test_rate_limit_with_retry_after_date(stub):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    server = stub(lambda request: Reply(429, "", {"Retry-After": when}))
    with Transport(stub_config(server.url)) as transport:
        with pytest.raises(errors.RateLimited) as caught:
            transport.request("GET", "/v2/")
    assert 100 < caught.value.retry_after <= 120


def test_error_bodies_in_every_shape():
    def response(body: bytes) -> requests.Response:
        r = requests.Response()
        r._content = body
        r.status_code = 404
        return r

    artifactory = b'{"errors":[{"status":404,"message":"Could not find image"}]}'
    assert error_message(response(artifactory)) == "404: Could not find image"
    detail = (
        b'{"errors":[{"code":"NAME_UNKNOWN","message":"no","detail":{"name":"x"}}]}'
    )
    assert error_message(response(detail)) == 'NAME_UNKNOWN: no ({"name": "x"})'
    html = b"<html>\n<body>404   Not Found</body></html>"
    assert error_message(response(html)) == "<html> <body>404 Not Found</body></html>"
    assert error_message(response(b"")) == ""


def test_retry_after_values():
    assert retry_after_seconds("30") == 30
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    assert retry_after_seconds(past) == 0


# -- redirects and where credentials go ------------------------------------------------


def blob_registry(stub, target_for, *, user="alice", password="pw"):
    """Start a Basic-auth registry stub whose blobs redirect to ``target_for()``."""

    def handle(request):
        if request.header("Authorization") != basic(user, password):
            return Reply(401, {"errors": []}, {"www-authenticate": 'Basic realm="r"'})
        if "/blobs/" in request.path:
            return Reply(307, b"", {"Location": target_for()})
        return Reply(200, {"ok": True})

    return stub(handle)


@pytest.mark.parametrize("other_host", ["127.0.0.2", "localhost"])
def test_redirect_to_another_host_carries_no_authorization(stub, other_host):
    storage = stub(lambda request: Reply(200, {"blob": True}), host="127.0.0.1")
    if other_host == "127.0.0.2":
        storage = stub(lambda request: Reply(200, {"blob": True}), host="127.0.0.2")
    location = f"http://{other_host}:{storage.port}/bucket/blob?sig=1"
    registry = blob_registry(stub, lambda: location)
    config = stub_config(registry.url, username="alice", password="pw")
    with Transport(config) as transport:
        data, response = transport.get_json("/v2/a/blobs/sha256:00")
    assert data == {"blob": True}
    assert response.url == location
    assert [r.path for r in storage.received] == ["/bucket/blob"]
    assert storage.received[0].header("Authorization") is None
    # The registry itself did get the credentials (after its challenge).
    assert registry.received[-1].header("Authorization") == basic("alice", "pw")


def test_secret_headers_from_the_caller_stay_on_their_origin(stub):
    storage = stub(lambda request: Reply(200, {"blob": True}), host="127.0.0.2")
    registry = stub(
        lambda request: Reply(302, b"", {"Location": f"{storage.url}/blob"})
    )
    secrets = {
        "Authorization": "Bearer api-token",
        "X-JFrog-Art-Api": "key",
        "X-Harmless": "kept",
    }
    with Transport(stub_config(registry.url)) as transport:
        transport.request("GET", "/v2/a/blobs/x", headers=secrets)
    assert registry.received[0].header("X-JFrog-Art-Api") == "key"
    assert registry.received[0].header("Authorization") == "Bearer api-token"
    forwarded = storage.received[0]
    assert forwarded.header("Authorization") is None
    assert forwarded.header("X-JFrog-Art-Api") is None
    assert forwarded.header("X-Harmless") == "kept"


def test_redirect_within_the_registry_keeps_authorization(stub):
    holder = {}
    registry = blob_registry(stub, lambda: f"{holder['url']}/v2/a/moved")
    holder["url"] = registry.url
    config = stub_config(registry.url, username="alice", password="pw")
    with Transport(config) as transport:
        data, _ = transport.get_json("/v2/a/blobs/sha256:00")
    assert data == {"ok": True}
    assert registry.received[-1].path == "/v2/a/moved"
    assert registry.received[-1].header("Authorization") == basic("alice", "pw")


def test_bearer_credentials_reach_only_the_registry_and_the_realm(
    stub, token_server, test_ca
):
    storage = stub(lambda request: Reply(200, {"blob": True}), host="127.0.0.2")
    challenge = f'Bearer realm="{token_server.realm}",service="{token_server.service}"'

    def handle(request):
        if not (request.header("Authorization") or "").startswith("Bearer "):
            return Reply(401, {"errors": []}, {"WWW-Authenticate": challenge})
        return Reply(307, b"", {"Location": f"{storage.url}/blob"})

    registry = stub(handle)
    before = len(token_server.received)
    config = stub_config(
        registry.url, username="alice", password="wonderland", ca_pem=test_ca.cert_pem
    )
    with Transport(config) as transport:
        data, _ = transport.get_json(
            "/v2/a/blobs/sha256:00", scope=("repository:a:pull",)
        )
    assert data == {"blob": True}
    assert storage.received[0].header("Authorization") is None
    sent_to_registry = [r.header("Authorization") for r in registry.received]
    assert sent_to_registry[0] is None
    assert all(h.startswith("Bearer ") for h in sent_to_registry[1:])
    assert len(token_requests(token_server, before)) == 1


@pytest.mark.parametrize("status", [307, 308])
def test_a_token_post_is_never_replayed_to_another_host(stub, status):
    """A realm answering 307/308 elsewhere would resend the password in the body."""
    thief = stub(lambda request: Reply(200, {"token": "x"}), host="127.0.0.2")
    realm = stub(lambda request: Reply(status, b"", {"Location": f"{thief.url}/t"}))
    challenge = f'Bearer realm="{realm.url}/token",service="s"'
    registry = stub(
        lambda request: Reply(401, {"errors": []}, {"WWW-Authenticate": challenge})
    )
    config = stub_config(registry.url, username="alice", password="S3CRET")
    with Transport(config) as transport:
        with pytest.raises(errors.ProtocolError) as caught:
            transport.request("GET", "/v2/", scope=("repository:a:pull",))
    assert "not followed" in caught.value.message
    assert [r.method for r in realm.received] == ["POST"]
    assert thief.received == []


def test_redirect_loops_are_bounded(stub):
    server = stub(lambda request: Reply(302, b"", {"Location": "/v2/again"}))
    with Transport(stub_config(server.url)) as transport:
        with pytest.raises(errors.ProtocolError) as caught:
            transport.request("GET", "/v2/")
    assert "redirects" in caught.value.message
    assert len(server.received) == 6


def test_redirect_to_plain_http_is_refused(stub, test_ca):
    plain = stub(lambda request: Reply(200, {}))
    secure = stub(
        lambda request: Reply(302, b"", {"Location": f"{plain.url}/v2/"}),
        tls=test_ca.localhost(),
    )
    config = stub_config(secure.url, allow_plain_http=False, ca_pem=test_ca.cert_pem)
    with Transport(config) as transport, pytest.raises(errors.PlainHTTPNotAllowed):
        transport.request("GET", "/v2/")
    assert plain.received == []


def test_lower_case_challenge_header_is_understood(stub):
    server = blob_registry(stub, lambda: "/")
    config = stub_config(server.url, username="alice", password="pw")
    with Transport(config) as transport:
        assert transport.get_json("/v2/")[0] == {"ok": True}


# -- bodies, JSON and pagination --------------------------------------------------


def test_garbage_json_is_a_protocol_error(stub):
    server = stub(lambda request: Reply(200, b'{"repositories": [', {}))
    with Transport(stub_config(server.url)) as transport:
        with pytest.raises(errors.ProtocolError):
            transport.get_json("/v2/_catalog")


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_bodies_are_refused(stub, chunked):
    headers = {"Transfer-Encoding": "chunked"} if chunked else {}
    server = stub(lambda request: Reply(200, b"x" * 50_000, headers))
    with Transport(stub_config(server.url, max_body_bytes=10_000)) as transport:
        with pytest.raises(errors.ProtocolError) as caught:
            transport.request("GET", "/v2/big")
        assert "larger than 10000 bytes" in caught.value.message
        small = stub_config(server.url, max_body_bytes=60_000)
    with Transport(small) as transport:
        assert len(transport.request("GET", "/v2/big").content) == 50_000


def test_link_pages_resolve_relative_to_the_request_url(stub):
    pages = {
        "": (["a", "b"], '<list?last=b>; rel="next"'),
        "b": (["c"], '</prefix/v2/x/tags/list?last=c>; rel="next"'),
        "c": (["d"], None),
    }

    def handle(request):
        tags, link = pages[request.query.get("last", [""])[0]]
        headers = {"Link": link} if link else {}
        return Reply(200, {"name": "x", "tags": tags}, headers)

    server = stub(handle)
    with Transport(stub_config(f"{server.url}/prefix")) as transport:
        tags = [
            tag
            for data, _ in transport.iter_link_pages("/v2/x/tags/list")
            for tag in data["tags"]
        ]
    assert tags == ["a", "b", "c", "d"]
    assert [r.path for r in server.received] == ["/prefix/v2/x/tags/list"] * 3


def test_a_looping_link_header_is_a_protocol_error(stub):
    def handle(request):
        last = "b" if request.query.get("last") else "a"
        link = f'</v2/x/tags/list?last={"a" if last == "b" else "b"}>; rel="next"'
        return Reply(200, {"tags": [last]}, {"Link": link})

    server = stub(handle)
    with Transport(stub_config(server.url)) as transport:
        with pytest.raises(errors.ProtocolError) as caught:
            list(transport.iter_link_pages("/v2/x/tags/list"))
    assert "loops" in caught.value.message
    assert len(server.received) == 3


def test_page_bound(stub):
    def handle(request):
        page = int(request.query.get("p", ["0"])[0])
        return Reply(200, {}, {"Link": f'</v2/?p={page + 1}>; rel="next"'})

    server = stub(handle)
    with Transport(stub_config(server.url)) as transport:
        with pytest.raises(errors.ProtocolError):
            list(transport.iter_link_pages("/v2/", max_pages=5))
    assert len(server.received) == 5


def test_link_header_parsing():
    header = (
        '<https://h/v2/_catalog?last=a%2Cb&n=2>; rel="next"; title="a, b", '
        '</prev>; rel=prev, <https://h/x,y>; rel="next last"'
    )
    links = parse_link_header(header)
    assert [target for target, _ in links] == [
        "https://h/v2/_catalog?last=a%2Cb&n=2",
        "/prev",
        "https://h/x,y",
    ]
    assert links[0][1] == {"rel": "next", "title": "a, b"}
    assert links[1][1]["rel"] == "prev"
    assert links[2][1]["rel"] == "next last"


def test_certificate_info_reads_pem_and_der(test_ca):
    leaf = test_ca.issue("registry.test", "10.1.2.3")
    from_pem = certificate_info(leaf.cert_pem)
    assert from_pem == certificate_info(leaf.der)
    assert from_pem.sans == ("DNS:registry.test", "IP:10.1.2.3")
    assert from_pem.sha256_fingerprint == leaf.sha256
    assert not from_pem.self_signed
    assert certificate_info(test_ca.cert_pem).self_signed


def test_streamed_responses_are_left_to_the_caller(stub):
    server = stub(lambda request: Reply(200, b"y" * 100_000))
    with Transport(stub_config(server.url, max_body_bytes=1000)) as transport:
        response = transport.request("GET", "/v2/a/blobs/x", stream=True)
        with response:
            assert sum(len(c) for c in response.iter_content(8192)) == 100_000


# -- network failures ----------------------------------------------------------------


def test_nothing_listening_is_unreachable():
    with refused_port() as port:
        config = stub_config(f"http://127.0.0.1:{port}")
        with Transport(config) as transport:
            with pytest.raises(errors.Unreachable) as caught:
                transport.request("GET", "/v2/")
    assert "refused" in caught.value.message
    assert caught.value.retryable


def test_a_slow_server_times_out(stub):
    server = stub(lambda request: Reply(200, {}, delay=1.5))
    with Transport(stub_config(server.url, read_timeout=0.3)) as transport:
        with pytest.raises(errors.Timeout) as caught:
            transport.request("GET", "/v2/")
    assert caught.value.retryable
