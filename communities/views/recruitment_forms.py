"""Forms of the recruitment pages: a call (staff) and an answer to it (anyone)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from volunteers.models import (
    CallApplication,
    QualificationType,
    RecruitmentCall,
    Skill,
    Volunteer,
    VolunteerCategory,
)
from volunteers.selectors import organization_subtree


class CallForm(forms.Form):
    organization = forms.ModelChoiceField(label=_("Recruits into"), queryset=None, empty_label=None)
    title = forms.CharField(label=_("Title"), max_length=100)
    text = forms.CharField(label=_("Text of the call"), widget=forms.Textarea(attrs={"rows": 6}), max_length=5000)
    target_count = forms.IntegerField(label=_("Target number of volunteers"), min_value=1, max_value=100_000)
    deadline = forms.DateTimeField(
        label=_("Deadline"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    min_age = forms.IntegerField(label=_("Minimum age"), min_value=0, max_value=120, required=False)
    max_age = forms.IntegerField(label=_("Maximum age"), min_value=0, max_value=120, required=False)
    categories = forms.ModelMultipleChoiceField(
        label=_("Categories (any of them; none: anyone)"),
        queryset=VolunteerCategory.objects.order_by("code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    required_skills = forms.ModelMultipleChoiceField(
        label=_("Required skills"),
        queryset=Skill.objects.order_by("code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    required_qualifications = forms.ModelMultipleChoiceField(
        label=_("Required qualifications"),
        queryset=QualificationType.objects.order_by("code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    approval_required = forms.BooleanField(label=_("Staff approve each application"), required=False, initial=True)
    agreement_text = forms.CharField(
        label=_("Volunteer service agreement"),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=20_000,
        help_text=_(
            "Shown to every applicant, who must accept it (《志愿服务条例》第十四条). Changing it makes a new "
            "version; each application keeps the version accepted."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organization_subtree(user).order_by("path")
        self.fields["organization"].label_from_instance = lambda org: f"{'· ' * org.depth}{org.display_name}"


def call_initial(call: RecruitmentCall, agreement_text: str) -> dict:
    return {
        "organization": call.organization_id,
        "title": call.title,
        "text": call.text,
        "target_count": call.target_count,
        "deadline": timezone.localtime(call.deadline),
        "min_age": call.min_age,
        "max_age": call.max_age,
        "categories": list(call.categories.all()),
        "required_skills": list(call.required_skills.all()),
        "required_qualifications": list(call.required_qualifications.all()),
        "approval_required": call.approval_required,
        "agreement_text": agreement_text,
    }


def _choices(items, blank=None) -> list:
    options = [(item.pk, item.display_name) for item in items]
    return [("", blank), *options] if blank is not None else options


class ApplyForm(forms.Form):
    """An answer to a call. Mobile and code first; the code is checked last (the service)."""

    mobile = forms.RegexField(
        label=_("Mobile number"),
        regex=r"^\s*(\+?86)?\s*1[3-9][0-9]{9}\s*$",
        error_messages={"invalid": _("Enter an 11-digit mainland mobile number starting with 1.")},
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "maxlength": "16"}),
    )
    code = forms.CharField(
        label=_("Texted code"),
        max_length=10,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "6"}),
    )
    real_name = forms.CharField(label=_("Real name"), max_length=50, required=False)
    id_number = forms.CharField(
        label=_("ID number"),
        max_length=24,
        required=False,
        help_text=_("Kept encrypted; only its last four digits are ever shown."),
    )
    organization = forms.TypedChoiceField(label=_("Organisation"), coerce=int, required=False, empty_value=None)
    team = forms.TypedChoiceField(label=_("Team (optional)"), coerce=int, required=False, empty_value=None)
    political_status = forms.ChoiceField(
        label=_("Political status"), choices=Volunteer.PoliticalStatus.choices, initial="masses", required=False
    )
    categories = forms.TypedMultipleChoiceField(
        label=_("Categories"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    skills = forms.TypedMultipleChoiceField(
        label=_("Skills"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    qualifications = forms.TypedMultipleChoiceField(
        label=_("Qualifications"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    residence_district = forms.TypedChoiceField(
        label=_("District where you live"), coerce=int, required=False, empty_value=None
    )
    residence_street = forms.TypedChoiceField(label=_("Street"), coerce=int, required=False, empty_value=None)
    residence_community = forms.TypedChoiceField(label=_("Community"), coerce=int, required=False, empty_value=None)
    # Under the heading "Emergency contact" (recruitment/call_page.html), as the residence's fields are under theirs.
    emergency_contact_name = forms.CharField(label=_("Name"), max_length=50, required=False)
    emergency_contact_mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=11,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    guardian_name = forms.CharField(label=_("Guardian's name"), max_length=50, required=False)
    guardian_mobile = forms.CharField(
        label=_("Guardian's mobile number"),
        max_length=11,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    guardian_consent = forms.BooleanField(label=_("My guardian agrees to my volunteering"), required=False)
    agreement_version = forms.IntegerField(widget=forms.HiddenInput)
    accepts_agreement = forms.BooleanField(label=_("I have read and accept the volunteer agreement"), required=False)

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        blank = _("Choose…")
        self.fields["organization"].choices = [("", blank)] + [
            (org.pk, f"{'· ' * org.depth}{org.display_name}") for org in choices.organizations
        ]
        self.fields["team"].choices = [("", _("No team"))] + [(team.pk, f"{team.name}") for team in choices.teams]
        self.fields["categories"].choices = _choices(choices.categories)
        self.fields["skills"].choices = _choices(choices.skills)
        self.fields["qualifications"].choices = _choices(choices.qualifications)
        self.fields["residence_district"].choices = _choices(choices.districts, blank)
        self.fields["residence_street"].choices = _choices(choices.streets, blank)
        self.fields["residence_community"].choices = _choices(choices.communities, blank)

    def service_data(self) -> dict:
        """The cleaned answer in the shape the API's serializer gives (one conversion after it)."""
        data = self.cleaned_data
        return {
            **data,
            "mobile": data["mobile"].strip(),
            "agreement_version": data["agreement_version"],
            "accepts_agreement": bool(data.get("accepts_agreement")),
        }


class ApplicationFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *list(CallApplication.Status.choices)]
    )
    q = forms.CharField(label=_("Name"), required=False, max_length=50)
    minor = forms.NullBooleanField(
        label=_("Under 18"),
        required=False,
        widget=forms.Select(choices=[("", _("All")), ("true", _("Under 18 only")), ("false", _("18 and over"))]),
    )


class RejectForm(forms.Form):
    application = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason (texted to the applicant)"), max_length=200)
