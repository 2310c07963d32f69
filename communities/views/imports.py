"""Imports from the committee's own pages: upload a file, read the dry run's report row by row
(what each row would create or change, before → after), then confirm. The confirmation applies
exactly what the report showed (``import_run``'s ``expected_plan``), or nothing.

The uploaded file waits for the confirmation in the cache, under a random token bound to the
person who uploaded it, for ``UPLOAD_KEPT_SECONDS``.
"""

from __future__ import annotations

import secrets

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from communities.services.imports import import_allowed, import_run
from config.errors import ServiceError
from volunteers.decorators import role_required
from volunteers.models import ImportBatch
from volunteers.selectors import is_committee_staff

staff_required = role_required(is_committee_staff, gettext_lazy("Only league committee staff can use this page."))

UPLOAD_KEPT_SECONDS = 60 * 60


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=ImportBatch.Kind.choices)
    file = forms.FileField(label=gettext_lazy("File (.xlsx or .csv)"))


class ConfirmForm(forms.Form):
    token = forms.CharField(max_length=64)
    plan = forms.CharField(max_length=64)


def _cache_key(user, token: str) -> str:
    return f"import-upload:{user.pk}:{token}"


def _report(request, *, kind: str, file_name: str, content: bytes, form=None):
    """Dry-run the file and show what it would do; keep it for the confirmation when it can go in."""
    try:
        result = import_run(kind=kind, file_name=file_name, content=content, actor=request.user, dry_run=True)
    except ServiceError as error:
        messages.error(request, str(error.message))
        return redirect("committee-imports")
    token = ""
    if result.ok and (result.created or result.updated):
        token = secrets.token_urlsafe(24)
        cache.set(
            _cache_key(request.user, token),
            {"kind": kind, "file_name": file_name, "content": content},
            UPLOAD_KEPT_SECONDS,
        )
    return render(
        request,
        "committee/imports.html",
        {
            "form": form or UploadForm(initial={"kind": kind}),
            "result": result,
            "file_name": file_name,
            "token": token,
            "kinds": ImportBatch.Kind.choices,
        },
    )


@staff_required
def imports(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["kind"]
        if not import_allowed(actor=request.user, kind=kind):
            messages.error(request, str(ServiceError("permission_denied").message))
            return redirect("committee-imports")
        upload = form.cleaned_data["file"]
        # Read within the import's own bound (one byte past it is enough to refuse the file).
        content = upload.read(settings.IMPORT_MAX_BYTES + 1)
        return _report(request, kind=kind, file_name=upload.name, content=content, form=form)
    recent = ImportBatch.objects.filter(created_by=request.user).order_by("-created_at")[:10]
    return render(
        request,
        "committee/imports.html",
        {"form": form, "result": None, "recent": recent, "kinds": ImportBatch.Kind.choices},
    )


@require_POST
@staff_required
def imports_confirm(request):
    form = ConfirmForm(request.POST)
    kept = cache.get(_cache_key(request.user, form.data.get("token", ""))) if form.is_valid() else None
    if kept is None:
        messages.error(request, _("The checked file is no longer kept; upload it again."))
        return redirect("committee-imports")
    try:
        result = import_run(
            kind=kept["kind"],
            file_name=kept["file_name"],
            content=kept["content"],
            actor=request.user,
            expected_plan=form.cleaned_data["plan"],
        )
    except ServiceError as error:
        if error.code != "import_plan_changed":
            raise
        cache.delete(_cache_key(request.user, form.cleaned_data["token"]))
        messages.error(request, str(error.message))
        return _report(request, kind=kept["kind"], file_name=kept["file_name"], content=kept["content"])
    cache.delete(_cache_key(request.user, form.cleaned_data["token"]))
    if not result.ok:
        messages.error(request, _("The file has errors; nothing was imported."))
        return _report(request, kind=kept["kind"], file_name=kept["file_name"], content=kept["content"])
    messages.success(
        request,
        _("Imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
        % {"created": result.created, "updated": result.updated, "unchanged": result.unchanged},
    )
    return redirect("committee-imports")
