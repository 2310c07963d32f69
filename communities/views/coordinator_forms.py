"""Forms for the coordinator pages: they parse and label; the services decide."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

WEEKDAYS = [
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
    (7, _("Sunday")),
]
_SLOT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~至]\s*(\d{1,2}):(\d{2})\s*$")


class RotaForm(forms.Form):
    post = forms.ChoiceField(label=_("Post"))
    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    slots = forms.CharField(
        label=_("Daily time slots"),
        help_text=_("One per line, like 08:00-12:00. An end before the start runs past midnight."),
        widget=forms.Textarea(attrs={"rows": 3}),
        initial="08:00-12:00\n13:00-17:00",
    )
    capacity = forms.IntegerField(label=_("Volunteers per shift"), min_value=1, max_value=1000, initial=3)
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave all unticked for every day."),
    )

    def __init__(self, *args, posts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["post"].choices = [(post.pk, f"{post.name} · {post.post_type.display_name}") for post in posts]

    def clean_slots(self) -> list[tuple[time, time]]:
        slots = []
        for line in self.cleaned_data["slots"].splitlines():
            if not line.strip():
                continue
            match = _SLOT.match(line)
            if not match:
                raise forms.ValidationError(_("Write each slot as HH:MM-HH:MM."))
            h1, m1, h2, m2 = (int(part) for part in match.groups())
            if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
                raise forms.ValidationError(_("Write each slot as HH:MM-HH:MM."))
            slots.append((time(h1, m1), time(h2, m2)))
        if not slots:
            raise forms.ValidationError(_("Give at least one time slot."))
        return slots


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200, help_text=_("Kept in the audit trail."))


class NoShowForm(ReasonForm):
    early = forms.BooleanField(label=_("Mark early, before the grace (say why in the reason)"), required=False)


class HoursAdjustForm(ReasonForm):
    """Credited time in hours and minutes, as the pages show it."""

    hours = forms.IntegerField(label=_("Hours"), min_value=0, max_value=24)
    minutes = forms.IntegerField(label=_("Minutes"), min_value=0, max_value=59, required=False)

    def credited_minutes(self) -> int:
        return self.cleaned_data["hours"] * 60 + (self.cleaned_data.get("minutes") or 0)


class ShiftEditForm(ReasonForm):
    """A shift's day, times, capacity and notes; an end before the start runs past midnight."""

    day = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    start = forms.TimeField(label=_("Starts"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(label=_("Ends"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    capacity = forms.IntegerField(label=_("Volunteers per shift"), min_value=1, max_value=1000)
    notes = forms.CharField(label=_("Notes"), max_length=200, required=False)

    field_order = ["day", "start", "end", "capacity", "notes", "reason"]

    def __init__(self, *args, times_fixed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = False
        if times_fixed:
            # Attendance is measured against these times: shown read-only (and still sent, so a
            # move is refused by coordination.shift_update, not dropped).
            for name in ("day", "start", "end"):
                self.fields[name].widget.attrs["readonly"] = True
            self.fields["end"].help_text = _("The times are fixed: attendance is already recorded on this shift.")

    def times(self):
        day, start, end = self.cleaned_data["day"], self.cleaned_data["start"], self.cleaned_data["end"]
        starts_at = timezone.make_aware(datetime.combine(day, start))
        end_day = day if end > start else day + timedelta(days=1)
        return starts_at, timezone.make_aware(datetime.combine(end_day, end))


class ShiftCancelForm(ReasonForm):
    confirm = forms.BooleanField(label=_("Yes, cancel this shift and tell its volunteers"))


class AssignForm(forms.Form):
    volunteer_ids = forms.TypedMultipleChoiceField(
        label=_("Volunteers"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    volunteer_number = forms.CharField(
        label=_("Or a volunteer number"), required=False, max_length=20, help_text=_("For someone not on the list.")
    )
    override_reason = forms.CharField(
        label=_("Reason for an exception"),
        required=False,
        max_length=200,
        help_text=_("Only to assign someone who misses an eligibility rule; it is recorded."),
    )

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["volunteer_ids"].choices = [(v.pk, v.real_name) for v in candidates]

    def clean(self):
        data = super().clean()
        if not data.get("volunteer_ids") and not data.get("volunteer_number"):
            raise forms.ValidationError(_("Choose at least one volunteer."))
        return data


class DispatchForm(forms.Form):
    # Chosen from the communities a name search found (``q``): never a code to know by heart.
    community = forms.TypedChoiceField(
        label=_("Community"),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose a community.")},
    )
    team = forms.TypedChoiceField(label=_("Send a team"), coerce=int, required=False, empty_value=None)
    count = forms.IntegerField(
        label=_("Or a number of reserve volunteers"), min_value=1, max_value=5000, required=False
    )
    categories = forms.MultipleChoiceField(label=_("Categories"), required=False, widget=forms.CheckboxSelectMultiple)
    skills = forms.MultipleChoiceField(label=_("Skills"), required=False, widget=forms.CheckboxSelectMultiple)
    report_at = forms.DateTimeField(
        label=_("Report from"),
        required=False,
        help_text=_("When the volunteers are to report at the community; empty: at once."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, communities=(), teams=(), categories=(), skills=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].choices = [(c.pk, community_label(c)) for c in communities]
        self.fields["team"].choices = [("", "—"), *[(t.pk, f"{t.name} · {t.organization}") for t in teams]]
        self.fields["categories"].choices = [(c.code, c.display_name) for c in categories]
        self.fields["skills"].choices = [(s.code, s.display_name) for s in skills]

    def clean(self):
        data = super().clean()
        if bool(data.get("team")) == bool(data.get("count")):
            raise forms.ValidationError(_("Choose a team or give a number of volunteers, not both."))
        return data


def community_label(community) -> str:
    """A community as a person picks it: its name, then where it is."""
    street = community.street
    return f"{community.display_name} · {street.display_name} · {street.district.display_name}"


class RecallForm(forms.Form):
    reason = forms.CharField(label=_("Reason (kept in the audit trail)"), max_length=200, required=False)
    confirm = forms.BooleanField(
        label=_("I understand that this cannot be undone."),
        error_messages={"required": _("Tick the box to confirm.")},
    )
