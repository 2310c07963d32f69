"""volunteers.services: registering volunteers and organisations."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from tests.factories import OrganizationFactory, TeamFactory, VolunteerFactory
from volunteers import crypto, services
from volunteers.models import Organization, Volunteer

pytestmark = pytest.mark.django_db

CLASSIC_ID = "11010519491231002X"
User = get_user_model()


def _counts() -> tuple[int, int]:
    return User.objects.count(), Volunteer.objects.count()


def test_volunteer_create_makes_a_login_named_by_mobile_and_a_numbered_volunteer(settings):
    organization = OrganizationFactory()
    team = TeamFactory(organization=organization)

    volunteer = services.volunteer_create(
        real_name="张三",
        mobile="13812345678",
        id_number="11010519491231002x",
        organization=organization,
        team=team,
        password="s3cret-Pass",
    )

    volunteer.refresh_from_db()
    user = volunteer.user
    assert user.username == "13812345678"
    assert user.first_name == "张三"
    assert user.check_password("s3cret-Pass") is True
    assert user.has_usable_password() is True
    assert re.fullmatch(rf"{re.escape(settings.VOLUNTEER_NUMBER_PREFIX)}\d{{10}}", volunteer.volunteer_number)
    assert settings.VOLUNTEER_NUMBER_PREFIX == "SZ"
    assert volunteer.real_name == "张三"
    assert volunteer.mobile == "13812345678"
    assert volunteer.birth_date == date(1949, 12, 31)
    assert volunteer.gender == Volunteer.Gender.FEMALE
    assert volunteer.organization == organization
    assert volunteer.team == team
    assert volunteer.status == Volunteer.Status.RESERVE
    assert volunteer.political_status == Volunteer.PoliticalStatus.MASSES
    assert volunteer.id_number == CLASSIC_ID
    assert volunteer.id_number_masked == "1101**********002X"
    assert volunteer.id_number_hash == crypto.blind_index(CLASSIC_ID)
    assert _counts() == (1, 1)


def test_volunteer_number_uses_the_configured_prefix(settings):
    settings.VOLUNTEER_NUMBER_PREFIX = "WX"
    volunteer = services.volunteer_create(
        real_name="李四", mobile="13900000001", id_number="440524198001010013", organization=OrganizationFactory()
    )
    assert re.fullmatch(r"WX\d{10}", volunteer.volunteer_number)
    assert volunteer.gender == Volunteer.Gender.MALE


def test_volunteer_create_without_password_gives_an_unusable_password():
    volunteer = services.volunteer_create(
        real_name="王五", mobile="13900000002", id_number=CLASSIC_ID, organization=OrganizationFactory()
    )
    user = User.objects.get(pk=volunteer.user_id)
    assert user.has_usable_password() is False
    assert user.check_password("") is False
    assert user.check_password(None) is False


@pytest.mark.parametrize(
    ("id_number", "code"),
    [
        ("11010519491231002", "id_number_format"),
        ("11010519491331002X", "id_number_birth_date"),
        ("110105194902300021", "id_number_birth_date"),
        ("110105194912310021", "id_number_checksum"),
    ],
)
def test_invalid_id_number_creates_nothing(id_number, code):
    organization = OrganizationFactory()
    before = _counts()

    with pytest.raises(ValidationError) as excinfo:
        services.volunteer_create(
            real_name="张三", mobile="13812345678", id_number=id_number, organization=organization
        )

    assert excinfo.value.code == code
    assert _counts() == before == (0, 0)
    assert not User.objects.filter(username="13812345678").exists()


@pytest.mark.parametrize("mobile", ["12812345678", "1381234567", "138123456789", "1381234567a", ""])
def test_invalid_mobile_creates_nothing(mobile):
    organization = OrganizationFactory()
    before = _counts()

    with pytest.raises(ValidationError) as excinfo:
        services.volunteer_create(real_name="张三", mobile=mobile, id_number=CLASSIC_ID, organization=organization)

    assert excinfo.value.code == "mobile_invalid"
    assert _counts() == before == (0, 0)


def test_duplicate_id_number_rolls_back_the_new_login():
    organization = OrganizationFactory()
    services.volunteer_create(real_name="张三", mobile="13812345678", id_number=CLASSIC_ID, organization=organization)
    before = _counts()

    with pytest.raises(IntegrityError):
        services.volunteer_create(
            real_name="张三", mobile="13900000003", id_number=CLASSIC_ID.lower(), organization=organization
        )

    assert _counts() == before == (1, 1)
    assert not User.objects.filter(username="13900000003").exists()


def test_duplicate_mobile_creates_nothing():
    organization = OrganizationFactory()
    services.volunteer_create(real_name="张三", mobile="13812345678", id_number=CLASSIC_ID, organization=organization)
    before = _counts()

    with pytest.raises(IntegrityError):
        services.volunteer_create(
            real_name="李四", mobile="13812345678", id_number="440524198001010013", organization=organization
        )

    assert _counts() == before == (1, 1)


def test_volunteer_number_collision_draws_again(monkeypatch):
    taken = VolunteerFactory(volunteer_number="SZ0000000001")
    draws = iter(["SZ0000000001", "SZ0000000001", "SZ0000000002"])
    monkeypatch.setattr(services, "volunteer_number_generate", lambda: next(draws))

    volunteer = services.volunteer_create(
        real_name="张三", mobile="13812345678", id_number=CLASSIC_ID, organization=OrganizationFactory()
    )

    assert volunteer.volunteer_number == "SZ0000000002"
    assert Volunteer.objects.get(pk=volunteer.pk).volunteer_number == "SZ0000000002"
    assert Volunteer.objects.filter(volunteer_number="SZ0000000001").get() == taken


def test_volunteer_number_exhaustion_raises_and_creates_nothing(monkeypatch):
    VolunteerFactory(volunteer_number="SZ0000000001")
    monkeypatch.setattr(services, "volunteer_number_generate", lambda: "SZ0000000001")
    before = _counts()

    with pytest.raises(RuntimeError, match="could not draw a free volunteer number"):
        services.volunteer_create(
            real_name="张三", mobile="13812345678", id_number=CLASSIC_ID, organization=OrganizationFactory()
        )

    assert _counts() == before


def test_volunteer_number_generate_format(settings):
    numbers = {services.volunteer_number_generate() for _ in range(50)}
    assert all(re.fullmatch(r"SZ\d{10}", number) for number in numbers)
    assert len(numbers) == 50


def test_organization_create_builds_the_tree():
    committee = services.organization_create(name="苏州金融团工委", code="SZJR", kind=Organization.Kind.COMMITTEE)
    bank = services.organization_create(
        name="某银行", code="BANK1", kind=Organization.Kind.INSTITUTION, parent=committee, name_en="A Bank"
    )
    committee.refresh_from_db()
    bank.refresh_from_db()
    assert (committee.path, committee.depth) == (f"/{committee.pk:010d}/", 0)
    assert (bank.path, bank.depth) == (f"/{committee.pk:010d}/{bank.pk:010d}/", 1)
    assert bank.name_en == "A Bank"


def test_organization_create_validates_and_creates_nothing_on_error():
    with pytest.raises(ValidationError) as excinfo:
        services.organization_create(name="无效", code="X1", kind="not-a-kind")
    assert set(excinfo.value.message_dict) == {"kind"}
    assert Organization.objects.count() == 0
