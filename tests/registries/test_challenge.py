"""The WWW-Authenticate parser: quoted strings, commas, ports, several challenges."""

import pytest

from registries.clients.challenge import (
    ChallengeSyntaxError,
    find_challenge,
    parse_challenges,
)


def test_bearer_challenge_as_distribution_sends_it():
    (challenge,) = parse_challenges(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:samalba/my-app:pull,push"'
    )
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example.com/token"
    assert challenge.service == "registry.example.com"
    assert challenge.scopes == ("repository:samalba/my-app:pull,push",)
    assert challenge.error == ""


def test_scopes_with_ports_are_split_on_spaces_only():
    (challenge,) = parse_challenges(
        'Bearer realm="https://r:5001/t",scope="repository:reg.local:5000/a/b:pull '
        'registry:catalog:*",error="insufficient_scope"'
    )
    assert challenge.scopes == (
        "repository:reg.local:5000/a/b:pull",
        "registry:catalog:*",
    )
    assert challenge.realm == "https://r:5001/t"
    assert challenge.error == "insufficient_scope"


def test_commas_and_escaped_quotes_inside_quoted_strings():
    (challenge,) = parse_challenges(
        r'Basic realm="a, b=c \"quoted\", d", charset="UTF-8"'
    )
    assert challenge.realm == 'a, b=c "quoted", d'
    assert challenge.params["charset"] == "UTF-8"


def test_several_challenges_in_one_header_and_in_several_lines():
    header = 'Basic realm="registry", Bearer realm="https://t/token",service="s"'
    basic, bearer = parse_challenges(header)
    assert (basic.scheme, basic.realm) == ("basic", "registry")
    assert (bearer.scheme, bearer.realm, bearer.service) == (
        "bearer",
        "https://t/token",
        "s",
    )
    lines = parse_challenges(['Basic realm="x"', 'Bearer realm="y"'])
    assert [c.scheme for c in lines] == ["basic", "bearer"]


def test_scheme_and_parameter_names_are_case_insensitive():
    (challenge,) = parse_challenges('BEARER Realm="https://t", SERVICE = "svc"')
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://t"
    assert challenge.service == "svc"
    assert find_challenge([challenge], "Bearer") is challenge
    assert find_challenge([challenge], "basic") is None


def test_unquoted_values_and_white_space_are_tolerated():
    (challenge,) = parse_challenges("  Bearer realm=https://t/token , service=svc  ")
    assert challenge.realm == "https://t/token"
    assert challenge.service == "svc"


def test_token68_and_bare_schemes():
    negotiate, basic = parse_challenges("Negotiate YIIB+w==, Basic")
    assert negotiate.token68 == "YIIB+w==" and negotiate.params == {}
    assert basic.scheme == "basic" and basic.params == {}


def test_repeated_scope_parameters_add_up():
    (challenge,) = parse_challenges(
        'Bearer realm="r",scope="a:b:pull",scope="c:d:push"'
    )
    assert challenge.scopes == ("a:b:pull", "c:d:push")


def test_empty_header_has_no_challenges():
    assert parse_challenges("") == []
    assert parse_challenges(" , ") == []


@pytest.mark.parametrize(
    "header",
    [
        'Bearer realm="unterminated',
        'Bearer realm="x" service="y"',  # missing comma
        "=realm",
        'Bearer realm="x", ="y"',
    ],
)
def test_malformed_headers_raise(header):
    with pytest.raises(ChallengeSyntaxError):
        parse_challenges(header)
