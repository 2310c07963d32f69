"""Recruitment calls: publishing, answering with a texted code, recognising people, review."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from communities.models import Notification
from communities.services import recruitment
from config.errors import ServiceError
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    RecruitmentCallFactory,
    SkillFactory,
    TeamFactory,
    VolunteerFactory,
    years_before,
)
from volunteers import login_codes
from volunteers.idcard import make_id_number
from volunteers.models import CallAgreement, CallApplication, LoginCode, RecruitmentCall, Volunteer

pytestmark = pytest.mark.django_db

CODE = "246810"


@pytest.fixture(autouse=True)
def known_code(monkeypatch):
    """Every code texted in these tests is CODE (the texts themselves are tested with log-in)."""
    monkeypatch.setattr(login_codes, "_new_code", lambda digits: CODE)


@pytest.fixture
def setting():
    committee = OrganizationFactory(kind="committee", name="苏州金融团工委")
    bank = OrganizationFactory(parent=committee, name="银行一")
    other = OrganizationFactory(name="别的机构")
    staff = OrganizationStaffFactory(organization=committee).user
    call = RecruitmentCallFactory(organization=committee)
    return {"committee": committee, "bank": bank, "other": other, "staff": staff, "call": call}


def form(call, **changes) -> recruitment.ApplicationForm:
    community = changes.pop("community", None)
    values = {
        "mobile": "13700000001",
        "real_name": "周晓雨",
        "id_number": make_id_number("320506", date(1998, 5, 4), 41),
        "organization_id": call.organization_id,
        "emergency_contact_name": "周父",
        "emergency_contact_mobile": "13700000009",
        "agreement_version": 1,
        "accepts_agreement": True,
    }
    if community is not None:
        values.update(
            residence_district_id=community.street.district_id,
            residence_street_id=community.street_id,
            residence_community_id=community.pk,
        )
    values.update(changes)
    return recruitment.ApplicationForm(**values)


def apply(call, **changes) -> CallApplication:
    answer = form(call, **changes)
    cache.clear()  # each answer as if from its own phone, a minute apart (per-number code limits)
    login_codes.mobile_code_request(mobile=answer.mobile, ip=None)
    return recruitment.call_apply(slug=call.slug, form=answer, code=CODE)


def counts() -> tuple:
    return (
        CallApplication.objects.count(),
        Volunteer.objects.count(),
        get_user_model().objects.count(),
        Notification.objects.count(),
    )


# --- Calls ----------------------------------------------------------------------------------


def test_staff_create_a_draft_call_with_version_one_of_its_agreement(setting):
    call = recruitment.call_create(
        actor=setting["staff"],
        organization=setting["bank"],
        title="银行一青年突击队招募令",
        text="招募30名青年志愿者。",
        target_count=30,
        deadline=timezone.now() + timedelta(days=3),
        agreement_text="协议第一版",
        min_age=18,
        max_age=35,
    )
    assert (call.status, call.organization, call.target_count) == ("draft", setting["bank"], 30)
    assert list(call.agreements.values_list("version", "text")) == [(1, "协议第一版")]
    assert len(call.slug) == 8


def test_a_call_outside_the_staff_scope_is_refused_and_nothing_is_written(setting):
    with pytest.raises(ServiceError) as refused:
        recruitment.call_create(
            actor=setting["staff"],
            organization=setting["other"],
            title="x",
            text="x",
            target_count=1,
            deadline=timezone.now() + timedelta(days=1),
            agreement_text="x",
        )
    assert refused.value.code == "permission_denied"
    assert RecruitmentCall.objects.count() == 1  # the fixture's


def test_an_age_range_upside_down_is_refused(setting):
    with pytest.raises(ServiceError) as refused:
        recruitment.call_update(actor=setting["staff"], call_id=setting["call"].pk, min_age=40, max_age=20)
    assert refused.value.details == {"max_age": ["最大年龄小于最小年龄。"]}


def test_a_new_agreement_text_is_a_new_version_and_old_answers_keep_theirs(setting):
    call = setting["call"]
    first = apply(call)
    recruitment.call_update(actor=setting["staff"], call_id=call.pk, agreement_text="协议第二版：须购买意外险。")
    assert list(call.agreements.order_by("version").values_list("version", flat=True)) == [1, 2]
    first.refresh_from_db()
    assert first.agreement.version == 1
    # A page opened before the change answers with version 1: read it again first.
    with pytest.raises(ServiceError) as refused:
        apply(call, mobile="13700000002", id_number=make_id_number("320506", date(1999, 1, 1), 7))
    assert refused.value.code == "agreement_changed"
    second = apply(
        call, mobile="13700000002", id_number=make_id_number("320506", date(1999, 1, 1), 7), agreement_version=2
    )
    assert second.agreement == CallAgreement.objects.get(call=call, version=2)


def test_publish_and_close_move_once(setting):
    call = recruitment.call_create(
        actor=setting["staff"],
        organization=setting["committee"],
        title="t",
        text="t",
        target_count=1,
        deadline=timezone.now() + timedelta(days=1),
        agreement_text="a",
    )
    assert recruitment.call_publish(actor=setting["staff"], call_id=call.pk).status == "published"
    with pytest.raises(ServiceError) as again:
        recruitment.call_publish(actor=setting["staff"], call_id=call.pk)
    assert again.value.code == "call_status_conflict"
    assert recruitment.call_close(actor=setting["staff"], call_id=call.pk).status == "closed"
    with pytest.raises(ServiceError) as closed:
        recruitment.open_call(call.slug)
    assert closed.value.code == "call_closed"


# --- Answering ------------------------------------------------------------------------------


def test_a_stranger_answers_with_a_texted_code(setting):
    community = CommunityFactory()
    team = TeamFactory(organization=setting["bank"])
    application = apply(setting["call"], organization_id=setting["bank"].pk, team_id=team.pk, community=community)
    assert application.status == "pending"
    assert (application.organization, application.team, application.volunteer) == (setting["bank"], team, None)
    assert application.residence_community == community
    assert application.id_number_masked == "3205**********" + application.id_number_masked[-4:]
    assert make_id_number("320506", date(1998, 5, 4), 41) not in application.id_number_encrypted
    assert application.agreement.version == 1
    assert LoginCode.objects.get(mobile="13700000001").used_at is not None


def test_a_wrong_code_is_refused_and_nothing_is_recorded(setting):
    answer = form(setting["call"])
    login_codes.mobile_code_request(mobile=answer.mobile, ip=None)
    with pytest.raises(ServiceError) as refused:
        recruitment.call_apply(slug=setting["call"].slug, form=answer, code="000000")
    assert refused.value.code == "login_code_invalid"
    assert CallApplication.objects.count() == 0


def test_mistakes_in_the_form_do_not_use_up_the_code(setting):
    answer = form(setting["call"], id_number="320506199805040410", emergency_contact_name="")
    login_codes.mobile_code_request(mobile=answer.mobile, ip=None)
    with pytest.raises(ServiceError) as refused:
        recruitment.call_apply(slug=setting["call"].slug, form=answer, code=CODE)
    assert refused.value.code == "invalid"
    assert set(refused.value.details) == {"id_number", "emergency_contact_name"}
    assert LoginCode.objects.get(mobile=answer.mobile).attempts == 0


def test_an_organisation_outside_the_call_subtree_is_refused(setting):
    with pytest.raises(ServiceError) as refused:
        apply(setting["call"], organization_id=setting["other"].pk)
    assert list(refused.value.details) == ["organization"]


def test_under_18s_need_a_guardian_name_mobile_and_consent(setting):
    born = years_before(timezone.localdate(), 16) - timedelta(days=30)
    minor = make_id_number("320506", born, 12)
    with pytest.raises(ServiceError) as refused:
        apply(setting["call"], id_number=minor)
    assert set(refused.value.details) == {"guardian_name", "guardian_mobile", "guardian_consent"}
    application = apply(
        setting["call"], id_number=minor, guardian_name="周母", guardian_mobile="13700000008", guardian_consent=True
    )
    assert (application.guardian_name, application.guardian_consent) == ("周母", True)


def test_who_may_answer_age_range_and_required_skills(setting):
    call = setting["call"]
    first_aid = SkillFactory(code="first-aid", name="急救")
    call.required_skills.add(first_aid)
    RecruitmentCall.objects.filter(pk=call.pk).update(max_age=25)
    with pytest.raises(ServiceError) as refused:
        apply(call, id_number=make_id_number("320506", years_before(timezone.localdate(), 30), 3))
    assert refused.value.details["id_number"] == ["本次招募面向14至25岁的人员。"]
    assert refused.value.details["skills"] == ["本次招募要求具备所列的全部技能。"]


def test_an_existing_volunteer_is_recognised_and_not_registered_twice(setting):
    volunteer = VolunteerFactory(organization=setting["bank"], mobile="13700000001")
    application = apply(setting["call"], id_number=volunteer.id_number)
    assert application.volunteer == volunteer
    before = Volunteer.objects.count()
    recruitment.application_approve(actor=setting["staff"], application_id=application.pk)
    assert Volunteer.objects.count() == before
    application.refresh_from_db()
    assert (application.status, application.volunteer) == ("approved", volunteer)


@pytest.mark.parametrize("case", ["id_under_another_mobile", "mobile_of_another_id"])
def test_details_that_belong_to_someone_else_get_contact_staff_and_nothing_else(setting, case):
    someone = VolunteerFactory(mobile="13800000000")
    answer = {"id_number": someone.id_number} if case == "id_under_another_mobile" else {"mobile": "13800000000"}
    before = counts()
    with pytest.raises(ServiceError) as refused:
        apply(setting["call"], **answer)
    # One code, no details: the answer is the same whichever detail belongs to whom.
    assert (refused.value.code, refused.value.details) == ("contact_staff", {})
    assert counts() == before


def test_the_same_person_answering_twice_is_told_so(setting):
    apply(setting["call"])
    with pytest.raises(ServiceError) as refused:
        apply(setting["call"])
    assert (refused.value.code, refused.value.details) == ("already_applied", {"status": "pending"})


def test_a_call_past_its_deadline_takes_no_answers(setting):
    RecruitmentCall.objects.filter(pk=setting["call"].pk).update(deadline=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ServiceError) as refused:
        apply(setting["call"])
    assert refused.value.code == "call_closed"


def test_a_draft_is_not_found(setting):
    RecruitmentCall.objects.filter(pk=setting["call"].pk).update(status="draft")
    with pytest.raises(ServiceError) as refused:
        recruitment.call_code_request(slug=setting["call"].slug, mobile="13700000001", ip=None)
    assert refused.value.code == "not_found"
    assert LoginCode.objects.count() == 0


# --- Review ---------------------------------------------------------------------------------


def test_approval_registers_a_reserve_volunteer_of_the_chosen_organisation_and_texts_them(setting):
    community = CommunityFactory()
    application = apply(setting["call"], organization_id=setting["bank"].pk, community=community)
    approved = recruitment.application_approve(actor=setting["staff"], application_id=application.pk)
    volunteer = approved.volunteer
    assert (volunteer.status, volunteer.organization, volunteer.mobile) == ("reserve", setting["bank"], "13700000001")
    assert volunteer.user.username == "13700000001"
    assert not volunteer.user.has_usable_password()
    assert volunteer.id_number == make_id_number("320506", date(1998, 5, 4), 41)
    assert (volunteer.residence_community, volunteer.emergency_contact_name) == (community, "周父")
    notes = Notification.objects.filter(recipient=volunteer.user).order_by("channel")
    assert [(n.kind, n.channel) for n in notes] == [("application_approved", "inapp"), ("application_approved", "sms")]
    assert setting["call"].title in notes[0].body
    # A login by code works for them now.
    assert login_codes.user_for_mobile("13700000001") == volunteer.user


def test_an_application_is_reviewed_once(setting):
    application = apply(setting["call"])
    recruitment.application_approve(actor=setting["staff"], application_id=application.pk)
    before = counts()
    for review in (
        lambda: recruitment.application_approve(actor=setting["staff"], application_id=application.pk),
        lambda: recruitment.application_reject(actor=setting["staff"], application_id=application.pk, reason="x"),
    ):
        with pytest.raises(ServiceError) as refused:
            review()
        assert refused.value.code == "application_not_pending"
    assert counts() == before


def test_staff_of_another_organisation_do_not_find_the_application(setting):
    application = apply(setting["call"])
    outsider = OrganizationStaffFactory(organization=setting["other"]).user
    before = counts()
    with pytest.raises(ServiceError) as refused:
        recruitment.application_approve(actor=outsider, application_id=application.pk)
    assert refused.value.code == "not_found"
    assert counts() == before


def test_rejection_needs_a_reason_and_texts_it_to_the_number_given(setting, django_capture_on_commit_callbacks):
    application = apply(setting["call"])
    with pytest.raises(ServiceError) as refused:
        recruitment.application_reject(actor=setting["staff"], application_id=application.pk, reason=" ")
    assert refused.value.code == "reason_required"
    outbox = Path(settings.NOTIFICATIONS["SMS_FILE"])
    start = outbox.stat().st_size if outbox.exists() else 0
    with django_capture_on_commit_callbacks(execute=True):
        recruitment.application_reject(actor=setting["staff"], application_id=application.pk, reason="名额已满")
    application.refresh_from_db()
    assert (application.status, application.reject_reason) == ("rejected", "名额已满")
    with open(outbox, "rb") as handle:
        handle.seek(start)
        lines = [json.loads(line) for line in handle.read().splitlines() if line.strip()]
    texts = [line for line in lines if line["key"] == f"app{application.pk}:application_rejected:sms"]
    assert len(texts) == 1 and texts[0]["to"] == "13700000001" and "名额已满" in texts[0]["text"]


def test_bulk_approval_takes_each_on_its_own(setting):
    first = apply(setting["call"])
    second = apply(setting["call"], mobile="13700000002", id_number=make_id_number("320506", date(1997, 2, 2), 5))
    recruitment.application_approve(actor=setting["staff"], application_id=second.pk)
    result = recruitment.applications_approve(actor=setting["staff"], application_ids=[first.pk, second.pk, 999999])
    assert result == {"approved": [first.pk], "refused": {second.pk: "application_not_pending", 999999: "not_found"}}


def test_a_call_without_review_approves_at_once(setting):
    RecruitmentCall.objects.filter(pk=setting["call"].pk).update(approval_required=False)
    setting["call"].refresh_from_db()
    application = apply(setting["call"])
    assert application.status == "approved"
    assert application.volunteer.status == "reserve"
