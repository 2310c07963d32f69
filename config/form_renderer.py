"""Django's form renderer, with the plain widgets written in Python rather than through templates.

Every field on a page is drawn through Django's widget templates: an ``<input>`` is one template
including another for its attributes, a ``<select>`` includes one template per option, and each
field's (usually empty) error list is two more. On the shift list, the volunteers' most visited
page, its eight filters cost more CPU than the twenty shifts below them (docs/performance.md,
"pages next to their API twins"). The templates below are written here as functions giving the
same markup, character for character (``tests/test_form_renderer.py`` renders each widget both
ways); every other template - and any widget whose template a project overrides - goes through
Django's renderer as before.
"""

from __future__ import annotations

from collections.abc import Callable

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

_WIDGETS = "django/forms/widgets/"


def _text(value) -> str:
    """``{{ value|stringformat:'s' }}``: ``str`` of the value, escaped unless marked safe."""
    return conditional_escape(value if isinstance(value, SafeString) else str(value))


def _attrs(attrs: dict) -> str:
    """``django/forms/widgets/attrs.html``: in the dict's order, False left out, True bare."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {_text(name)}")
        else:
            out.append(f' {_text(name)}="{_text(value)}"')
    return "".join(out)


def _input(context: dict) -> str:
    widget = context["widget"]
    value = widget["value"]
    shown = f' value="{_text(value)}"' if value is not None else ""
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'


def _option(option: dict) -> str:
    return f'<option value="{_text(option["value"])}"{_attrs(option["attrs"])}>{_text(option["label"])}</option>'


def _select(context: dict) -> str:
    widget = context["widget"]
    out = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, choices, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in choices:
            if option.get("template_name") != _WIDGETS + "select_option.html":
                return None  # a custom option template: Django's renderer draws the whole select
            out.append(f"\n  {_option(option)}\n")
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


def _errors(context: dict) -> str:
    errors = context["errors"]
    if not errors:
        return ""
    field_id = getattr(errors, "field_id", None)
    shown_id = f' id="{_text(field_id)}_error"' if field_id else ""
    items = "".join(f"<li>{_text(error)}</li>" for error in errors)
    return f'<ul class="{_text(context["error_class"])}"{shown_id}>{items}</ul>'


# Each template that only includes input.html (Django 5.2's widgets), select.html, and the
# default error list.
WRITERS: dict[str, Callable[[dict], str | None]] = {
    **{
        f"{_WIDGETS}{name}.html": _input
        for name in (
            "input",
            "text",
            "number",
            "email",
            "url",
            "password",
            "hidden",
            "date",
            "datetime",
            "time",
            "checkbox",
            "search",
            "tel",
            "color",
        )
    },
    f"{_WIDGETS}select.html": _select,
    "django/forms/errors/list/default.html": _errors,
    "django/forms/errors/list/ul.html": _errors,
}


class FormRenderer(DjangoTemplates):
    """``FORM_RENDERER``: the templates in ``WRITERS`` written in Python, the rest as Django does."""

    def render(self, template_name, context, request=None):
        write = WRITERS.get(template_name)
        if write is not None:
            written = write(context)
            if written is not None:
                return mark_safe(written)  # noqa: S308 - every value above is escaped
        return super().render(template_name, context, request=request)
