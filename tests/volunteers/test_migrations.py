"""Data migrations of the volunteers app, run forwards and backwards on real rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("volunteers", "0012_call_application_retention")
AFTER = ("volunteers", "0013_organization_padded_path")


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_paths_are_zero_padded_and_back():
    old = _migrate(BEFORE)
    Organization = old.get_model("volunteers", "Organization")
    root = Organization.objects.create(code="R", kind="committee", name="团工委", path="", depth=0)
    ninth = Organization.objects.create(code="A", kind="institution", name="甲", parent=root, depth=1)
    tenth = Organization.objects.create(code="B", kind="institution", name="乙", parent=root, depth=1)
    branch = Organization.objects.create(code="C", kind="branch", name="丙", parent=ninth, depth=2)
    # Historical models have no save(): write the old, unpadded paths as it did.
    for org, path in (
        (root, f"/{root.pk}/"),
        (ninth, f"/{root.pk}/{ninth.pk}/"),
        (tenth, f"/{root.pk}/{tenth.pk}/"),
        (branch, f"/{root.pk}/{ninth.pk}/{branch.pk}/"),
    ):
        Organization.objects.filter(pk=org.pk).update(path=path)

    new = _migrate(AFTER)
    paths = dict(new.get_model("volunteers", "Organization").objects.values_list("pk", "path"))
    assert paths == {
        root.pk: f"/{root.pk:010d}/",
        ninth.pk: f"/{root.pk:010d}/{ninth.pk:010d}/",
        tenth.pk: f"/{root.pk:010d}/{tenth.pk:010d}/",
        branch.pk: f"/{root.pk:010d}/{ninth.pk:010d}/{branch.pk:010d}/",
    }

    _migrate(BEFORE)
    paths = dict(Organization.objects.values_list("pk", "path"))
    assert paths[branch.pk] == f"/{root.pk}/{ninth.pk}/{branch.pk}/"
    _migrate(AFTER)
