"""Data migrations of the volunteers app, run forwards and backwards on real rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("volunteers", "0012_call_application_retention")
AFTER = ("volunteers", "0013_organization_padded_path")
MASKED = ("volunteers", "0014_mask_anonymised_rejection_reasons")


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
    _migrate(MASKED)


def test_rejection_reasons_of_answers_already_anonymised_are_masked():
    old = _migrate(AFTER)
    RecruitmentCall = old.get_model("volunteers", "RecruitmentCall")
    CallApplication = old.get_model("volunteers", "CallApplication")
    Organization = old.get_model("volunteers", "Organization")
    from datetime import date

    from django.utils import timezone

    organization = Organization.objects.create(code="M", kind="committee", name="团工委", path="/m/", depth=0)
    call = RecruitmentCall.objects.create(
        title="招募", slug="mask-test", organization=organization, text="t", target_count=5, deadline=timezone.now()
    )
    agreement = old.get_model("volunteers", "CallAgreement").objects.create(call=call, version=1, text="协议")
    rows = {}
    for n, (reason, anonymised) in enumerate(
        (("电话13912345678不通", True), ("名额已满", True), ("电话13912345678不通", False))
    ):
        rows[n] = CallApplication.objects.create(
            call=call,
            agreement=agreement,
            agreement_accepted_at=timezone.now(),
            mobile=f"1360000010{n}",
            real_name="申请人",
            birth_date=date(1996, 1, 1),
            gender="female",
            organization=organization,
            emergency_contact_name="家人",
            emergency_contact_mobile="13600000099",
            id_number_hash=f"h{n}",
            status="rejected",
            reject_reason=reason,
            anonymised_at=timezone.now() if anonymised else None,
        ).pk

    new = _migrate(MASKED)
    reasons = dict(new.get_model("volunteers", "CallApplication").objects.values_list("pk", "reject_reason"))
    # Only anonymised answers: the reviewers still read the others in full until the sweep.
    assert [reasons[rows[n]] for n in range(3)] == ["电话139****5678不通", "名额已满", "电话13912345678不通"]
