"""Access rules for the server-rendered pages."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from volunteers.selectors import user_volunteer


def role_required(allowed, message):
    """Log-in required, and ``allowed(user)``; anyone else gets 403 with ``message``."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not allowed(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorate


def volunteer_required(view):
    """Log-in required, and a volunteer profile; the view finds it as ``request.volunteer``."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        volunteer = user_volunteer(request.user)
        if volunteer is None:
            raise PermissionDenied(_("Only registered volunteers can use this page."))
        request.volunteer = volunteer
        return view(request, *args, **kwargs)

    return login_required(wrapper)
