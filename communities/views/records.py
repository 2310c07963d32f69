"""Pages for volunteers' records (issue 20): the staff's volunteer list and edit page, their
queue of change requests, the volunteers who will lose eligibility for a confirmed shift; the
volunteer's own contact details and skills, requests and account deletion; the proof files.

The same selectors and services as ``communities.api.records``: a page and the API never differ
on a rule. Scope: outside it is a 404, a role with no list at all a 403.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from communities.render.refusals import place_lost_words
from communities.selectors import records as selectors
from communities.selectors.people import volunteer_mobile_display
from communities.services import records
from config import formats as house
from config.client import client_ip
from config.errors import ServiceError
from volunteers import services as volunteer_services
from volunteers.decorators import role_required, volunteer_required
from volunteers.forms import ContactForm, MobileChangeForm
from volunteers.models import (
    ChangeRequest,
    Qualification,
    QualificationType,
    Skill,
    Team,
    Volunteer,
    VolunteerCategory,
)
from volunteers.selectors import organization_subtree

PAGE_SIZE = 25

list_required = role_required(
    selectors.may_list_volunteers, gettext_lazy("Only staff and team leaders can see the volunteer list.")
)
manage_required = role_required(
    selectors.may_manage_volunteers, gettext_lazy("Only league committee and organization staff can change volunteers.")
)

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _refusal(error: ServiceError) -> str:
    details = []
    for name, value in error.details.items():
        if name == "release":  # the API's hint (release_places=true); a page offers its own box
            continue
        if isinstance(value, list):
            details += [str(item) for item in value if isinstance(item, str)]
    return " ".join([str(error.message), *details]).strip()


def _places(error: ServiceError) -> list[dict]:
    """The places a refused change would take away (``volunteer_has_upcoming_shifts``), in words."""
    if error.code != "volunteer_has_upcoming_shifts":
        return []
    places = []
    for place in error.details.get("shifts", []):
        problem = place.get("not_eligible")
        places.append(
            {
                **place,
                "when": house.moment(datetime.fromisoformat(place["starts_at"])),
                "why": place_lost_words(problem) if problem else "",
            }
        )
    return places


# --- The list ----------------------------------------------------------------------------------


class VolunteerFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Name, number or mobile"), required=False, max_length=50)
    team = forms.TypedChoiceField(label=gettext_lazy("Team"), required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    skill = forms.ChoiceField(label=gettext_lazy("Skill"), required=False)
    insurance_before = forms.DateField(label=gettext_lazy("Insurance ends before"), required=False, widget=DATE_INPUT)
    qualification_before = forms.DateField(
        label=gettext_lazy("A qualification ends before"), required=False, widget=DATE_INPUT
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        everyone = [("", _("All"))]
        self.fields["team"].choices = everyone + [(team.pk, team.name) for team in teams]
        self.fields["status"].choices = everyone + list(Volunteer.Status.choices)
        self.fields["category"].choices = everyone + [(c.code, c.display_name) for c in VolunteerCategory.objects.all()]
        self.fields["skill"].choices = everyone + [(s.code, s.display_name) for s in Skill.objects.all()]


def _teams_for(user):
    scope = selectors.volunteers_visible_q(user)
    return Team.objects.filter(pk__in=Volunteer.objects.filter(scope).exclude(team=None).values("team_id")).order_by(
        "name"
    )


@list_required
def volunteer_list(request):
    form = VolunteerFilterForm(request.GET or None, teams=_teams_for(request.user))
    filters = selectors.VolunteerFilters()
    params: dict = {}
    if form.is_bound and form.is_valid():
        params = {key: value for key, value in form.cleaned_data.items() if value not in (None, "")}
        filters = selectors.VolunteerFilters(**params)
    queryset = selectors.volunteer_list(user=request.user, filters=filters)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    for volunteer in page.object_list:
        volunteer.shown_mobile = volunteer_mobile_display(request.user, volunteer)
    query = urlencode({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in params.items()})
    api = reverse("volunteer-list")
    context = {
        "form": form,
        "page": page,
        "today": timezone.localdate(),
        "may_manage": selectors.may_manage_volunteers(request.user),
        "export_xlsx": f"{api}?{query}&export=xlsx" if query else f"{api}?export=xlsx",
        "export_csv": f"{api}?{query}&export=csv" if query else f"{api}?export=csv",
    }
    return render(request, "records/volunteer_list.html", context)


# --- The edit page ------------------------------------------------------------------------------


class VolunteerEditForm(forms.Form):
    mobile = forms.CharField(label=gettext_lazy("Mobile number"), max_length=11)
    email = forms.EmailField(label=gettext_lazy("Email"), required=False)
    emergency_contact_name = forms.CharField(label=gettext_lazy("Emergency contact"), required=False, max_length=50)
    emergency_contact_mobile = forms.CharField(
        label=gettext_lazy("Emergency contact's mobile"), required=False, max_length=11
    )
    organization = forms.TypedChoiceField(label=gettext_lazy("Organization"), coerce=int)
    team = forms.TypedChoiceField(label=gettext_lazy("Team"), required=False, coerce=int, empty_value=None)
    categories = forms.MultipleChoiceField(
        label=gettext_lazy("Categories"), required=False, widget=forms.CheckboxSelectMultiple
    )
    skills = forms.MultipleChoiceField(
        label=gettext_lazy("Skills"), required=False, widget=forms.CheckboxSelectMultiple
    )
    insurance_valid_until = forms.DateField(
        label=gettext_lazy("Accident insurance valid until"), required=False, widget=DATE_INPUT
    )
    insurer = forms.CharField(label=gettext_lazy("Insurer"), required=False, max_length=100)
    insurance_policy_number = forms.CharField(label=gettext_lazy("Policy number"), required=False, max_length=64)
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=Volunteer.Status.choices)
    suspended_reason = forms.CharField(label=gettext_lazy("Reason for the suspension"), required=False, max_length=200)
    release_places = forms.BooleanField(
        label=gettext_lazy("Release the volunteer's upcoming places (the waitlist moves up; everyone is told)"),
        required=False,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        organizations = organization_subtree(user).order_by("path")
        self.fields["organization"].choices = [(o.pk, f"{'· ' * o.depth}{o.display_name}") for o in organizations]
        self.fields["team"].choices = [("", _("No team"))] + [
            (t.pk, f"{t.name} · {t.organization.display_name}")
            for t in Team.objects.filter(organization__in=organizations).select_related("organization")
        ]
        self.fields["categories"].choices = [(c.code, c.display_name) for c in VolunteerCategory.objects.all()]
        self.fields["skills"].choices = [(s.code, s.display_name) for s in Skill.objects.all()]


def _edit_initial(volunteer: Volunteer) -> dict:
    return {
        "mobile": volunteer.mobile,
        "email": volunteer.user.email,
        "emergency_contact_name": volunteer.emergency_contact_name,
        "emergency_contact_mobile": volunteer.emergency_contact_mobile,
        "organization": volunteer.organization_id,
        "team": volunteer.team_id,
        "categories": [c.code for c in volunteer.categories.all()],
        "skills": [s.code for s in volunteer.skills.all()],
        "insurance_valid_until": volunteer.insurance_valid_until,
        "insurer": volunteer.insurer,
        "insurance_policy_number": volunteer.insurance_policy_number,
        "status": volunteer.status,
        "suspended_reason": volunteer.suspended_reason,
    }


class QualificationForm(forms.Form):
    qualification_type = forms.ChoiceField(label=gettext_lazy("Qualification"))
    valid_until = forms.DateField(label=gettext_lazy("Valid until"), required=False, widget=DATE_INPUT)
    certificate_number = forms.CharField(label=gettext_lazy("Certificate number"), required=False, max_length=64)
    proof = forms.FileField(
        label=gettext_lazy("Proof (photo or PDF)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
    )
    release_places = forms.BooleanField(
        label=gettext_lazy("Release the places listed above (the waitlist moves up; everyone is told)"),
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["qualification_type"].choices = [(q.code, q.display_name) for q in QualificationType.objects.all()]


def _managed_volunteer(request, pk: int) -> Volunteer:
    volunteer = selectors.volunteer_for(user=request.user, pk=pk)
    if volunteer is None or not records.staff_may_edit(request.user, volunteer):
        raise Http404
    return volunteer


@manage_required
def volunteer_edit(request, pk: int):
    volunteer = _managed_volunteer(request, pk)
    form = VolunteerEditForm(request.POST or None, user=request.user, initial=_edit_initial(volunteer))
    places = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        release = data.pop("release_places")
        initial = _edit_initial(volunteer)
        changes = {name: value for name, value in data.items() if value != initial.get(name)}
        # Lists compare as sets; an unchanged list is left alone.
        for name in ("categories", "skills"):
            if name in changes and sorted(changes[name]) == sorted(initial[name]):
                changes.pop(name)
        try:
            result = records.volunteer_record_update(
                actor=request.user, volunteer_id=volunteer.pk, changes=changes, release_places=release
            )
        except ServiceError as error:
            places = _places(error)
            messages.error(request, _refusal(error))
        else:
            if result.released:
                messages.success(
                    request,
                    _("Saved. %(count)s upcoming places released; the volunteer and the waitlist have been told.")
                    % {"count": result.released},
                )
            else:
                messages.success(request, _("Saved."))
            return redirect("records-volunteer-edit", pk=volunteer.pk)
    return _edit_page(request, volunteer, form=form, places=places)


def _edit_page(request, volunteer: Volunteer, *, form=None, qualification_form=None, places=(), places_for="record"):
    """The edit page; ``places`` a refused change would take away, listed above the form that
    made it (``places_for``: the record or the qualification), which then offers their release."""
    context = {
        "volunteer": volunteer,
        "mobile": volunteer_mobile_display(request.user, volunteer),
        "form": form or VolunteerEditForm(user=request.user, initial=_edit_initial(volunteer)),
        "places": places,
        "places_for": places_for if places else "",
        "qualification_form": qualification_form or QualificationForm(),
        "qualifications": volunteer.qualifications.all(),
        "requests": selectors.change_requests_of(volunteer=volunteer)[:10],
    }
    return render(request, "records/volunteer_edit.html", context)


@require_POST
@manage_required
def qualification_add(request, pk: int):
    volunteer = _managed_volunteer(request, pk)
    form = QualificationForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a qualification, and give a real date."))
        return redirect("records-volunteer-edit", pk=volunteer.pk)
    try:
        qualification = records.qualification_record(
            actor=request.user,
            volunteer_id=volunteer.pk,
            qualification_type_code=form.cleaned_data["qualification_type"],
            valid_until=form.cleaned_data["valid_until"],
            certificate_number=form.cleaned_data["certificate_number"],
            proof=form.cleaned_data["proof"] or None,
            release_places=form.cleaned_data["release_places"],
        )
    except ServiceError as error:
        messages.error(request, _refusal(error))
        places = _places(error)
        if places:  # shown, with the release offered beside the qualification's form
            return _edit_page(request, volunteer, qualification_form=form, places=places, places_for="qualification")
    else:
        if qualification.released_places:
            messages.success(
                request,
                _(
                    "Qualification saved. %(count)s upcoming places released; the volunteer and the waitlist have been told."
                )
                % {"count": qualification.released_places},
            )
        else:
            messages.success(request, _("Qualification saved."))
    return redirect("records-volunteer-edit", pk=volunteer.pk)


class QualificationRemoveForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand: the qualification is removed from the record and cannot be restored.")
    )
    release_places = forms.BooleanField(
        label=gettext_lazy("Release the places listed above (the waitlist moves up; everyone is told)"),
        required=False,
    )


@manage_required
def qualification_remove(request, pk: int, qualification_pk: int):
    """Remove a qualification after a confirmation; when the volunteer would lose upcoming places
    by it, the page lists them and asks again, with their release."""
    volunteer = _managed_volunteer(request, pk)
    qualification = (
        Qualification.objects.select_related("qualification_type").filter(pk=qualification_pk, volunteer=volunteer)
    ).first()
    if qualification is None:
        raise Http404
    form = QualificationRemoveForm(request.POST or None)
    places = []
    if request.method == "POST" and form.is_valid():
        try:
            released = records.qualification_remove(
                actor=request.user,
                volunteer_id=volunteer.pk,
                qualification_id=qualification.pk,
                release_places=form.cleaned_data["release_places"],
            )
        except ServiceError as error:
            if error.code == "not_found":
                raise Http404 from error
            places = _places(error)
            messages.error(request, _refusal(error))
        else:
            if released:
                messages.success(
                    request,
                    _(
                        "Qualification removed. %(count)s upcoming places released; the volunteer and the waitlist "
                        "have been told."
                    )
                    % {"count": released},
                )
            else:
                messages.success(request, _("Qualification removed."))
            return redirect("records-volunteer-edit", pk=volunteer.pk)
    context = {"volunteer": volunteer, "qualification": qualification, "form": form, "places": places}
    return render(request, "records/qualification_remove.html", context)


# --- The change-request queue --------------------------------------------------------------------


class RejectForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


@manage_required
def change_request_queue(request):
    queue = selectors.change_requests_queue(user=request.user)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "records/change_requests.html", {"page": page, "reject_form": RejectForm()})


@require_POST
@manage_required
def change_request_approve(request, pk: int):
    """Approve; when the date approved would cost the volunteer upcoming places, the page lists
    them and asks again, with their release."""
    release = request.POST.get("release_places") == "on"
    try:
        change = records.change_request_approve(actor=request.user, request_id=pk, release_places=release)
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404 from error
        places = _places(error)
        if places:
            change = selectors.change_requests_queue(user=request.user).filter(pk=pk).first()
            if change is not None:
                context = {"change": change, "places": places}
                return render(request, "records/change_request_approve.html", context)
        messages.error(request, _refusal(error))
    else:
        if change.released_places:
            messages.success(
                request,
                _(
                    "Approved; the volunteer has been told. %(count)s upcoming places released; the waitlist has been told."
                )
                % {"count": change.released_places},
            )
        else:
            messages.success(request, _("Approved; the volunteer has been told."))
    return redirect("records-change-requests")


@require_POST
@manage_required
def change_request_reject(request, pk: int):
    form = RejectForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        records.change_request_reject(actor=request.user, request_id=pk, reason=reason)
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404 from error
        messages.error(request, _refusal(error))
    else:
        messages.success(request, _("Rejected; the volunteer has been told why."))
    return redirect("records-change-requests")


# --- Eligibility at risk ---------------------------------------------------------------------------


@manage_required
def eligibility_at_risk(request):
    rows = selectors.eligibility_at_risk(user=request.user)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "records/at_risk.html", {"page": page})


# --- The volunteer's own requests and account ------------------------------------------------------


class ChangeRequestForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What"), choices=ChangeRequest.Kind.choices)
    qualification_type = forms.ChoiceField(label=gettext_lazy("Qualification"), required=False)
    valid_until = forms.DateField(label=gettext_lazy("Valid until"), widget=DATE_INPUT)
    certificate_number = forms.CharField(label=gettext_lazy("Certificate number"), required=False, max_length=64)
    insurer = forms.CharField(label=gettext_lazy("Insurer"), required=False, max_length=100)
    policy_number = forms.CharField(label=gettext_lazy("Policy number"), required=False, max_length=64)
    proof = forms.FileField(
        label=gettext_lazy("Proof (photo or PDF)"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["qualification_type"].choices = [("", "—")] + [
            (q.code, q.display_name) for q in QualificationType.objects.all()
        ]


@volunteer_required
def my_requests(request):
    form = ChangeRequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            records.change_request_submit(
                user=request.user,
                kind=data["kind"],
                valid_until=data["valid_until"],
                proof=data["proof"],
                qualification_type_code=data["qualification_type"],
                certificate_number=data["certificate_number"],
                insurer=data["insurer"],
                policy_number=data["policy_number"],
            )
        except ServiceError as error:
            messages.error(request, _refusal(error))
        else:
            messages.success(request, _("Sent. Staff will check your proof; you will get a message either way."))
            return redirect("records-my-requests")
    rows = selectors.change_requests_of(volunteer=request.volunteer)
    return render(request, "records/my_requests.html", {"form": form, "rows": rows})


class OwnRecordForm(ContactForm):
    release_places = forms.BooleanField(
        label=gettext_lazy("Give up the places listed above (the next person on the waitlist gets them)"),
        required=False,
    )


@volunteer_required
def contact_edit(request):
    """The volunteer's own email, emergency contact and skills. A skill removed that a place of
    theirs needs is refused with those places listed, then offered with their release."""
    volunteer = request.volunteer
    initial = {
        "email": request.user.email,
        "emergency_contact_name": volunteer.emergency_contact_name,
        "emergency_contact_mobile": volunteer.emergency_contact_mobile,
        "skills": list(volunteer.skills.values_list("code", flat=True)),
    }
    form = OwnRecordForm(request.POST or None, initial=initial)
    places = []
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        release = changes.pop("release_places")
        try:
            result = records.volunteer_own_update(user=request.user, changes=changes, release_places=release)
        except ServiceError as error:
            places = _places(error)
            if places:
                messages.error(
                    request,
                    _(
                        "Without the skills you removed you could no longer hold the places listed below: their posts ask for them."
                    ),
                )
            else:
                for field, problems in error.details.items():
                    form.add_error(field if field in form.fields else None, [str(p) for p in problems])
                if not error.details:
                    form.add_error(None, str(error.message))
        else:
            if result.released:
                messages.success(
                    request,
                    _("Saved. You gave up %(count)s upcoming places; the waitlist has been told.")
                    % {"count": result.released},
                )
            else:
                messages.success(request, _("Your details have been saved."))
            return redirect("profile")
    return render(request, "volunteers/contact.html", {"form": form, "places": places})


class AccountDeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand: my personal data is deleted for good, my service hours stay counted.")
    )
    password = forms.CharField(
        label=gettext_lazy("Password"), required=False, widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )


@volunteer_required
def account_delete(request):
    """Delete the volunteer's personal data after a confirmation (and the password, if they set one)."""
    from communities.services.privacy import volunteer_anonymise

    has_password = request.user.has_usable_password()
    form = AccountDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if (
            has_password
            and authenticate(request, username=request.user.get_username(), password=form.cleaned_data["password"])
            is None
        ):
            form.add_error("password", _("The password is not correct."))
        else:
            volunteer_anonymise(volunteer=request.volunteer, actor=request.user)
            logout(request)
            messages.success(request, _("Your personal data has been deleted."))
            return redirect("login")
    return render(request, "records/account_delete.html", {"form": form, "has_password": has_password})


# --- Proof files -----------------------------------------------------------------------------------


@login_required
def proof_file(request, kind: str, pk: int):
    """A proof file, to those who may see its volunteer (and the volunteer); never cached."""
    if kind == "qualification":
        owner = Qualification.objects.select_related("volunteer").filter(pk=pk).first()
    elif kind == "request":
        owner = ChangeRequest.objects.select_related("volunteer").filter(pk=pk).first()
    else:
        raise Http404
    if owner is None or not owner.proof or not selectors.proof_visible_to(request.user, owner.volunteer):
        raise Http404
    try:
        handle = owner.proof.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    head = handle.read(16)
    handle.seek(0)
    found = records.proof_kind(head)
    if found is None:
        handle.close()
        raise Http404
    extension, content_type = found
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="proof-{kind}-{pk}.{extension}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; plugin-types application/pdf; sandbox"
    return response


@volunteer_required
def mobile_change(request):
    """A new mobile number: a code is texted to it, and the number changes when it comes back."""
    form = MobileChangeForm(request.POST or None)
    code_sent = False
    if request.method == "POST" and form.is_valid():
        mobile, code = form.cleaned_data["mobile"], form.cleaned_data["code"]
        try:
            if code:
                records.mobile_change_confirm(user=request.user, mobile=mobile, code=code)
                messages.success(
                    request, _("Your mobile number has been changed. Log in with the new number from now on.")
                )
                return redirect("profile")
            volunteer_services.mobile_change_code_send(user=request.user, mobile=mobile, ip=client_ip(request))
            code_sent = True
        except ServiceError as error:
            form.add_error("code" if error.code == "login_code_invalid" else "mobile", str(error.message))
            code_sent = bool(code)
    return render(request, "volunteers/mobile.html", {"form": form, "code_sent": code_sent})
