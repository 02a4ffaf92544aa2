"""Migrations 0003 and 0004: slugs lower-cased when safe, audit rows backfilled."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from portal.models import AuditEntry, Project

migration = importlib.import_module("portal.migrations.0004_project_slug_existing_rows")


def test_upper_case_slugs_are_lower_cased_and_audited(db):
    team_c = Project.objects.create(name="Team C", slug="Team-C")
    ok = Project.objects.create(name="Team D", slug="team-d")
    migration.lower_case_slugs(apps, None)
    team_c.refresh_from_db()
    ok.refresh_from_db()
    assert (team_c.slug, ok.slug) == ("team-c", "team-d")
    row = AuditEntry.objects.get(action="project.update")
    assert row.changes == {"slug": ["Team-C", "team-c"]}
    assert (row.actor_name, row.project_slug) == ("system", "team-c")


@pytest.mark.parametrize(
    "slugs", [["Team-C", "team-c"], ["Team-C", "TEAM-C"], ["-team"], ["Team_"]]
)
def test_collisions_and_hopeless_slugs_are_refused_not_guessed(db, slugs):
    for n, slug in enumerate(slugs):
        Project.objects.create(name=f"P{n}", slug=slug)
    with pytest.raises(RuntimeError, match="Django admin before upgrading"):
        migration.lower_case_slugs(apps, None)
    assert sorted(Project.objects.values_list("slug", flat=True)) == sorted(slugs)
    assert not AuditEntry.objects.exists()


def test_backfill_keeps_deleted_projects_findable(db):
    live = Project.objects.create(name="Team A", slug="team-a")
    AuditEntry.objects.create(
        action="member.add", object_type="membership", project=live
    )
    # A project deleted before the migration: only its own rows name it.
    AuditEntry.objects.create(
        action="project.create",
        object_type="project",
        object_id="99",
        object_repr="Gone",
        changes={"name": [None, "Gone"], "slug": [None, "gone"]},
    )
    AuditEntry.objects.create(
        action="project.delete",
        object_type="project",
        object_id="99",
        object_repr="Gone",
    )
    AuditEntry.objects.create(action="registry.create", object_type="registry")
    migration.backfill_audit_projects(apps, None)
    assert AuditEntry.objects.get(action="member.add").project_slug == "team-a"
    gone = AuditEntry.objects.filter(project_slug="gone")
    assert sorted(gone.values_list("action", flat=True)) == [
        "project.create",
        "project.delete",
    ]
    assert set(gone.values_list("project_name", flat=True)) == {"Gone"}
    assert AuditEntry.objects.get(action="registry.create").project_slug == ""


@pytest.mark.django_db(transaction=True)
def test_migrating_from_0002_with_an_upper_case_slug_and_audit_rows():
    """The real migrations, on the suite's database (PostgreSQL in CI).

    Writing rows and building an index in one transaction fails on PostgreSQL
    ("pending trigger events"); this runs 0003 and 0004 as ``migrate`` does.
    """
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    start = [("portal", "0002_api_token")]
    executor = MigrationExecutor(connection)
    executor.migrate(start)
    old = executor.loader.project_state(start).apps
    project = old.get_model("portal", "Project").objects.create(
        name="Team C", slug="Team-C"
    )
    old.get_model("portal", "AuditEntry").objects.create(
        action="project.create", object_type="project", project_id=project.pk
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    project = Project.objects.get(name="Team C")
    assert project.slug == "team-c"
    assert set(
        AuditEntry.objects.filter(project=project).values_list(
            "project_slug", flat=True
        )
    ) == {"team-c"}
