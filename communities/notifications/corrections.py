"""Messages about a reported error in a service record (``communities.services.corrections``):
to the community's coordinators when a volunteer reports one, and to the volunteer when it is
answered. Through the outbox like a dispatch's (``outbox._deployment_rows``): one row per
channel, keyed ``c<correction>:<kind>:<channel>:u<user>`` so creating one twice creates it once,
the SMS parameters fixed when it is created. No parameter holds a name, a number or a link.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from communities.models import RecordCorrection
from communities.notifications import outbox
from volunteers.selectors import volunteer_message_language

CORRECTION_REPORTED = "correction_reported"
CORRECTION_CORRECTED = "correction_corrected"
CORRECTION_DECLINED = "correction_declined"
KINDS = (CORRECTION_REPORTED, CORRECTION_CORRECTED, CORRECTION_DECLINED)

TEXTS = {
    CORRECTION_REPORTED: (
        _("A service record to check"),
        _(
            "%(name)s (%(number)s) reports an error in their record of %(community)s, %(post)s, %(when)s: "
            "“%(message)s”. Check it on the Hours page, correct it there, and answer the report."
        ),
    ),
    CORRECTION_CORRECTED: (
        _("Your service record is corrected"),
        _("Your record of %(community)s, %(post)s, %(when)s has been corrected. %(answer)s"),
    ),
    CORRECTION_DECLINED: (
        _("Your service record stays as it was"),
        _("Your record of %(community)s, %(post)s, %(when)s stays as it was: %(answer)s"),
    ),
}


def _texts(kind: str, correction: RecordCorrection, language: str) -> tuple[str, str]:
    assignment = correction.assignment
    shift = assignment.shift
    with translation.override(language):
        subject, text = TEXTS[kind]
        body = str(text) % {
            **outbox.shift_context(shift),
            "name": assignment.volunteer.real_name,
            "number": assignment.volunteer.volunteer_number,
            "message": correction.message,
            "answer": correction.answer,
        }
        return str(subject), body.strip()


def _sms_params(correction: RecordCorrection) -> dict:
    shift = correction.assignment.shift
    with translation.override(settings.NOTIFICATIONS["LANGUAGE"]):
        return {
            "community": shift.community.name,
            "time": outbox._sms_when(shift.starts_at, shift.ends_at),
        }


def correction_reported(*, correction: RecordCorrection, coordinators: list, now: datetime) -> list[str]:
    """Tell the community's coordinators, each in their language (inside the reporting transaction)."""
    rows = []
    params = _sms_params(correction)
    for user in coordinators:
        language = volunteer_message_language(outbox._volunteer_of(user))
        subject, body = _texts(CORRECTION_REPORTED, correction, language)
        rows += outbox._deployment_rows(
            kind=CORRECTION_REPORTED,
            prefix=f"c{correction.pk}",
            user=user,
            recipient=outbox.user_recipient(user),
            subject=subject,
            body=body,
            params=params,
            now=now,
            shift_id=correction.assignment.shift_id,
        )
    return outbox._deployment_insert(rows, now)


def correction_answered(*, correction: RecordCorrection, now: datetime) -> list[str]:
    """Tell the volunteer how their report was answered (inside the answering transaction)."""
    volunteer = correction.assignment.volunteer
    kind = CORRECTION_CORRECTED if correction.status == RecordCorrection.Status.CORRECTED else CORRECTION_DECLINED
    subject, body = _texts(kind, correction, volunteer_message_language(volunteer))
    rows = outbox._deployment_rows(
        kind=kind,
        prefix=f"c{correction.pk}",
        user=volunteer.user,
        recipient=outbox.volunteer_recipient(volunteer),
        subject=subject,
        body=body,
        params=_sms_params(correction),
        now=now,
        shift_id=correction.assignment.shift_id,
    )
    return outbox._deployment_insert(rows, now)
