"""Staff edit volunteers, volunteers ask for changes, staff decide (communities.services.records)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from communities.models import Assignment, AuditEntry, Notification, Shift
from communities.rules.eligibility import ineligibility
from communities.services import records
from communities.services.signup import shift_sign_up
from config.errors import ServiceError
from tests.factories import (
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    QualificationTypeFactory,
    ShiftFactory,
    SkillFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)
from tests.test_access_control import fingerprint
from volunteers.models import ChangeRequest, Qualification, Volunteer

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 64


def upload(content: bytes = JPEG, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


@pytest.fixture
def world():
    org = OrganizationFactory()
    branch = OrganizationFactory(parent=org)
    other_org = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=org).user
    volunteer = VolunteerFactory(organization=branch, team=TeamFactory(organization=branch))
    outsider = VolunteerFactory(organization=other_org)
    return {
        "org": org,
        "branch": branch,
        "other_org": other_org,
        "staff": staff,
        "volunteer": volunteer,
        "outsider": outsider,
    }


def _future_shift(*, requires_insurance=False, qualification=None, days=3, capacity=1):
    post_type = PostTypeFactory(requires_insurance=requires_insurance)
    if qualification is not None:
        post_type.required_qualifications.add(qualification)
    starts = timezone.now() + timedelta(days=days)
    return ShiftFactory(
        post=PostFactory(post_type=post_type), starts_at=starts, ends_at=starts + timedelta(hours=4), capacity=capacity
    )


def test_staff_change_contact_details_and_insurance_is_audited_with_masked_before_and_after(world):
    volunteer = world["volunteer"]
    old_mobile = volunteer.mobile
    until = timezone.localdate() + timedelta(days=400)
    result = records.volunteer_record_update(
        actor=world["staff"],
        volunteer_id=volunteer.pk,
        changes={
            "mobile": "13700000001",
            "email": "li@example.com",
            "emergency_contact_name": "李母",
            "emergency_contact_mobile": "13700000002",
            "insurance_valid_until": until,
            "insurer": "平安",
            "insurance_policy_number": "P-1",
        },
    )
    volunteer.refresh_from_db()
    volunteer.user.refresh_from_db()
    assert (volunteer.mobile, volunteer.user.username, volunteer.user.email) == (
        "13700000001",
        "13700000001",
        "li@example.com",
    )
    assert (volunteer.insurance_valid_until, volunteer.insurer, volunteer.insurance_policy_number) == (
        until,
        "平安",
        "P-1",
    )
    assert result.changed == sorted(
        [
            "mobile",
            "email",
            "emergency_contact_name",
            "emergency_contact_mobile",
            "insurance_valid_until",
            "insurer",
            "insurance_policy_number",
        ]
    )
    entry = AuditEntry.objects.get(volunteer=volunteer)
    assert (entry.action, entry.actor) == ("volunteer_changed", world["staff"])
    assert entry.before["mobile"] == old_mobile[:3] + "****" + old_mobile[-4:]
    assert entry.after["mobile"] == "137****0001"
    assert entry.after["email"] == "l***@example.com"
    assert entry.after["insurance_valid_until"] == until.isoformat()


def test_a_volunteer_outside_the_scope_is_not_found_and_nothing_changes(world):
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(
            actor=world["staff"], volunteer_id=world["outsider"].pk, changes={"insurer": "x"}
        )
    assert refused.value.code == "not_found"
    assert fingerprint() == before


def test_moving_a_volunteer_outside_the_scope_is_refused(world):
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(
            actor=world["staff"], volunteer_id=world["volunteer"].pk, changes={"organization": world["other_org"].pk}
        )
    assert refused.value.code == "out_of_scope"
    foreign_team = TeamFactory(organization=world["other_org"])
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(
            actor=world["staff"], volunteer_id=world["volunteer"].pk, changes={"team": foreign_team.pk}
        )
    assert refused.value.code == "out_of_scope"
    assert fingerprint() == before


def test_a_mobile_number_of_someone_else_is_refused(world):
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(
            actor=world["staff"], volunteer_id=world["volunteer"].pk, changes={"mobile": world["outsider"].mobile}
        )
    assert refused.value.code == "mobile_taken"
    assert fingerprint() == before


def test_suspending_needs_a_reason(world):
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(
            actor=world["staff"], volunteer_id=world["volunteer"].pk, changes={"status": "suspended"}
        )
    assert refused.value.code == "reason_required"
    assert fingerprint() == before


def test_suspending_someone_with_upcoming_shifts_says_so_then_releases_them_and_promotes_the_waitlist(world):
    volunteer = world["volunteer"]
    shift = _future_shift(capacity=1)
    taken = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    waiting_volunteer = VolunteerFactory(organization=world["other_org"])
    waiting = shift_sign_up(shift_id=shift.pk, volunteer=waiting_volunteer, user=waiting_volunteer.user)
    assert (taken.status, waiting.status) == ("confirmed", "waitlisted")

    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(
            actor=world["staff"],
            volunteer_id=volunteer.pk,
            changes={"status": "suspended", "suspended_reason": "违反纪律"},
        )
    assert refused.value.code == "volunteer_has_upcoming_shifts"
    assert refused.value.details["count"] == 1
    assert refused.value.details["shifts"][0]["shift"] == shift.pk
    assert fingerprint() == before

    result = records.volunteer_record_update(
        actor=world["staff"],
        volunteer_id=volunteer.pk,
        changes={"status": "suspended", "suspended_reason": "违反纪律"},
        release_places=True,
    )
    assert result.released == 1
    volunteer.refresh_from_db()
    assert (volunteer.status, volunteer.suspended_reason) == ("suspended", "违反纪律")
    assert Assignment.objects.get(pk=taken.pk).status == "cancelled"
    assert Assignment.objects.get(pk=waiting.pk).status == "confirmed"
    assert Shift.objects.get(pk=shift.pk).confirmed_count == 1
    kinds = set(Notification.objects.filter(channel="inapp").values_list("recipient_id", "kind"))
    assert (volunteer.user_id, "cancelled") in kinds
    assert (waiting_volunteer.user_id, "promoted") in kinds
    entry = AuditEntry.objects.get(volunteer=volunteer, action="volunteer_changed")
    assert (entry.before, entry.after, entry.reason) == (
        {"status": "active", "suspended_reason": ""},
        {"status": "suspended", "suspended_reason": "违反纪律"},
        "违反纪律",
    )


def test_back_to_the_reserve_ends_the_deployment(world):
    from tests.factories import CommunityFactory

    volunteer = world["volunteer"]
    Volunteer.objects.filter(pk=volunteer.pk).update(deployed_community=CommunityFactory())
    records.volunteer_record_update(actor=world["staff"], volunteer_id=volunteer.pk, changes={"status": "reserve"})
    volunteer.refresh_from_db()
    assert (volunteer.status, volunteer.deployed_community_id) == ("reserve", None)


def test_recorded_insurance_renewal_makes_the_volunteer_eligible_for_a_checkpoint(world):
    volunteer = world["volunteer"]
    Volunteer.objects.filter(pk=volunteer.pk).update(insurance_valid_until=timezone.localdate() - timedelta(days=1))
    shift = _future_shift(requires_insurance=True)
    volunteer.refresh_from_db()
    assert ineligibility(shift_id=shift.pk, volunteer_id=volunteer.pk) == {"reason": "insurance"}
    records.volunteer_record_update(
        actor=world["staff"],
        volunteer_id=volunteer.pk,
        changes={"insurance_valid_until": timezone.localdate() + timedelta(days=365)},
    )
    volunteer.refresh_from_db()
    assert ineligibility(shift_id=shift.pk, volunteer_id=volunteer.pk) is None


def test_proof_check_takes_photos_and_pdfs_by_their_bytes_only(settings):
    assert records.proof_check(upload(JPEG, "a.exe")).name == "proof.jpg"
    assert records.proof_check(upload(PDF, "a.jpg")).name == "proof.pdf"
    with pytest.raises(ServiceError) as refused:
        records.proof_check(upload(b"<html><script>alert(1)</script>", "evil.jpg"))
    assert refused.value.code == "proof_invalid"
    settings.PROOF_MAX_BYTES = 10
    with pytest.raises(ServiceError) as refused:
        records.proof_check(upload(JPEG))
    assert refused.value.code == "proof_too_large"


def test_staff_record_a_qualification_with_proof_outside_the_web_root(world, settings):
    first_aid = QualificationTypeFactory(code="first_aid")
    until = timezone.localdate() + timedelta(days=700)
    qualification = records.qualification_record(
        actor=world["staff"],
        volunteer_id=world["volunteer"].pk,
        qualification_type_code="first_aid",
        valid_until=until,
        certificate_number="FA-9",
        proof=upload(),
    )
    assert qualification.proof.path.startswith(str(settings.PRIVATE_MEDIA_ROOT))
    assert not qualification.proof.path.startswith(str(settings.STATIC_ROOT))
    assert qualification.proof.name.endswith(".jpg") and "photo" not in qualification.proof.name
    with qualification.proof.open("rb") as stored:
        assert stored.read() == JPEG
    entry = AuditEntry.objects.get(volunteer=world["volunteer"], action="qualification_changed")
    assert entry.after == {
        "qualification": "first_aid",
        "certificate_number": "FA-9",
        "valid_until": until.isoformat(),
        "proof": True,
    }
    assert first_aid.pk == qualification.qualification_type_id


def _submit(volunteer, **kwargs):
    values = {
        "user": volunteer.user,
        "kind": "qualification",
        "qualification_type_code": "first_aid",
        "valid_until": timezone.localdate() + timedelta(days=365),
        "proof": upload(),
    }
    values.update(kwargs)
    return records.change_request_submit(**values)


def test_a_volunteer_submits_a_qualification_staff_approve_it_and_the_volunteer_is_told(world):
    first_aid = QualificationTypeFactory(code="first_aid", name="急救员证")
    volunteer = world["volunteer"]
    shift = _future_shift(qualification=first_aid)
    assert ineligibility(shift_id=shift.pk, volunteer_id=volunteer.pk)["reason"] == "qualification"
    request = _submit(volunteer, certificate_number="HJ-1")
    assert request.state == "pending"
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        _submit(volunteer)
    assert refused.value.code == "change_request_pending"
    assert fingerprint() == before

    records.change_request_approve(actor=world["staff"], request_id=request.pk)
    request.refresh_from_db()
    assert (request.state, request.decided_by) == ("approved", world["staff"])
    qualification = Qualification.objects.get(volunteer=volunteer, qualification_type=first_aid)
    assert (qualification.certificate_number, qualification.proof.name) == ("HJ-1", request.proof.name)
    volunteer = Volunteer.objects.get(pk=volunteer.pk)
    assert ineligibility(shift_id=shift.pk, volunteer_id=volunteer.pk) is None
    note = Notification.objects.get(recipient=volunteer.user, channel="inapp")
    assert note.kind == "change_approved"
    assert note.key == f"v{volunteer.pk}:change_approved.{request.pk}:inapp:u{volunteer.user_id}"
    assert "急救员证" in note.body
    assert Notification.objects.filter(recipient=volunteer.user, channel="sms", kind="change_approved").exists()

    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.change_request_reject(actor=world["staff"], request_id=request.pk, reason="late")
    assert refused.value.code == "change_request_not_pending"
    assert fingerprint() == before


def test_an_insurance_request_rejected_with_a_reason_changes_nothing_on_the_record(world):
    volunteer = world["volunteer"]
    old_until = volunteer.insurance_valid_until
    request = _submit(volunteer, kind="insurance", qualification_type_code="", insurer="平安", policy_number="P")
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.change_request_reject(actor=world["staff"], request_id=request.pk, reason="  ")
    assert refused.value.code == "reason_required"
    assert fingerprint() == before
    records.change_request_reject(actor=world["staff"], request_id=request.pk, reason="保单照片看不清")
    volunteer.refresh_from_db()
    assert volunteer.insurance_valid_until == old_until
    note = Notification.objects.get(recipient=volunteer.user, channel="inapp")
    assert (note.kind, "保单照片看不清" in note.body) == ("change_rejected", True)
    entry = AuditEntry.objects.get(volunteer=volunteer, action="change_rejected")
    assert entry.reason == "保单照片看不清"


def test_an_insurance_request_approved_renews_the_insurance(world):
    volunteer = world["volunteer"]
    until = timezone.localdate() + timedelta(days=500)
    request = _submit(
        volunteer,
        kind="insurance",
        qualification_type_code="",
        valid_until=until,
        insurer="太平洋",
        policy_number="TP-7",
    )
    records.change_request_approve(actor=world["staff"], request_id=request.pk)
    volunteer.refresh_from_db()
    assert (volunteer.insurance_valid_until, volunteer.insurer, volunteer.insurance_policy_number) == (
        until,
        "太平洋",
        "TP-7",
    )


def test_staff_outside_the_scope_cannot_decide_and_nothing_changes(world):
    QualificationTypeFactory(code="first_aid")
    request = _submit(world["outsider"])
    before = fingerprint()
    for decide in (
        lambda: records.change_request_approve(actor=world["staff"], request_id=request.pk),
        lambda: records.change_request_reject(actor=world["staff"], request_id=request.pk, reason="x"),
    ):
        with pytest.raises(ServiceError) as refused:
            decide()
        assert refused.value.code == "not_found"
    assert fingerprint() == before
    assert ChangeRequest.objects.get(pk=request.pk).state == "pending"


def test_an_expired_proof_or_a_non_volunteer_is_refused(world):
    QualificationTypeFactory(code="first_aid")
    stranger = UserFactory()
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        _submit(world["volunteer"], valid_until=timezone.localdate() - timedelta(days=1))
    assert refused.value.code == "invalid"
    with pytest.raises(ServiceError) as refused:
        records.change_request_submit(user=stranger, kind="insurance", valid_until=timezone.localdate(), proof=upload())
    assert refused.value.code == "not_a_volunteer"
    with pytest.raises(ServiceError) as refused:
        _submit(world["volunteer"], proof=upload(b"GIF89a" + b"0" * 20))
    assert refused.value.code == "proof_invalid"
    assert fingerprint() == before


def test_skills_given_as_codes_are_set_and_unknown_ones_refused(world):
    SkillFactory(code="medical"), SkillFactory(code="driving")
    records.volunteer_record_update(
        actor=world["staff"], volunteer_id=world["volunteer"].pk, changes={"skills": ["medical", "driving"]}
    )
    assert sorted(world["volunteer"].skills.values_list("code", flat=True)) == ["driving", "medical"]
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(
            actor=world["staff"], volunteer_id=world["volunteer"].pk, changes={"skills": ["nope"]}
        )
    assert refused.value.code == "invalid"
    assert fingerprint() == before


@pytest.mark.django_db(transaction=True)
def test_deleting_the_account_deletes_the_proof_files_and_requests():
    import os

    from communities.services.privacy import volunteer_anonymise

    QualificationTypeFactory(code="first_aid")
    volunteer = VolunteerFactory()
    request = _submit(volunteer)
    path = request.proof.path
    assert os.path.exists(path)
    volunteer.emergency_contact_name = "李母"
    volunteer.save(update_fields=["emergency_contact_name"])
    volunteer_anonymise(volunteer=volunteer, actor=volunteer.user)
    volunteer.refresh_from_db()
    assert not ChangeRequest.objects.filter(volunteer=volunteer).exists()
    assert not os.path.exists(path)
    assert volunteer.emergency_contact_name == ""


# --- Edits that take eligibility away ------------------------------------------------------------


def _insured_with_a_checkpoint_and_a_waiting_volunteer(world):
    """The volunteer insured and confirmed on a checkpoint shift (insurance required), a second
    volunteer waiting behind them."""
    volunteer = world["volunteer"]
    Volunteer.objects.filter(pk=volunteer.pk).update(insurance_valid_until=timezone.localdate() + timedelta(days=90))
    shift = _future_shift(requires_insurance=True, capacity=1)
    taken = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    waiting_volunteer = VolunteerFactory(
        organization=world["other_org"], insurance_valid_until=timezone.localdate() + timedelta(days=90)
    )
    waiting = shift_sign_up(shift_id=shift.pk, volunteer=waiting_volunteer, user=waiting_volunteer.user)
    assert (taken.status, waiting.status) == ("confirmed", "waitlisted")
    return shift, taken, waiting, waiting_volunteer


def test_removing_the_insurance_a_confirmed_shift_needs_is_refused_listing_it(world):
    volunteer = world["volunteer"]
    shift, taken, _waiting, _other = _insured_with_a_checkpoint_and_a_waiting_volunteer(world)
    other_shift = _future_shift(days=4)  # needs no insurance: not at stake
    kept = shift_sign_up(shift_id=other_shift.pk, volunteer=volunteer, user=volunteer.user)

    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(
            actor=world["staff"], volunteer_id=volunteer.pk, changes={"insurance_valid_until": None}
        )
    assert refused.value.code == "volunteer_has_upcoming_shifts"
    assert refused.value.details["because"] == "eligibility"
    assert [(p["assignment"], p["shift"], p["not_eligible"]) for p in refused.value.details["shifts"]] == [
        (taken.pk, shift.pk, {"reason": "insurance"})
    ]
    assert fingerprint() == before
    assert kept.pk not in [p["assignment"] for p in refused.value.details["shifts"]]


def test_an_insurance_ending_before_the_shift_is_refused_one_ending_after_is_not(world):
    volunteer = world["volunteer"]
    shift, _taken, _waiting, _other = _insured_with_a_checkpoint_and_a_waiting_volunteer(world)
    shift_day = timezone.localtime(shift.starts_at).date()
    records.volunteer_record_update(
        actor=world["staff"], volunteer_id=volunteer.pk, changes={"insurance_valid_until": shift_day}
    )
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(
            actor=world["staff"],
            volunteer_id=volunteer.pk,
            changes={"insurance_valid_until": shift_day - timedelta(days=1)},
        )
    assert refused.value.code == "volunteer_has_upcoming_shifts"
    volunteer.refresh_from_db()
    assert volunteer.insurance_valid_until == shift_day


def test_removing_the_insurance_with_release_releases_the_place_promotes_and_tells_everyone(world):
    volunteer = world["volunteer"]
    _shift, taken, waiting, waiting_volunteer = _insured_with_a_checkpoint_and_a_waiting_volunteer(world)
    other_shift = _future_shift(days=4)
    kept = shift_sign_up(shift_id=other_shift.pk, volunteer=volunteer, user=volunteer.user)

    result = records.volunteer_record_update(
        actor=world["staff"],
        volunteer_id=volunteer.pk,
        changes={"insurance_valid_until": None},
        release_places=True,
    )
    assert (result.changed, result.released) == (["insurance_valid_until"], 1)
    assert Assignment.objects.get(pk=taken.pk).status == "cancelled"
    assert Assignment.objects.get(pk=kept.pk).status == "confirmed"  # still eligible there
    assert Assignment.objects.get(pk=waiting.pk).status == "confirmed"
    kinds = set(Notification.objects.filter(channel="inapp").values_list("recipient_id", "kind"))
    assert {(volunteer.user_id, "cancelled"), (waiting_volunteer.user_id, "promoted")} <= kinds
    volunteer.refresh_from_db()
    assert volunteer.insurance_valid_until is None
    entry = AuditEntry.objects.get(volunteer=volunteer, action="volunteer_changed")
    assert entry.after == {"insurance_valid_until": None}


def test_removing_a_skill_a_confirmed_shift_needs_is_refused_an_unrelated_edit_is_not(world):
    volunteer = world["volunteer"]
    skill, other_skill = SkillFactory(), SkillFactory()
    volunteer.skills.set([skill, other_skill])
    shift = _future_shift()
    shift.post.post_type.required_skills.add(skill)
    taken = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    assert taken.status == "confirmed"

    records.volunteer_record_update(actor=world["staff"], volunteer_id=volunteer.pk, changes={"skills": [skill.code]})
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_record_update(actor=world["staff"], volunteer_id=volunteer.pk, changes={"skills": []})
    assert refused.value.details["shifts"][0]["not_eligible"] == {"reason": "skill", "missing": [skill.code]}
    assert fingerprint() == before


def test_a_place_already_refused_before_the_edit_does_not_block_it(world):
    """Only what the edit takes away counts: a place the volunteer already could not hold (the
    insurance ran out before) is no reason to refuse another change."""
    volunteer = world["volunteer"]
    _shift, taken, _waiting, _other = _insured_with_a_checkpoint_and_a_waiting_volunteer(world)
    Volunteer.objects.filter(pk=volunteer.pk).update(insurance_valid_until=timezone.localdate())
    skill = SkillFactory()
    volunteer.skills.add(skill)
    result = records.volunteer_record_update(
        actor=world["staff"], volunteer_id=volunteer.pk, changes={"skills": [], "insurance_valid_until": None}
    )
    assert (result.changed, result.released) == (["insurance_valid_until", "skills"], 0)
    assert Assignment.objects.get(pk=taken.pk).status == "confirmed"


def test_a_place_a_coordinator_gave_with_an_override_reason_is_not_at_stake(world):
    volunteer = world["volunteer"]
    Volunteer.objects.filter(pk=volunteer.pk).update(insurance_valid_until=timezone.localdate() + timedelta(days=90))
    shift = _future_shift(requires_insurance=True)
    shift.post.post_type.required_skills.add(SkillFactory())  # the volunteer lacks it: overridden
    assignment = shift_sign_up(
        shift_id=shift.pk,
        volunteer=volunteer,
        source=Assignment.Source.COORDINATOR,
        actor=UserFactory(),
        override_reason="持有同等资质",
    )
    assert (assignment.status, assignment.override_reason) == ("confirmed", "持有同等资质")
    result = records.volunteer_record_update(
        actor=world["staff"], volunteer_id=volunteer.pk, changes={"insurance_valid_until": None}
    )
    assert result.released == 0
    assert Assignment.objects.get(pk=assignment.pk).status == "confirmed"


def test_removing_a_qualification_is_audited_and_cannot_be_found_again(world):
    volunteer = world["volunteer"]
    qualification_type = QualificationTypeFactory()
    qualification = records.qualification_record(
        actor=world["staff"],
        volunteer_id=volunteer.pk,
        qualification_type_code=qualification_type.code,
        valid_until=timezone.localdate() + timedelta(days=30),
        certificate_number="ZX-1",
    )
    released = records.qualification_remove(
        actor=world["staff"], volunteer_id=volunteer.pk, qualification_id=qualification.pk
    )
    assert released == 0
    assert not Qualification.objects.filter(pk=qualification.pk).exists()
    entry = AuditEntry.objects.filter(volunteer=volunteer, action="qualification_changed").latest("pk")
    assert (entry.actor_id, entry.before["qualification"], entry.before["certificate_number"], entry.after) == (
        world["staff"].pk,
        qualification_type.code,
        "ZX-1",
        {},
    )
    with pytest.raises(ServiceError) as again:
        records.qualification_remove(actor=world["staff"], volunteer_id=volunteer.pk, qualification_id=qualification.pk)
    assert again.value.code == "not_found"


def test_removing_a_qualification_outside_the_scope_is_not_found_and_changes_nothing(world):
    outsider = world["outsider"]
    qualification = Qualification.objects.create(volunteer=outsider, qualification_type=QualificationTypeFactory())
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.qualification_remove(actor=world["staff"], volunteer_id=outsider.pk, qualification_id=qualification.pk)
    assert refused.value.code == "not_found"
    assert fingerprint() == before


def test_removing_a_qualification_a_confirmed_shift_needs_is_refused_then_released_on_request(world):
    volunteer = world["volunteer"]
    qualification_type = QualificationTypeFactory()
    qualification = Qualification.objects.create(volunteer=volunteer, qualification_type=qualification_type)
    shift = _future_shift(qualification=qualification_type)
    taken = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    assert taken.status == "confirmed"

    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.qualification_remove(actor=world["staff"], volunteer_id=volunteer.pk, qualification_id=qualification.pk)
    assert refused.value.code == "volunteer_has_upcoming_shifts"
    assert refused.value.details["shifts"][0]["not_eligible"] == {
        "reason": "qualification",
        "missing": [qualification_type.code],
    }
    assert fingerprint() == before
    assert Qualification.objects.filter(pk=qualification.pk).exists()

    released = records.qualification_remove(
        actor=world["staff"], volunteer_id=volunteer.pk, qualification_id=qualification.pk, release_places=True
    )
    assert released == 1
    assert not Qualification.objects.filter(pk=qualification.pk).exists()
    assert Assignment.objects.get(pk=taken.pk).status == "cancelled"
    assert Notification.objects.filter(recipient=volunteer.user, kind="cancelled", channel="inapp").exists()


def test_recording_a_qualification_with_an_end_before_a_confirmed_shift_is_refused_then_released(world, settings):
    from pathlib import Path

    def stored() -> set:
        root = Path(settings.PRIVATE_MEDIA_ROOT)
        return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()

    volunteer = world["volunteer"]
    qualification_type = QualificationTypeFactory()
    Qualification.objects.create(volunteer=volunteer, qualification_type=qualification_type, valid_until=None)
    shift = _future_shift(qualification=qualification_type, days=5)
    taken = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    too_early = timezone.localdate() + timedelta(days=2)

    before, files = fingerprint(), stored()
    with pytest.raises(ServiceError) as refused:
        records.qualification_record(
            actor=world["staff"],
            volunteer_id=volunteer.pk,
            qualification_type_code=qualification_type.code,
            valid_until=too_early,
            proof=upload(),
        )
    assert refused.value.code == "volunteer_has_upcoming_shifts"
    assert refused.value.details["shifts"][0]["assignment"] == taken.pk
    assert (fingerprint(), stored()) == (before, files)  # the proof just stored is gone too

    later = records.qualification_record(
        actor=world["staff"],
        volunteer_id=volunteer.pk,
        qualification_type_code=qualification_type.code,
        valid_until=timezone.localdate() + timedelta(days=30),
    )
    assert later.released_places == 0
    recorded = records.qualification_record(
        actor=world["staff"],
        volunteer_id=volunteer.pk,
        qualification_type_code=qualification_type.code,
        valid_until=too_early,
        release_places=True,
    )
    assert (recorded.valid_until, recorded.released_places) == (too_early, 1)
    assert Assignment.objects.get(pk=taken.pk).status == "cancelled"


def test_approving_an_insurance_that_ends_before_a_confirmed_checkpoint_is_refused_then_released(world):
    volunteer = world["volunteer"]
    shift, taken, waiting, _other = _insured_with_a_checkpoint_and_a_waiting_volunteer(world)
    ends = timezone.localtime(shift.starts_at).date() - timedelta(days=1)
    request = records.change_request_submit(user=volunteer.user, kind="insurance", valid_until=ends, proof=upload())

    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.change_request_approve(actor=world["staff"], request_id=request.pk)
    assert refused.value.code == "volunteer_has_upcoming_shifts"
    assert fingerprint() == before
    assert ChangeRequest.objects.get(pk=request.pk).state == "pending"

    approved = records.change_request_approve(actor=world["staff"], request_id=request.pk, release_places=True)
    assert (approved.state, approved.released_places) == ("approved", 1)
    volunteer.refresh_from_db()
    assert volunteer.insurance_valid_until == ends
    assert Assignment.objects.get(pk=taken.pk).status == "cancelled"
    assert Assignment.objects.get(pk=waiting.pk).status == "confirmed"


# --- A volunteer changes their own record ------------------------------------------------------------


def _skilled_and_placed(world, *, capacity=1):
    """The volunteer with a skill a confirmed shift's post asks for, a second volunteer with it
    waiting behind them."""
    volunteer = world["volunteer"]
    skill, other_skill = SkillFactory(code="medical"), SkillFactory(code="driving")
    volunteer.skills.set([skill, other_skill])
    shift = _future_shift(capacity=capacity)
    shift.post.post_type.required_skills.add(skill)
    taken = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    waiting_volunteer = VolunteerFactory(organization=world["other_org"])
    waiting_volunteer.skills.set([skill])
    waiting = shift_sign_up(shift_id=shift.pk, volunteer=waiting_volunteer, user=waiting_volunteer.user)
    assert (taken.status, waiting.status) == ("confirmed", "waitlisted")
    return shift, taken, waiting, waiting_volunteer


def test_a_volunteer_removing_a_skill_their_place_needs_is_refused_and_nothing_changes(world):
    volunteer = world["volunteer"]
    shift, taken, _waiting, _other = _skilled_and_placed(world)
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        records.volunteer_own_update(
            user=volunteer.user, changes={"skills": ["driving"], "emergency_contact_name": "李母"}
        )
    assert refused.value.code == "volunteer_has_upcoming_shifts"
    assert [(p["assignment"], p["shift"], p["not_eligible"]) for p in refused.value.details["shifts"]] == [
        (taken.pk, shift.pk, {"reason": "skill", "missing": ["medical"]})
    ]
    assert fingerprint() == before  # not the contact either: one change, all or nothing


def test_a_volunteer_removing_a_skill_with_release_gives_up_the_place_and_the_waitlist_moves_up(world):
    volunteer = world["volunteer"]
    _shift, taken, waiting, waiting_volunteer = _skilled_and_placed(world)
    result = records.volunteer_own_update(user=volunteer.user, changes={"skills": ["driving"]}, release_places=True)
    assert (result.changed, result.released) == (["skills"], 1)
    assert Assignment.objects.get(pk=taken.pk).status == "cancelled"
    assert Assignment.objects.get(pk=waiting.pk).status == "confirmed"
    kinds = set(Notification.objects.filter(channel="inapp").values_list("recipient_id", "kind"))
    assert {(volunteer.user_id, "cancelled"), (waiting_volunteer.user_id, "promoted")} <= kinds
    assert list(volunteer.skills.values_list("code", flat=True)) == ["driving"]


def test_a_volunteers_own_change_is_kept_in_the_trail_with_them_as_author_contacts_masked(world):
    volunteer = world["volunteer"]
    SkillFactory(code="medical")
    result = records.volunteer_own_update(
        user=volunteer.user,
        changes={"emergency_contact_mobile": "13700000002", "skills": ["medical"], "email": volunteer.user.email},
    )
    assert (result.changed, result.released) == (["emergency_contact_mobile", "skills"], 0)
    entry = AuditEntry.objects.get(volunteer=volunteer, action="volunteer_changed")
    assert entry.actor_id == volunteer.user_id
    assert entry.after == {"emergency_contact_mobile": "137****0002", "skills": ["medical"]}
    # Saving the same values again changes nothing and writes no entry.
    records.volunteer_own_update(user=volunteer.user, changes={"skills": ["medical"]})
    assert AuditEntry.objects.filter(volunteer=volunteer, action="volunteer_changed").count() == 1


def test_a_skill_an_unrelated_or_a_past_shift_needs_may_be_removed(world):
    volunteer = world["volunteer"]
    skill = SkillFactory(code="medical")
    volunteer.skills.set([skill])
    shift = _future_shift()
    shift.post.post_type.required_skills.add(skill)
    taken = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    Shift.objects.filter(pk=shift.pk).update(
        starts_at=timezone.now() - timedelta(days=2), ends_at=timezone.now() - timedelta(days=2) + timedelta(hours=4)
    )
    result = records.volunteer_own_update(user=volunteer.user, changes={"skills": []})
    assert (result.changed, result.released) == (["skills"], 0)
    assert Assignment.objects.get(pk=taken.pk).status == "confirmed"


def test_someone_without_a_volunteer_record_is_refused():
    with pytest.raises(ServiceError) as refused:
        records.volunteer_own_update(user=UserFactory(), changes={"skills": []})
    assert refused.value.code == "not_a_volunteer"
