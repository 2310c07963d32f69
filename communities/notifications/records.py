"""Messages about a volunteer's record, not about a shift: a change request decided, an insurance
or qualification about to expire, and the staff's weekly digest of those.

They go through the same outbox as the shift messages (``outbox._insert``: one row per channel,
a unique key, sent after commit), keyed by the person instead of an assignment:

- ``v<volunteer>:change_approved.<request>:<channel>:u<user>`` (and ``change_rejected``);
- ``v<volunteer>:expiry_notice.<item>.<valid until>.<days>:<channel>:u<user>``, where the item is
  ``insurance`` or ``q-<qualification code>``: the daily sweep can run any number of times and
  a volunteer hears once per item, expiry date and threshold; a renewal (a new date) starts over;
- ``s<user>:expiry_digest.<ISO year>-W<week>:<channel>:u<user>`` for staff, once a week.

The SMS parameters are read afresh when a text is sent (``record_template_params``), like the
shift messages'; none holds a name, a number or a link.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import dateformat, timezone, translation
from django.utils.translation import gettext_lazy as _

from communities.notifications import outbox
from volunteers.models import ChangeRequest, OrganizationStaff, Qualification, QualificationType, Volunteer
from volunteers.selectors import organization_subtree, volunteer_message_language

CHANGE_APPROVED = "change_approved"
CHANGE_REJECTED = "change_rejected"
EXPIRY_NOTICE = "expiry_notice"
EXPIRY_DIGEST = "expiry_digest"
KINDS = (CHANGE_APPROVED, CHANGE_REJECTED, EXPIRY_NOTICE, EXPIRY_DIGEST)

TEXTS = {
    CHANGE_APPROVED: (
        _("Change approved"),
        _("Approved: your %(item)s, valid until %(date)s, is now on your volunteer record."),
    ),
    CHANGE_REJECTED: (
        _("Change not approved"),
        _("Not approved: your %(item)s. Reason: %(reason)s. You can submit it again in the app."),
    ),
    EXPIRY_NOTICE: (
        _("Expiring soon"),
        _(
            "Your %(item)s expires on %(date)s (in %(days)s days). Renew it and submit the proof in the app, "
            "or you cannot take duties that need it."
        ),
    ),
    EXPIRY_DIGEST: (
        _("Insurance and qualifications expiring"),
        _(
            "%(count)s volunteers you manage have insurance or a qualification expiring within %(days)s days; "
            "%(at_risk)s of them have confirmed shifts after the expiry. See the list in the app."
        ),
    ),
}


def _day(value: date) -> str:
    return dateformat.format(value, "Y-m-d")


def item_name(item: str) -> str:
    """``insurance`` or ``q-<code>``, in the active language."""
    if item == "insurance":
        return str(_("accident insurance"))
    code = item.removeprefix("q-")
    found = QualificationType.objects.filter(code=code).first()
    return found.display_name if found is not None else code


def request_item(request: ChangeRequest) -> str:
    return "insurance" if request.kind == ChangeRequest.Kind.INSURANCE else f"q-{request.qualification_type.code}"


def _key(prefix: str, kind: str, ref: str, channel: str, user_id: int) -> str:
    return f"{prefix}:{kind}.{ref}:{channel}:u{user_id}"


def _rows(*, prefix: str, kind: str, ref: str, recipient: outbox.Recipient, subject: str, body: str, now: datetime):
    def row(channel, state, send_after, sent_at=None):
        return outbox.Draft(
            _key(prefix, kind, ref, channel, recipient.user_id),
            kind,
            channel,
            recipient.user_id,
            None,
            None,
            False,
            subject,
            body,
            state,
            send_after,
            sent_at,
            now,
        )

    Channel, State = outbox.Channel, outbox.State
    rows = [row(Channel.INAPP, State.SENT, now, now)]
    if recipient.sms:
        rows.append(row(Channel.SMS, State.PENDING, outbox.quiet_hours_end(now)))
    if recipient.email:
        rows.append(row(Channel.EMAIL, State.PENDING, now))
    return rows


def _send(rows, now: datetime) -> list[str]:
    outbox._insert(rows)
    outbox._send_after_commit(outbox._due_keys(rows, now))
    return [row.key for row in rows]


def change_request_decided(*, request: ChangeRequest, now: datetime | None = None) -> list[str]:
    """Tell the volunteer what became of their request (inside the deciding transaction)."""
    now = now or timezone.now()
    volunteer = request.volunteer
    approved = request.state == ChangeRequest.State.APPROVED
    kind = CHANGE_APPROVED if approved else CHANGE_REJECTED
    with translation.override(volunteer_message_language(volunteer)):
        subject, text = TEXTS[kind]
        body = str(text) % {
            "item": item_name(request_item(request)),
            "date": _day(request.valid_until),
            "reason": request.reason,
        }
    rows = _rows(
        prefix=f"v{volunteer.pk}",
        kind=kind,
        ref=str(request.pk),
        recipient=outbox.volunteer_recipient(volunteer),
        subject=str(subject),
        body=body,
        now=now,
    )
    return _send(rows, now)


# --- The daily expiry sweep ----------------------------------------------------------------------


def thresholds() -> list[int]:
    return sorted(settings.NOTIFICATIONS["EXPIRY_NOTICE_DAYS"])


def _threshold_for(days_left: int) -> int | None:
    """The nearest threshold a date ``days_left`` away has reached (7 before 30)."""
    return next((days for days in thresholds() if days_left <= days), None)


def _notifiable() -> Q:
    return Q(anonymised_at__isnull=True) & ~Q(status=Volunteer.Status.SUSPENDED)


def expiring_items(*, today: date, within: int) -> list[tuple[Volunteer, str, date]]:
    """(volunteer, item, valid until) for every insurance and qualification expiring from today
    to ``within`` days on, of volunteers who may still serve."""
    last = today + timedelta(days=within)
    found: list[tuple[Volunteer, str, date]] = []
    insured = (
        Volunteer.objects.filter(_notifiable(), insurance_valid_until__gte=today, insurance_valid_until__lte=last)
        .select_related("user")
        .order_by("pk")
    )
    found += [(volunteer, "insurance", volunteer.insurance_valid_until) for volunteer in insured]
    qualifications = (
        Qualification.objects.filter(valid_until__gte=today, valid_until__lte=last)
        .filter(volunteer__anonymised_at__isnull=True)
        .exclude(volunteer__status=Volunteer.Status.SUSPENDED)
        .select_related("volunteer__user", "qualification_type")
        .order_by("volunteer_id", "qualification_type__code")
    )
    found += [(q.volunteer, f"q-{q.qualification_type.code}", q.valid_until) for q in qualifications]
    return found


def expiry_sweep(*, now: datetime | None = None) -> int:
    """Create the expiry notices due today; the number of volunteers told something new."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    rows = []
    for volunteer, item, valid_until in expiring_items(today=today, within=max(thresholds())):
        days_left = (valid_until - today).days
        threshold = _threshold_for(days_left)
        if threshold is None:
            continue
        with translation.override(volunteer_message_language(volunteer)):
            subject, text = TEXTS[EXPIRY_NOTICE]
            body = str(text) % {"item": item_name(item), "date": _day(valid_until), "days": days_left}
            rows += _rows(
                prefix=f"v{volunteer.pk}",
                kind=EXPIRY_NOTICE,
                ref=f"{item}.{valid_until.isoformat()}.{threshold}",
                recipient=outbox.volunteer_recipient(volunteer),
                subject=str(subject),
                body=body,
                now=now,
            )
    if not rows:
        return 0
    from communities.models import Notification

    existing = set(Notification.objects.filter(key__in=[row.key for row in rows]).values_list("key", flat=True))
    new = [row for row in rows if row.key not in existing]
    _send(new, now)
    return len({row.recipient_id for row in new if row.channel == outbox.Channel.INAPP})


# --- The staff's weekly digest ---------------------------------------------------------------------


def digest_figures(*, user, today: date) -> dict:
    """How many volunteers ``user`` manages have something expiring within the longest
    threshold, and how many of them hold a confirmed shift after it."""
    from communities.selectors.records import eligibility_at_risk, expiring_volunteers

    days = max(thresholds())
    expiring = expiring_volunteers(user=user, before=today + timedelta(days=days + 1), since=today)
    return {
        "count": expiring.count(),
        "days": days,
        "at_risk": eligibility_at_risk(user=user).values("volunteer_id").distinct().count(),
    }


def expiry_digest(*, now: datetime | None = None) -> int:
    """One message a week to each organization's staff who have anything to look at."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    year, week, _weekday = today.isocalendar()
    rows = []
    user_ids = OrganizationStaff.objects.values_list("user_id", flat=True).distinct()
    from django.contrib.auth import get_user_model

    for user in get_user_model().objects.filter(pk__in=user_ids, is_active=True).order_by("pk"):
        if not organization_subtree(user).exists():
            continue
        figures = digest_figures(user=user, today=today)
        if not figures["count"]:
            continue
        recipient = outbox.user_recipient(user)
        with translation.override(settings.NOTIFICATIONS["LANGUAGE"]):
            subject, text = TEXTS[EXPIRY_DIGEST]
            rows += _rows(
                prefix=f"s{user.pk}",
                kind=EXPIRY_DIGEST,
                ref=f"{year}-W{week:02d}",
                recipient=recipient,
                subject=str(subject),
                body=str(text) % figures,
                now=now,
            )
    if not rows:
        return 0
    _send(rows, now)
    return len({row.recipient_id for row in rows})


# --- Provider template parameters --------------------------------------------------------------


def record_template_params(row) -> dict | None:
    """The parameters of a record message's text (``NOTIFICATIONS["SMS_TEMPLATES"]``), or None
    for a row that is not one. In the programme's language (the caller sets it)."""
    kind = row.kind
    if kind not in KINDS:
        return None
    prefix, kind_part = row.key.split(":")[:2]
    ref = kind_part.partition(".")[2]
    if kind in (CHANGE_APPROVED, CHANGE_REJECTED):
        request = ChangeRequest.objects.select_related("qualification_type").filter(pk=int(ref)).first()
        return {"item": item_name(request_item(request)) if request is not None else ""}
    if kind == EXPIRY_NOTICE:
        item, valid_until, _threshold = ref.rsplit(".", 2)
        day = date.fromisoformat(valid_until)
        return {"item": item_name(item), "date": _day(day), "days": max((day - timezone.localdate()).days, 0)}
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=int(prefix.removeprefix("s"))).first()
    return {"count": digest_figures(user=user, today=timezone.localdate())["count"] if user else 0}
