"""config/form_renderer.py writes the plain widgets exactly as Django's templates draw them."""

from __future__ import annotations

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.forms.utils import ErrorList
from django.utils.safestring import mark_safe

from config.form_renderer import WRITERS, FormRenderer

OURS, DJANGOS = FormRenderer(), DjangoTemplates()

ATTRS = [
    {},
    {"id": "id_x", "required": True, "disabled": False},
    {"class": 'a "quoted" <b> & c', "maxlength": 6, "inputmode": "numeric", "aria-describedby": "id_x_helptext"},
    {"pattern": "[0-9]{6}", "autocomplete": "one-time-code", "data-none": None, "autofocus": True},
]
VALUES = [None, "", "plain", "<script>alert(1)</script> & 'quotes\"", 42, 3.5, mark_safe("<b>safe</b>")]
INPUTS = [
    forms.TextInput,
    forms.NumberInput,
    forms.EmailInput,
    forms.URLInput,
    forms.HiddenInput,
    forms.DateInput,
    forms.DateTimeInput,
    forms.TimeInput,
    forms.SearchInput,
    forms.TelInput,
    forms.ColorInput,
]


def both(widget, name, value, attrs):
    return widget.render(name, value, attrs, renderer=OURS), widget.render(name, value, attrs, renderer=DJANGOS)


@pytest.mark.parametrize("widget_class", INPUTS)
@pytest.mark.parametrize("attrs", ATTRS)
@pytest.mark.parametrize("value", VALUES)
def test_inputs_as_djangos_templates_draw_them(widget_class, attrs, value):
    ours, djangos = both(widget_class(attrs={"placeholder": "年-月-日"}), "field<name>", value, dict(attrs))
    assert ours == djangos


@pytest.mark.parametrize("value", [True, False, None, "on", ""])
@pytest.mark.parametrize("attrs", ATTRS)
def test_checkboxes_and_passwords_as_django_draws_them(value, attrs):
    ours, djangos = both(forms.CheckboxInput(), "agree", value, dict(attrs))
    assert ours == djangos
    ours, djangos = both(forms.PasswordInput(render_value=True), "secret", value, dict(attrs))
    assert ours == djangos


CHOICES = [
    [],
    [("", "全部街道"), (1, "观前街道"), (2, "平江街道 <b>&</b>")],
    [("", "All"), ("东城区", [(1, "一"), (2, "二")]), ("西城 & <i>", [(3, "三")]), (4, "四")],
]


@pytest.mark.parametrize("choices", CHOICES)
@pytest.mark.parametrize("value", [None, "", 1, "2", 3, [1, 3]])
@pytest.mark.parametrize("attrs", ATTRS)
@pytest.mark.parametrize("widget_class", [forms.Select, forms.SelectMultiple])
def test_selects_with_and_without_groups(widget_class, choices, value, attrs):
    ours, djangos = both(widget_class(choices=choices), "street", value, dict(attrs))
    assert ours == djangos


@pytest.mark.parametrize("value", [None, True, False, "unknown", "true", "2"])
def test_yes_no_selects(value):
    ours, djangos = both(forms.NullBooleanSelect(), "answer", value, {"id": "id_answer"})
    assert ours == djangos


def test_a_select_whose_options_have_their_own_template_is_left_to_django():
    class Fancy(forms.Select):
        option_template_name = "django/forms/widgets/input_option.html"

    widget = Fancy(choices=[(1, "a")])
    assert WRITERS["django/forms/widgets/select.html"](widget.get_context("s", 1, {})) is None
    assert both(widget, "s", 1, {})[0] == both(widget, "s", 1, {})[1]


@pytest.mark.parametrize("errors", [[], ["必填项。"], ["<b>bad</b> & worse", "second"], [mark_safe("<em>kept</em>")]])
@pytest.mark.parametrize("field_id", [None, "id_code"])
def test_error_lists(errors, field_id):
    ours = ErrorList(errors, field_id=field_id, renderer=OURS)
    djangos = ErrorList(errors, field_id=field_id, renderer=DJANGOS)
    assert str(ours) == str(djangos)
    assert str(ErrorList(errors, error_class="nonfield", renderer=OURS)) == str(
        ErrorList(errors, error_class="nonfield", renderer=DJANGOS)
    )


def test_a_whole_form_draws_the_same_both_ways():
    class Form(forms.Form):
        name = forms.CharField(max_length=10, help_text="名字")
        when = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
        street = forms.TypedChoiceField(choices=CHOICES[2], coerce=int, required=False)
        agree = forms.BooleanField()
        notes = forms.CharField(widget=forms.Textarea)  # not written here: Django's template

    for data in (None, {"name": "x" * 11, "street": "9", "when": "nope"}):
        ours, djangos = Form(data, renderer=OURS), Form(data, renderer=DJANGOS)
        ours.is_valid() if data else None
        djangos.is_valid() if data else None
        assert str(ours) == str(djangos)
        for name in ours.fields:
            assert str(ours[name]) == str(djangos[name])
            assert str(ours[name].errors) == str(djangos[name].errors)


def test_it_is_the_projects_renderer(settings):
    from django.forms.renderers import get_default_renderer

    assert settings.FORM_RENDERER == "config.form_renderer.FormRenderer"
    get_default_renderer.cache_clear()
    assert isinstance(get_default_renderer(), FormRenderer)
