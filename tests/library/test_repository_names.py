"""Repository pages accept only well-formed names before any namespace check."""

import pytest
from django.http import Http404

from library.selectors import repository_detail


@pytest.mark.parametrize(
    "name",
    ["team-a/../team-b/app", "team-a/./app", "team-a//app", "team-a/App", "team-a/a b"],
)
def test_malformed_names_are_refused_as_such(
    personas, project_a, global_registry, name
):
    with pytest.raises(Http404, match="not a valid repository name"):
        repository_detail(personas["member"], project_a, global_registry.pk, name)


def test_a_well_formed_name_gets_past_the_name_check(
    personas, project_a, global_registry
):
    with pytest.raises(Http404) as caught:
        repository_detail(
            personas["member"], project_a, global_registry.pk, "team-a/app"
        )
    assert "not a valid repository name" not in str(caught.value)
