"""Existing rows for 0003: slugs made valid namespaces, audit rows given their project.

Existing slugs that are not a valid repository path component (upper case, a
leading or trailing dash) could never hold images in the built-in registry,
which refuses such names. Each is lower-cased when that gives a valid slug no
other project uses; anything else is refused, naming the projects, rather than
renamed by guesswork. A renamed project's robot accounts are named after the
new slug (``robot$<slug>+<name>``): their ``docker login`` changes with it.
"""

import re

from django.db import migrations

PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")


def lower_case_slugs(apps, schema_editor):
    Project = apps.get_model("portal", "Project")
    AuditEntry = apps.get_model("portal", "AuditEntry")
    taken = set(Project.objects.values_list("slug", flat=True))
    invalid = [
        p for p in Project.objects.order_by("pk") if not PATH_COMPONENT.match(p.slug)
    ]
    renames, refused = {}, []
    for project in invalid:
        lower = project.slug.lower()
        if (
            PATH_COMPONENT.match(lower)
            and lower not in taken
            and lower not in renames.values()
        ):
            renames[project] = lower
        else:
            refused.append(project.slug)
    if refused:
        raise RuntimeError(
            "These project slugs are not valid built-in registry namespaces and "
            "cannot simply be lower-cased (another project has that slug, or it "
            "is not valid in lower case either): "
            + ", ".join(sorted(refused))
            + ". Give them valid, distinct lower-case slugs in the Django admin "
            "before upgrading, then migrate again."
        )
    for project, slug in renames.items():
        before = project.slug
        project.slug = slug
        project.save(update_fields=["slug"])
        AuditEntry.objects.create(
            actor_name="system",
            action="project.update",
            object_type="project",
            object_id=str(project.pk),
            object_repr=project.name[:300],
            project=project,
            project_slug=slug,
            project_name=project.name,
            changes={"slug": [before, slug]},
        )


def backfill_audit_projects(apps, schema_editor):
    """Copy each audit row's project slug and name, deleted projects' own rows too."""
    Project = apps.get_model("portal", "Project")
    AuditEntry = apps.get_model("portal", "AuditEntry")
    for project in Project.objects.all():
        AuditEntry.objects.filter(project=project).update(
            project_slug=project.slug, project_name=project.name
        )
    # A deleted project's FK is gone, but the rows about the project itself
    # (create, update, delete) name it: object_id is its primary key and the
    # slug is in the changes of its create or update rows.
    slugs: dict[str, str] = {}
    rows = AuditEntry.objects.filter(
        project__isnull=True, object_type="project", project_slug=""
    ).order_by("at", "pk")
    for entry in rows:
        slug = (entry.changes or {}).get("slug")
        if isinstance(slug, list) and len(slug) == 2 and slug[1]:
            slugs[entry.object_id] = slug[1]
    for entry in rows:
        if entry.object_id in slugs:
            entry.project_slug = slugs[entry.object_id][:63]
            entry.project_name = entry.object_repr[:100]
            entry.save(update_fields=["project_slug", "project_name"])


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_project_slug_registry_namespace_audit_project"),
    ]

    operations = [
        migrations.RunPython(lower_case_slugs, migrations.RunPython.noop),
        migrations.RunPython(backfill_audit_projects, migrations.RunPython.noop),
    ]
