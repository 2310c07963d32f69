"""Forms for the shift pages: the browse filters and the check-in code."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from communities.models import PostType, Street
from communities.selectors import shifts as shift_selectors
from config.params import as_id

ORDER_NEAR, ORDER_SOON = "near", "soon"


class ShiftFilterForm(forms.Form):
    """The browse page's GET filters; every field is optional.

    District and street are lists (a city has a few districts and some dozens of streets, read
    in one query); a chosen district narrows the streets to its own.
    """

    district = forms.TypedChoiceField(label=_("District"), required=False, coerce=int, empty_value=None)
    street = forms.TypedChoiceField(label=_("Street"), required=False, coerce=int, empty_value=None)
    order = forms.ChoiceField(
        label=_("Order"),
        required=False,
        choices=[(ORDER_NEAR, _("Nearest first")), (ORDER_SOON, _("Soonest first"))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        streets = list(Street.objects.select_related("district").order_by("district__code", "district_id", "name"))
        districts = list({street.district_id: street.district for street in streets}.values())
        self.fields["district"].choices = [("", _("All districts"))] + [(d.pk, d.display_name) for d in districts]
        chosen = as_id(self.data.get("district") or "")
        if chosen is not None:
            choices = [(s.pk, s.display_name) for s in streets if s.district_id == chosen]
        else:
            choices = [
                (district.display_name, [(s.pk, s.display_name) for s in streets if s.district_id == district.pk])
                for district in districts
            ]
        self.fields["street"].choices = [("", _("All streets")), *choices]

    # Free text, not a list: a city has thousands of communities, too many for one <select>.
    community = forms.CharField(
        label=_("Community"),
        required=False,
        max_length=100,
        help_text=_("Name or code; empty for all communities."),
    )
    date = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    post_type = forms.ModelChoiceField(
        label=_("Duty"),
        queryset=PostType.objects.order_by("code"),
        required=False,
        empty_label=_("All duties"),
    )

    def clean_community(self) -> list[int] | None:
        """The communities the text names: an id, an exact code, or part of a name (50 at most)."""
        text = (self.cleaned_data.get("community") or "").strip()
        if not text:
            return None
        pk = as_id(text)
        if pk is not None and shift_selectors.community_list().filter(pk=pk).exists():
            return [pk]
        exact = list(shift_selectors.community_list().filter(code__iexact=text).values_list("pk", flat=True))
        if exact:
            return exact
        return list(shift_selectors.community_list(q=text).values_list("pk", flat=True)[:50])

    has_space = forms.BooleanField(label=_("Only shifts with free places"), required=False)
    eligible = forms.BooleanField(label=_("Only shifts I am eligible for"), required=False)


class CheckInForm(forms.Form):
    assignment = forms.IntegerField(widget=forms.HiddenInput)
    code = forms.RegexField(
        label=_("Check-in code"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits shown at the post.")},
        help_text=_("The 6 digits under the QR code at your post."),
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "6", "pattern": "[0-9]{6}"}
        ),
    )
    latitude = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-90, max_value=90)
    longitude = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-180, max_value=180)

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip()
