"""factory_boy factories for every model the tests build."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from communities.models import Assignment, Community, District, Post, PostType, Shift, Street
from volunteers import crypto
from volunteers.idcard import make_id_number, mask_id_number
from volunteers.models import (
    CallAgreement,
    Organization,
    OrganizationStaff,
    Qualification,
    QualificationType,
    RecruitmentCall,
    Skill,
    Team,
    Volunteer,
    VolunteerCategory,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pass-Word-123")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"机构{n}")
    name_en = factory.Sequence(lambda n: f"Organization {n}")
    code = factory.Sequence(lambda n: f"ORG{n:04d}")
    kind = Organization.Kind.INSTITUTION


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"青年突击队{n}")


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skill
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"skill-{n}")
    name = factory.Sequence(lambda n: f"技能{n}")


class QualificationTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QualificationType
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"qual-{n}")
    name = factory.Sequence(lambda n: f"资质{n}")


class VolunteerCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VolunteerCategory
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"cat-{n}")
    name = factory.Sequence(lambda n: f"类别{n}")


class VolunteerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Volunteer

    class Params:
        id_number = factory.LazyAttributeSequence(lambda o, n: make_id_number("320505", o.birth_date, n))

    user = factory.SubFactory(UserFactory, username=factory.SelfAttribute("..mobile"))
    volunteer_number = factory.Sequence(lambda n: f"SZT{n:08d}")
    real_name = factory.Sequence(lambda n: f"志愿者{n}")
    gender = Volunteer.Gender.FEMALE
    mobile = factory.Sequence(lambda n: f"139{n:08d}")
    birth_date = date(1995, 6, 15)
    id_number_encrypted = factory.LazyAttribute(lambda o: crypto.encrypt(o.id_number))
    id_number_hash = factory.LazyAttribute(lambda o: crypto.blind_index(o.id_number))
    id_number_masked = factory.LazyAttribute(lambda o: mask_id_number(o.id_number))
    organization = factory.SubFactory(OrganizationFactory)
    status = Volunteer.Status.ACTIVE
    insurance_valid_until = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=365))


class QualificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Qualification

    volunteer = factory.SubFactory(VolunteerFactory)
    qualification_type = factory.SubFactory(QualificationTypeFactory)
    valid_until = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=365))


class OrganizationStaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationStaff

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"D{n:03d}")
    name = factory.Sequence(lambda n: f"区{n}")


class StreetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Street

    district = factory.SubFactory(DistrictFactory)
    name = factory.Sequence(lambda n: f"街道{n}")


class CommunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Community

    code = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Sequence(lambda n: f"社区{n}")
    street = factory.SubFactory(StreetFactory)


class PostTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PostType
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"duty-{n}")
    name = factory.Sequence(lambda n: f"岗位类型{n}")
    min_age = 18


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    community = factory.SubFactory(CommunityFactory)
    post_type = factory.SubFactory(PostTypeFactory)
    name = factory.Sequence(lambda n: f"岗位{n}")


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier; 28 February for a 29 February that year lacks
    (``day.replace(year=…)`` raises there)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, and the year before is a common year
        return day.replace(year=day.year - years, day=28)


def next_29_february() -> date:
    year = timezone.localdate().year + 1
    while not calendar.isleap(year):
        year += 1
    return date(year, 2, 29)


def _tomorrow_at(hour: int):
    day = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(timezone.datetime(day.year, day.month, day.day, hour))


class ShiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shift

    post = factory.SubFactory(PostFactory)
    community = factory.SelfAttribute("post.community")
    starts_at = factory.LazyFunction(lambda: _tomorrow_at(8))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=4))
    capacity = 5


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    shift = factory.SubFactory(ShiftFactory)
    volunteer = factory.SubFactory(VolunteerFactory)
    status = Assignment.Status.CONFIRMED


class RecruitmentCallFactory(factory.django.DjangoModelFactory):
    """A published call, open for a week, with version 1 of its agreement."""

    class Meta:
        model = RecruitmentCall
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"青年志愿者招募令{n}")
    text = "招募青年志愿者支援社区疫情防控。"
    target_count = 20
    deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    status = RecruitmentCall.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def agreement(self, create, extracted, **kwargs):
        if create:
            CallAgreement.objects.create(call=self, version=1, text=extracted or "志愿服务协议：服务期间服从安排。")
