"""Notifications: what is said, to whom, on which channel, and how each message is sent once.

The design is in docs/notifications.md. In short:

- Every message is a ``Notification`` row whose unique ``key`` names the assignment, the kind
  (with the shift time it refers to, where that can change), the channel and the recipient.
  Rows are created with INSERT … ON CONFLICT DO NOTHING before anything is sent, so creating
  them twice creates them once.
- Event messages (``assignment_event``) are created inside the caller's transaction and sent by
  a task enqueued only after it commits. Time-driven ones (reminders, check-in nudges,
  escalations) are found by ``sweep``, which beat runs every minute over database state.
- A sender claims due rows atomically (``pending`` → ``sending``, with ``claimed_at`` as the
  claim's fencing token), sends, and marks them ``sent`` only if its claim still holds. A row a
  dead worker left in ``sending`` is claimed again after the lease; the provider receives the
  key as its idempotency key, so that resubmission never becomes a second text.
- Provider errors are retried with exponential backoff up to ``MAX_ATTEMPTS``, then the row is
  ``failed`` and listed for coordinators. Nothing is dropped: a message that no longer applies
  when its turn comes (a reminder for a cancelled place) is closed as ``skipped``.
- The in-app inbox row is delivered by being created (state ``sent``).
"""

from __future__ import annotations

import hmac
import logging
import math
import smtplib
import threading
import time as monotonic_clock
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache, partial

from django.conf import settings
from django.core import mail
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.db.models import Case, CharField, Exists, F, Func, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Cast, Coalesce, Concat
from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from communities.models import Assignment, Community, Dispatch, Notification, Recall, Shift
from communities.notifications.batching import SendBatcher
from communities.selectors.people import volunteer_mobile_display
from config import formats
from config.celery import task_named
from config.errors import ServiceError
from config.sms import backends
from config.sms.providers import clean_param, national_number
from volunteers.models import CallApplication, StaffContact, Volunteer, reader_name
from volunteers.selectors import organization_subtree, volunteer_message_language

logger = logging.getLogger(__name__)

Channel = Notification.Channel
State = Notification.State
Status = Assignment.Status

# --- Kinds and their texts ----------------------------------------------------------------

CONFIRMED = "confirmed"
ASSIGNED = "assigned"
WAITLISTED = "waitlisted"
PROMOTED = "promoted"
CANCELLED = "cancelled"
SHIFT_CHANGED = "shift_changed"
SHIFT_CANCELLED = "shift_cancelled"
NO_SHOW = "no_show"
REMINDER = "reminder"  # stored as reminder_24h, reminder_2h … (one kind per lead time)
CHECKIN_NUDGE = "checkin_nudge"
ESCALATION = "escalation"
CHECKIN_LOCKED = "checkin_locked"  # to the coordinators: too many wrong check-in codes
# Messages not about one assignment: keyed by what they are about (``r<request>``, ``b<call-out>``).
REQUEST_FILED = "request_filed"
REQUEST_DISPATCHED = "request_dispatched"
REQUEST_FULFILLED = "request_fulfilled"
REQUEST_DECLINED = "request_declined"
REQUEST_KINDS = (REQUEST_FILED, REQUEST_DISPATCHED, REQUEST_FULFILLED, REQUEST_DECLINED)
BROADCAST = "broadcast"  # a call-out: subject and text as its sender wrote them
# A deployment, about no assignment: keyed by the dispatch or the recall (``dispatch_announce``, ``recall_announce``).
DISPATCHED = "dispatched"  # to each volunteer sent
ARRIVING = "arriving"  # to the receiving community's coordinators: who is coming
RECALLED = "recalled"  # to each volunteer returned to the reserve
RECALL_LEAVING = "recall_leaving"  # to the community's coordinators: who has been recalled
DEPLOYMENT_KINDS = (DISPATCHED, ARRIVING, RECALLED, RECALL_LEAVING)

APPLICATION_APPROVED = "application_approved"  # an answer to a recruitment call
APPLICATION_REJECTED = "application_rejected"

# Events the services report through ``assignment_event``.
EVENTS = (CONFIRMED, ASSIGNED, WAITLISTED, PROMOTED, CANCELLED, SHIFT_CHANGED, SHIFT_CANCELLED, NO_SHOW)
# About a shift that is happening now: sent in quiet hours too.
URGENT_KINDS = (CHECKIN_NUDGE, ESCALATION, CHECKIN_LOCKED)

# (subject, text). The text is the SMS, the email body and the inbox entry; in Chinese each
# fits one 70-character SMS with ordinary community and post names. Every text names the
# community, the post, the time and what to do.
TEXTS = {
    CONFIRMED: (
        _("Shift confirmed"),
        _(
            "Confirmed: %(community)s, %(post)s, %(when)s. Please arrive on time and scan the code at the post "
            "to check in; if you cannot come, cancel in the app."
        ),
    ),
    ASSIGNED: (
        _("You have been assigned a shift"),
        _(
            "You have been assigned: %(community)s, %(post)s, %(when)s. Please arrive on time and scan the code "
            "at the post to check in; if you cannot come, cancel in the app."
        ),
    ),
    WAITLISTED: (
        _("On the waitlist"),
        _(
            "Waitlisted (no. %(position)s): %(community)s, %(post)s, %(when)s. We will tell you if a place "
            "opens up; do not go to the post for now."
        ),
    ),
    PROMOTED: (
        _("You have a place"),
        _(
            "A place opened up and you are confirmed: %(community)s, %(post)s, %(when)s. Please arrive on time "
            "and check in at the post; if you cannot come, cancel in the app."
        ),
    ),
    CANCELLED: (
        _("Place cancelled"),
        _("Your place is cancelled: %(community)s, %(post)s, %(when)s. You do not need to go to the post."),
    ),
    SHIFT_CHANGED: (
        _("Shift changed"),
        _(
            "Shift changed: %(community)s, %(post)s is now %(when)s. If you cannot come at the new time, "
            "cancel in the app."
        ),
    ),
    SHIFT_CANCELLED: (
        _("Shift cancelled"),
        _("Shift cancelled: %(community)s, %(post)s, %(when)s. Please do not go to the post."),
    ),
    NO_SHOW: (
        _("Marked as no-show"),
        _(
            "You were marked as not having come: %(community)s, %(post)s, %(when)s. If this is wrong, ask the "
            "coordinator to correct it."
        ),
    ),
    REMINDER: (
        _("Shift reminder"),
        _(
            "Reminder: %(community)s, %(post)s, %(when)s. Please arrive on time and scan the code at the post "
            "to check in."
        ),
    ),
    CHECKIN_NUDGE: (
        _("Please check in"),
        _(
            "You have not checked in: %(community)s, %(post)s started at %(start)s. Scan the code at the post "
            "now; if you cannot come, tell the coordinator."
        ),
    ),
    ESCALATION: (
        _("Volunteer not checked in"),
        _(
            "Not checked in %(minutes)s min after the start: %(volunteer)s (%(mobile)s), %(community)s, "
            "%(post)s, %(start)s. Please contact them or arrange cover."
        ),
    ),
    CHECKIN_LOCKED: (
        _("Code check-in locked"),
        _(
            "Check-in by code is locked for %(volunteer)s (%(mobile)s) after %(attempts)s wrong codes: "
            "%(community)s, %(post)s, %(start)s. If they are at the post, check them in by hand."
        ),
    ),
    REQUEST_FILED: (
        _("Request sent"),
        _(
            "Your request for %(wanted)s volunteers for %(community)s, %(dates)s, has reached the league "
            "committee. You will be told when volunteers are dispatched."
        ),
    ),
    REQUEST_DISPATCHED: (
        _("Volunteers dispatched"),
        _("%(sent)s volunteers have been dispatched to %(community)s for your request; %(missing)s are still missing."),
    ),
    REQUEST_FULFILLED: (
        _("Request fulfilled"),
        _("Your request for %(wanted)s volunteers for %(community)s is fulfilled: %(sent)s more have been dispatched."),
    ),
    REQUEST_DECLINED: (
        _("Request declined"),
        _("Your request for %(wanted)s volunteers for %(community)s was declined: %(reason)s"),
    ),
    DISPATCHED: (
        _("You have been dispatched"),
        _(
            "You are dispatched to %(community)s (%(address)s) from %(time)s. Report to the community's "
            "coordinators: %(contacts)s. Your shifts there appear in the app."
        ),
    ),
    ARRIVING: (
        _("Volunteers are coming"),
        _(
            "%(count)s volunteers are dispatched to %(community)s from %(time)s: %(names)s. They will contact "
            "you; the list with their numbers is in the app."
        ),
    ),
    RECALLED: (
        _("Recalled to the reserve"),
        _(
            "You are recalled from %(community)s to the reserve. Your coming shifts there are cancelled; "
            "please do not go to them."
        ),
    ),
    RECALL_LEAVING: (
        _("Volunteers recalled"),
        _(
            "%(count)s volunteers are recalled from %(community)s: %(names)s. Their coming shifts there are "
            "released; the waitlist has been offered the places."
        ),
    ),
    APPLICATION_APPROVED: (
        _("Application approved"),
        _(
            "Your answer to %(call)s is approved: you are now a reserve volunteer of %(organization)s. "
            "Log in with this mobile number and a texted code to see shifts."
        ),
    ),
    APPLICATION_REJECTED: (
        _("Application not approved"),
        _(
            "Your answer to %(call)s was not approved: %(reason)s. If you have questions, contact the staff "
            "who published the call."
        ),
    ),
}


def base_kind(kind: str) -> str:
    return REMINDER if kind.startswith(REMINDER + "_") else kind


def reminder_kind(lead: timedelta) -> str:
    minutes = int(lead.total_seconds() // 60)
    return f"{REMINDER}_{minutes // 60}h" if minutes % 60 == 0 else f"{REMINDER}_{minutes}m"


def render(kind: str, context: dict) -> tuple[str, str]:
    """Subject and text in the active language."""
    subject, text = TEXTS[base_kind(kind)]
    return str(subject), str(text) % context


def _date_time(moment: datetime) -> str:
    form = pgettext("notification date and time", "M j, H:i")
    return _formatted(moment, form, translation.get_language(), timezone.get_current_timezone_name())


def _clock(moment: datetime) -> str:
    return _formatted(moment, "H:i", translation.get_language(), timezone.get_current_timezone_name())


@lru_cache(maxsize=4096)
def _formatted(moment: datetime, form: str, language: str | None, time_zone: str) -> str:
    """``moment`` in ``time_zone`` as ``form`` says, in ``language`` (the active one; month names
    are translated): shifts share their hours, so the sweep and the sign-ups format the same few
    moments again and again."""
    return dateformat.format(timezone.localtime(moment, zoneinfo.ZoneInfo(time_zone)), form)


def shift_context(shift: Shift) -> dict:
    """What every text says about a shift, in the active language."""
    return _context(shift.community.display_name, shift.post.name, shift.starts_at, shift.ends_at)


def _context(community: str, post_name: str, starts_at: datetime, ends_at: datetime) -> dict:
    """The texts' words for a shift: its time in the house format (``config.formats``),
    12月7日 周一 22:00–次日02:00 / Mon 7 Dec 22:00–02:00 (next day)."""
    return {
        "community": community,
        "post": post_name,
        "when": formats.span(starts_at, ends_at),
        "start": formats.clock(starts_at),
    }


def _sms_when(starts_at: datetime, ends_at: datetime) -> str:
    """A shift's time as a provider template's ``time`` parameter: 12月7日 08:00–12:00, or both days
    in full across midnight. Short and without a weekday, as the approved templates were sized
    (docs/sms-templates.md); the inbox and the file backend use the house format instead."""
    same_day = timezone.localdate(starts_at) == timezone.localdate(ends_at)
    return f"{_date_time(starts_at)}–{_clock(ends_at) if same_day else _date_time(ends_at)}"


# --- Quiet hours --------------------------------------------------------------------------


def _hhmm(value: str) -> time | None:
    if not value:
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_hours() -> tuple[time, time] | None:
    start = _hhmm(settings.NOTIFICATIONS["QUIET_HOURS_START"])
    end = _hhmm(settings.NOTIFICATIONS["QUIET_HOURS_END"])
    return (start, end) if start is not None and end is not None and start != end else None


def in_quiet_hours(moment: datetime) -> bool:
    window = quiet_hours()
    if window is None:
        return False
    start, end = window
    local = timezone.localtime(moment).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end  # the window crosses midnight


def quiet_hours_end(moment: datetime) -> datetime:
    """The first moment at or after ``moment`` outside quiet hours."""
    window = quiet_hours()
    if window is None or not in_quiet_hours(moment):
        return moment
    end = window[1]
    local = timezone.localtime(moment)
    candidate = timezone.make_aware(datetime.combine(local.date(), end))
    if candidate <= local:
        candidate = timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), end))
    return candidate


def _urgent(kind: str, shift: Shift, now: datetime) -> bool:
    """Urgent kinds, and any message about a shift that starts before quiet hours end."""
    return base_kind(kind) in URGENT_KINDS or (in_quiet_hours(now) and shift.starts_at <= quiet_hours_end(now))


def _coordinators_of(community_ids: set[int]) -> dict[int, list]:
    """The coordinator users of each community, their volunteer profiles and staff contacts loaded."""
    coordinators: dict[int, list] = defaultdict(list)
    links = Community.coordinators.through.objects.filter(community_id__in=community_ids).select_related(
        "user__volunteer", "user__staff_contact"
    )
    for link in links:
        coordinators[link.community_id].append(link.user)
    return coordinators


# --- Building rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    user_id: int
    sms: bool
    email: bool


def volunteer_recipient(volunteer: Volunteer) -> Recipient:
    """The volunteer's chosen channels; the inbox always receives everything."""
    reachable = volunteer.anonymised_at is None
    return Recipient(
        user_id=volunteer.user_id,
        sms=reachable and volunteer.notify_by_sms and bool(volunteer.mobile),
        email=reachable and volunteer.notify_by_email and bool(volunteer.user.email),
    )


def user_recipient(user) -> Recipient:
    """A coordinator: their volunteer profile's choices if they have one, else SMS to the staff
    mobile number on their account (``StaffContact``) and email, each when known."""
    volunteer = _volunteer_of(user)
    if volunteer is not None:
        return volunteer_recipient(volunteer)
    return Recipient(user_id=user.pk, sms=bool(_staff_mobile_of(user)), email=bool(user.email))


def _staff_mobile_of(user) -> str:
    try:
        return user.staff_contact.mobile
    except StaffContact.DoesNotExist:
        return ""


# The number an SMS row goes to: the recipient's volunteer record, else their staff contact.
RECIPIENT_MOBILE = Coalesce("recipient__volunteer__mobile", "recipient__staff_contact__mobile")


def _volunteer_of(user) -> Volunteer | None:
    try:
        return user.volunteer
    except Volunteer.DoesNotExist:
        return None


def notification_key(*, assignment_id: int, kind: str, channel: str, user_id: int, ref: str = "") -> str:
    """``a<assignment>:<kind>[.<ref>]:<channel>:u<user>``; ``ref`` tells apart repeatable events."""
    return f"a{assignment_id}:{kind}{'.' + ref if ref else ''}:{channel}:u{user_id}"


def _ref_of(key: str) -> str:
    kind_part = key.split(":")[1]
    return kind_part.partition(".")[2]


def _stamp(moment: datetime) -> str:
    return str(int(moment.timestamp()))


@dataclass(slots=True)
class Draft:
    """A Notification row to insert: the columns a new row sets, as plain values."""

    key: str
    kind: str
    channel: str
    recipient_id: int
    assignment_id: int | None
    shift_id: int | None
    urgent: bool
    subject: str
    body: str
    state: str
    send_after: datetime
    sent_at: datetime | None
    created_at: datetime


def _drafts(
    *,
    kind: str,
    assignment_id: int | None,
    shift_id: int | None,
    recipient: Recipient,
    subject: str,
    body: str,
    urgent: bool,
    ref: str,
    now: datetime,
    key_base: str = "",
) -> list[Draft]:
    """The inbox row (delivered by being created), then SMS and email as the person chose.

    Rows about an assignment are keyed by it; others by ``key_base``, what they are about
    (``app<id>``, ``r<request>``, ``b<call-out>``), in the same shape."""

    def row(channel: str, state: str, send_after: datetime, sent_at: datetime | None = None) -> Draft:
        if key_base:
            key = f"{key_base}:{kind}{'.' + ref if ref else ''}:{channel}:u{recipient.user_id}"
        else:
            key = notification_key(
                assignment_id=assignment_id, kind=kind, channel=channel, user_id=recipient.user_id, ref=ref
            )
        return Draft(
            key,
            kind,
            channel,
            recipient.user_id,
            assignment_id,
            shift_id,
            urgent,
            subject,
            body,
            state,
            send_after,
            sent_at,
            now,
        )

    rows = [row(Channel.INAPP, State.SENT, now, now)]
    if recipient.sms:
        rows.append(row(Channel.SMS, State.PENDING, now if urgent else quiet_hours_end(now)))
    if recipient.email:
        rows.append(row(Channel.EMAIL, State.PENDING, now))
    return rows


_INSERT_COLUMNS = (*Draft.__slots__, "attempts", "last_error", "claimed_at", "read_at")
INSERT_BATCH = 1000


def _insert(rows: list[Draft]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, in key order.

    A row whose key exists is left as it is: that is what makes creating a message twice create
    it once. Key order makes concurrent inserts of overlapping sets wait on each other in the same
    order instead of deadlocking. Plain multi-row INSERTs rather than ``bulk_create``: the sweep
    inserts rows by the hundred thousand, and the ORM's per-field preparation was most of its time.
    """
    if not rows:
        return
    rows.sort(key=lambda row: row.key)
    quote = connection.ops.quote_name
    fields = {field.attname: field.column for field in Notification._meta.concrete_fields}
    columns = ", ".join(quote(fields[name]) for name in _INSERT_COLUMNS)
    placeholders = "({})".format(", ".join(["%s"] * len(_INSERT_COLUMNS)))
    max_params = connection.features.max_query_params or INSERT_BATCH * len(_INSERT_COLUMNS)
    per_statement = max(1, min(INSERT_BATCH, max_params // len(_INSERT_COLUMNS)))
    adapt = connection.ops.adapt_datetimefield_value
    adapted: dict[datetime, object] = {}

    def value(item):
        if isinstance(item, datetime):
            if item not in adapted:
                adapted[item] = adapt(item)
            return adapted[item]
        return item

    # No savepoint: ON CONFLICT DO NOTHING does not fail on a duplicate, and any other error
    # fails the caller's transaction anyway; a savepoint would cost two more round trips.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for batch in _chunks(rows, per_statement):
            # Only the model's own table and column names, quoted, go into the text; values are parameters.
            sql = "INSERT INTO {} ({}) VALUES {} ON CONFLICT DO NOTHING".format(  # noqa: S608
                quote(Notification._meta.db_table), columns, ", ".join([placeholders] * len(batch))
            )
            params: list = []
            for row in batch:
                params += [value(getattr(row, name)) for name in Draft.__slots__]
                params += [0, "", None, None]  # attempts, last_error, claimed_at, read_at
            cursor.execute(sql, params)


def _due_keys(rows: Iterable[Draft], now: datetime) -> list[str]:
    return [row.key for row in rows if row.state == State.PENDING and row.send_after <= now]


def _send_after_commit(keys: list[str]) -> None:
    if keys:
        transaction.on_commit(partial(_batcher.add, keys), robust=True)


def enqueue_send(keys: list[str] | None = None) -> None:
    """Ask a worker to send; if the broker is unreachable the minute sweep sends them instead."""
    try:
        task_named("communities.tasks.notifications_send").apply_async(
            kwargs={"keys": keys}, queue=settings.NOTIFICATIONS["QUEUE"]
        )
    except Exception:
        logger.warning("notification send not queued (%s keys); left to the sweep", len(keys or ()), exc_info=True)


# Keys committed by requests reach the broker in one task per window (communities/notifications/batching.py).
_batcher = SendBatcher(enqueue_send, lambda: settings.NOTIFICATIONS["SEND_BATCH_SECONDS"])


# --- Events from the services -------------------------------------------------------------


def assignment_event(
    event: str,
    *,
    assignment_id: int | None = None,
    assignment: Assignment | None = None,
    ref: str = "",
    now: datetime | None = None,
) -> list[str]:
    """Create the rows announcing ``event`` to the assignment's volunteer; send after commit.

    Call inside the transaction that made the change: a rollback takes the rows with it, and
    nothing is enqueued until the commit. ``confirmed`` by a coordinator or a dispatch reads as
    ``assigned``. ``shift_changed`` is keyed by the shift's ``updated_at`` unless ``ref`` is
    given, so each change is announced once. Returns the keys of the rows.

    Give ``assignment`` when the caller holds it with its shift (post, community) and volunteer
    (user) loaded, as the sign-up does; otherwise ``assignment_id`` and it is read here.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    now = now or timezone.now()
    if assignment is None:
        assignment = Assignment.objects.select_related("shift__post", "shift__community", "volunteer__user").get(
            pk=assignment_id
        )
    kind = event
    if event == CONFIRMED and assignment.source != Assignment.Source.SELF:
        kind = ASSIGNED
    shift = assignment.shift
    if kind == SHIFT_CHANGED and not ref:
        ref = str(int(shift.updated_at.timestamp() * 1000))
    recipient = volunteer_recipient(assignment.volunteer)
    with translation.override(volunteer_message_language(assignment.volunteer)):
        context = shift_context(shift)
        if kind == WAITLISTED:
            context["position"] = getattr(assignment, "waitlist_position", None)
            if context["position"] is None:
                context["position"] = Assignment.objects.filter(
                    shift_id=shift.pk, status=Status.WAITLISTED, waitlist_order__lte=assignment.waitlist_order or 0
                ).count()
        subject, body = render(kind, context)
    rows = _drafts(
        kind=kind,
        assignment_id=assignment.pk,
        shift_id=shift.pk,
        recipient=recipient,
        subject=subject,
        body=body,
        urgent=_urgent(kind, shift, now),
        ref=ref,
        now=now,
    )
    _insert(rows)
    _send_after_commit(_due_keys(rows, now))
    return [row.key for row in rows]


def checkin_locked_event(*, assignment: Assignment, failures: int, now: datetime) -> list[str]:
    """Tell the coordinators of the assignment's community that its code check-in is locked,
    each in their language; urgent (the volunteer may be waiting at the post). Inside the
    caller's transaction, like ``assignment_event``; keyed once per assignment."""
    shift, volunteer = assignment.shift, assignment.volunteer
    people = _coordinators_of({shift.community_id})[shift.community_id]
    if not people:
        logger.warning("no coordinator to tell that assignment %s's code check-in is locked", assignment.pk)
    rows: list[Draft] = []
    for user in people:
        with translation.override(volunteer_message_language(_volunteer_of(user))):
            subject, body = render(
                CHECKIN_LOCKED,
                {
                    **shift_context(shift),
                    "volunteer": volunteer.real_name,
                    # The one rule (docs/privacy.md), asked for each recipient.
                    "mobile": volunteer_mobile_display(user, volunteer),
                    "attempts": failures,
                },
            )
        rows += _drafts(
            kind=CHECKIN_LOCKED,
            assignment_id=assignment.pk,
            shift_id=shift.pk,
            recipient=user_recipient(user),
            subject=subject,
            body=body,
            urgent=True,
            ref="",
            now=now,
        )
    _insert(rows)
    _send_after_commit(_due_keys(rows, now))
    return [row.key for row in rows]


# --- Deployments: a dispatch and a recall, announced to the volunteers and the coordinators ---

# Names listed in one message to the coordinators; the rest are counted ("… and 12 more").
NAMES_LISTED = 10


def _person_name(user) -> str:
    volunteer = _volunteer_of(user)
    if volunteer is not None and volunteer.real_name:
        return volunteer.real_name
    if any("\u4e00" <= char <= "\u9fff" for char in user.last_name):
        return f"{user.last_name}{user.first_name}"  # a Chinese name: family name first, no space
    return user.get_full_name() or user.get_username()


def _person_mobile(user) -> str:
    volunteer = _volunteer_of(user)
    return (volunteer.mobile if volunteer is not None else "") or _staff_mobile_of(user)


def _names(volunteers: list) -> str:
    names = [v.real_name for v in volunteers[:NAMES_LISTED]]
    text = str(_(", ")).join(names)
    if len(volunteers) > NAMES_LISTED:
        text += str(_(" and %(count)s more") % {"count": len(volunteers) - NAMES_LISTED})
    return text


def _deployment_rows(
    *,
    kind: str,
    prefix: str,
    user,
    recipient: Recipient,
    subject: str,
    body: str,
    params: dict,
    now: datetime,
    shift_id: int | None = None,
) -> list[Notification]:
    """The inbox row, then SMS and email as the person chose: keyed ``<prefix>:<kind>:<channel>:u<user>``.
    ``shift_id`` names the shift a message is about, when one is (the failed list reads it)."""

    def row(channel: str, state: str, send_after: datetime, sent_at: datetime | None = None) -> Notification:
        return Notification(
            key=f"{prefix}:{kind}:{channel}:u{user.pk}",
            kind=kind,
            channel=channel,
            recipient_id=user.pk,
            subject=subject,
            body=body,
            state=state,
            send_after=send_after,
            sent_at=sent_at,
            created_at=now,
            params=params if channel == Channel.SMS else None,
            shift_id=shift_id,
        )

    rows = [row(Channel.INAPP, State.SENT, now, now)]
    if recipient.sms:
        rows.append(row(Channel.SMS, State.PENDING, quiet_hours_end(now)))
    if recipient.email:
        rows.append(row(Channel.EMAIL, State.PENDING, now))
    return rows


def _deployment_insert(rows: list[Notification], now: datetime) -> list[str]:
    """INSERT … ON CONFLICT DO NOTHING in key order (creating a message twice creates it once),
    inside the caller's transaction; the due ones are sent after it commits."""
    rows.sort(key=lambda row: row.key)
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=INSERT_BATCH)
    _send_after_commit([row.key for row in rows if row.state == State.PENDING and row.send_after <= now])
    return [row.key for row in rows]


def _contacts(coordinators: list) -> str:
    """Whom a dispatched volunteer reports to: each coordinator's name and number."""
    if not coordinators:
        return str(_("the league committee staff who dispatched you"))
    parts = []
    for user in coordinators:
        mobile = _person_mobile(user)
        parts.append(f"{_person_name(user)} {mobile}".strip())
    return str(_(", ")).join(parts)


def dispatch_announce(*, dispatch, volunteers: list[Volunteer], now: datetime | None = None) -> list[str]:
    """Tell each volunteer sent where to go, from when and whom to contact, and the community's
    coordinators who is coming. Inside the dispatch's transaction; keyed by the dispatch, so
    announcing it twice creates each message once."""
    now = now or timezone.now()
    community = dispatch.community
    coordinators = _coordinators_of({community.pk})[community.pk]
    moment = dispatch.report_at or dispatch.created_at
    prefix = f"d{dispatch.pk}"
    with translation.override(settings.NOTIFICATIONS["LANGUAGE"]):
        sms_contact = _masked_name(_person_name(coordinators[0])) if coordinators else str(_("the league committee"))
        sms_time = _date_time(moment)
    rows: list[Notification] = []
    for volunteer in volunteers:
        with translation.override(volunteer_message_language(volunteer)):
            subject, body = render(
                DISPATCHED,
                {
                    "community": community.display_name,
                    "address": community.address or community.street.display_name,
                    "time": formats.moment(moment),
                    "contacts": _contacts(coordinators),
                },
            )
        rows += _deployment_rows(
            kind=DISPATCHED,
            prefix=prefix,
            user=volunteer.user,
            recipient=volunteer_recipient(volunteer),
            subject=subject,
            body=body,
            params={"community": community.name, "time": sms_time, "contact": sms_contact},
            now=now,
        )
    for user in coordinators:
        with translation.override(volunteer_message_language(_volunteer_of(user))):
            subject, body = render(
                ARRIVING,
                {
                    "count": len(volunteers),
                    "community": community.display_name,
                    "time": formats.moment(moment),
                    "names": _names(volunteers),
                },
            )
        rows += _deployment_rows(
            kind=ARRIVING,
            prefix=prefix,
            user=user,
            recipient=user_recipient(user),
            subject=subject,
            body=body,
            params={"count": len(volunteers), "community": community.name, "time": sms_time},
            now=now,
        )
    return _deployment_insert(rows, now)


def recall_announce(*, recalls: list, now: datetime | None = None) -> list[str]:
    """Tell each recalled volunteer their coming shifts in the community are cancelled, and the
    community's coordinators who has left. ``recalls`` are the rows one recall created (one
    community each); the coordinators' message is keyed by the first of them."""
    now = now or timezone.now()
    rows: list[Notification] = []
    by_community: dict[int, list] = defaultdict(list)
    for recall in recalls:
        by_community[recall.community_id].append(recall)
    coordinators = _coordinators_of(set(by_community))
    for community_id, group in sorted(by_community.items()):
        community = group[0].community
        volunteers = [recall.volunteer for recall in group]
        for recall in group:
            with translation.override(volunteer_message_language(recall.volunteer)):
                subject, body = render(RECALLED, {"community": community.display_name})
            rows += _deployment_rows(
                kind=RECALLED,
                prefix=f"r{recall.pk}",
                user=recall.volunteer.user,
                recipient=volunteer_recipient(recall.volunteer),
                subject=subject,
                body=body,
                params={"community": community.name},
                now=now,
            )
        first = min(recall.pk for recall in group)
        rows += _leaving_rows(
            community=community,
            volunteers=volunteers,
            coordinators=coordinators[community_id],
            prefix=f"r{first}",
            now=now,
        )
    return _deployment_insert(rows, now)


def moved_away_announce(*, dispatch, moved: dict[int, list[Volunteer]], now: datetime | None = None) -> list[str]:
    """Tell the coordinators of each community a team dispatch took deployed members from who has
    left (as a recall tells them; their places there were released). Keyed by the dispatch and the
    community left, inside the dispatch's transaction."""
    now = now or timezone.now()
    coordinators = _coordinators_of(set(moved))
    communities = Community.objects.in_bulk(list(moved))
    rows: list[Notification] = []
    for community_id, volunteers in sorted(moved.items()):
        rows += _leaving_rows(
            community=communities[community_id],
            volunteers=volunteers,
            coordinators=coordinators[community_id],
            prefix=f"d{dispatch.pk}.c{community_id}",
            now=now,
        )
    return _deployment_insert(rows, now)


def _leaving_rows(*, community, volunteers: list, coordinators: list, prefix: str, now: datetime) -> list[Notification]:
    rows: list[Notification] = []
    for user in coordinators:
        with translation.override(volunteer_message_language(_volunteer_of(user))):
            subject, body = render(
                RECALL_LEAVING,
                {"count": len(volunteers), "community": community.display_name, "names": _names(volunteers)},
            )
        rows += _deployment_rows(
            kind=RECALL_LEAVING,
            prefix=prefix,
            user=user,
            recipient=user_recipient(user),
            subject=subject,
            body=body,
            params={"count": len(volunteers), "community": community.name},
            now=now,
        )
    return rows


def person_event(kind: str, *, user, ref: str, context: dict, now: datetime | None = None) -> list[str]:
    """A message to one person about something other than a shift (an answer to a recruitment
    call): in the inbox, and by SMS and email as they chose, in their language; created in the
    caller's transaction, keyed ``<ref>:<kind>:<channel>:u<user>`` so creating it twice creates
    it once, and sent after commit."""
    now = now or timezone.now()
    volunteer = _volunteer_of(user)
    recipient = volunteer_recipient(volunteer) if volunteer is not None else user_recipient(user)
    with translation.override(volunteer_message_language(volunteer)):
        subject, body = render(kind, context)
    rows = _drafts(
        kind=kind,
        assignment_id=None,
        shift_id=None,
        recipient=recipient,
        subject=subject,
        body=body,
        urgent=False,
        ref="",
        now=now,
        key_base=ref,
    )
    _insert(rows)
    _send_after_commit(_due_keys(rows, now))
    return [row.key for row in rows]


def rejection_text_enqueue(*, application_id: int) -> None:
    """After commit, have a worker text a rejected applicant who has no account the reason."""

    def enqueue() -> None:
        try:
            task_named("communities.tasks.application_rejection_text").apply_async(
                kwargs={"application_id": application_id}, queue=settings.NOTIFICATIONS["QUEUE"]
            )
        except Exception:
            logger.warning("Rejection text for application %s not queued", application_id, exc_info=True)

    transaction.on_commit(enqueue, robust=True)


def rejection_text_send(*, application_id: int) -> backends.SmsResult | None:
    """Text a rejected applicant who has no account yet (so no inbox, no ``Notification`` row)
    the reason, at the number they gave. Keyed ``app<id>:application_rejected:sms``: a backend
    that deduplicates never sends it twice. ``None``: nothing to send (not rejected, or the
    person has an account, whose message went through ``person_event``)."""
    application = (
        CallApplication.objects.select_related("call")
        .filter(
            pk=application_id,
            status=CallApplication.Status.REJECTED,
            volunteer__isnull=True,
            anonymised_at__isnull=True,
        )
        .first()
    )
    if application is None:
        return None
    params = {"call": application.call.title, "reason": application.reject_reason}
    with translation.override(settings.NOTIFICATIONS["LANGUAGE"]):
        _subject, text = render(APPLICATION_REJECTED, params)
    message = backends.SmsMessage(
        key=f"app{application.pk}:{APPLICATION_REJECTED}:{Channel.SMS}",
        to=application.mobile,
        text=text,
        kind=APPLICATION_REJECTED,
        params=params,
    )
    try:
        return backends.get_backend().send_messages([message])[0]
    except Exception as error:  # a backend that raises accepted nothing: the task retries
        logger.warning("Rejection text for application %s not sent: %s", application.pk, type(error).__name__)
        return backends.SmsResult.failed(type(error).__name__)


def shift_event(event: str, *, shift_id: int, now: datetime | None = None) -> int:
    """``assignment_event`` for every confirmed and waitlisted assignment of the shift."""
    ids = Assignment.objects.filter(shift_id=shift_id, status__in=(Status.CONFIRMED, Status.WAITLISTED)).values_list(
        "pk", flat=True
    )
    count = 0
    for assignment_id in ids:
        assignment_event(event, assignment_id=assignment_id, now=now)
        count += 1
    return count


# --- A self sign-up's rows, written by the database function -----------------------------

# Where the waitlist position goes in a rendered text; a text holding it otherwise is not kept.
_POSITION_MARK = "\ue000"
SIGN_UP_TEXTS_KEPT = 4096  # shifts per process


@dataclass(frozen=True, slots=True)
class SignUpTexts:
    """A shift's confirmation and waitlist texts in every language, and what they were written from.

    ``communities_self_sign_up`` (migration 0012) takes them as parameters, checks the times and
    names against the locked rows and writes the notification rows itself, so a sign-up is one
    statement. ``texts`` holds five strings per language: confirmed subject and text, waitlisted
    subject, and the waitlisted text before and after the position.
    """

    starts_at: datetime
    ends_at: datetime
    post_name: str
    community_name: str
    community_name_en: str
    languages: tuple[str, ...]
    texts: tuple[str, ...]

    def parameters(self, now: datetime) -> list:
        """The function's text parameters, after its nine rule parameters."""
        return [
            list(self.languages),
            list(self.texts),
            settings.NOTIFICATIONS["LANGUAGE"],
            quiet_hours_end(now),
            self.starts_at,
            self.ends_at,
            self.post_name,
            self.community_name,
            self.community_name_en,
        ]


def sign_up_texts(
    starts_at: datetime, ends_at: datetime, post_name: str, community_name: str, community_name_en: str
) -> SignUpTexts | None:
    """A shift's texts in every language (as ``assignment_event`` renders them), or None when a
    name holds the position mark."""
    languages = tuple(code for code, _name in settings.LANGUAGES)
    texts: list[str] = []
    for language in languages:
        with translation.override(language):
            context = _context(reader_name(community_name, community_name_en), post_name, starts_at, ends_at)
            confirmed = render(CONFIRMED, context)
            subject, body = render(WAITLISTED, {**context, "position": _POSITION_MARK})
        if body.count(_POSITION_MARK) != 1 or _POSITION_MARK in "".join((*confirmed, subject)):
            return None
        before, _mark, after = body.partition(_POSITION_MARK)
        texts += [*confirmed, subject, before, after]
    return SignUpTexts(starts_at, ends_at, post_name, community_name, community_name_en, languages, tuple(texts))


# Rendered texts by (shift id, time zone), oldest first; any settings change empties it.
_sign_up_texts: dict[tuple[int, str], SignUpTexts] = {}
_sign_up_texts_lock = threading.Lock()

_SHIFT_NAMES_SQL = """
    SELECT sh.starts_at, sh.ends_at, p.name, c.name, c.name_en
      FROM communities_shift sh
      JOIN communities_post p ON p.id = sh.post_id
      JOIN communities_community c ON c.id = sh.community_id
     WHERE sh.id = %s"""


def sign_up_texts_kept(shift_id: int) -> SignUpTexts | None:
    return _sign_up_texts.get((shift_id, timezone.get_current_timezone_name()))


def sign_up_texts_for(shift_id: int) -> SignUpTexts | None:
    """The texts for a sign-up to ``shift_id``: kept from an earlier one in this process, else
    rendered from the shift's times and names (one light query, no lock: the sign-up function
    checks them under its lock) and kept. None if there is no such shift."""
    texts = sign_up_texts_kept(shift_id)
    if texts is not None:
        return texts
    with connection.cursor() as cursor:
        cursor.execute(_SHIFT_NAMES_SQL, [shift_id])
        found = cursor.fetchone()
    if found is None:
        return None
    texts = sign_up_texts(*found)
    if texts is not None:
        with _sign_up_texts_lock:
            while len(_sign_up_texts) >= SIGN_UP_TEXTS_KEPT:
                del _sign_up_texts[next(iter(_sign_up_texts))]
            _sign_up_texts[(shift_id, timezone.get_current_timezone_name())] = texts
    return texts


def sign_up_texts_forget(shift_id: int | None = None, **_signal) -> None:
    with _sign_up_texts_lock:
        if shift_id is None:
            _sign_up_texts.clear()
        else:
            _sign_up_texts.pop((shift_id, timezone.get_current_timezone_name()), None)


setting_changed.connect(sign_up_texts_forget, dispatch_uid="communities.notifications.outbox.sign_up_texts")


def signed_up_in_database(assignment: Assignment, now: datetime) -> None:
    """Send the rows ``communities_self_sign_up`` wrote for ``assignment`` once they commit.

    The keys and times are those ``assignment_event`` gives the same sign-up, so the rows due now
    are the rows the function made due.
    """
    shift = assignment.shift
    kind = CONFIRMED if assignment.status == Status.CONFIRMED else WAITLISTED
    rows = _drafts(
        kind=kind,
        assignment_id=assignment.pk,
        shift_id=shift.pk,
        recipient=volunteer_recipient(assignment.volunteer),
        subject="",
        body="",
        urgent=_urgent(kind, shift, now),
        ref="",
        now=now,
    )
    _send_after_commit(_due_keys(rows, now))


# --- The minute sweep: time-driven messages -----------------------------------------------

SWEEP_CHUNK = 1000
ANALYZE_AFTER_ROWS = 10_000


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Create every reminder, check-in nudge and escalation that is due. Safe to run concurrently.

    A candidate whose rows exist is skipped before any text is rendered; two sweeps that both
    render one insert it once (unique key, ON CONFLICT DO NOTHING).
    """
    now = now or timezone.now()
    created = {
        "reminders": _sweep_reminders(now),
        "nudges": _sweep_nudges(now),
        "escalations": _sweep_escalations(now),
    }
    if sum(created.values()) >= ANALYZE_AFTER_ROWS:
        # Fresh statistics before the senders start: with the table's old ones the planner takes
        # "few due rows", sorts all of them on every claim, and sending slows down tenfold.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Notification._meta.db_table)}")
    return created


def _sweep_reminders(now: datetime) -> int:
    """Reminder L is due from L before the start until the next shorter reminder is due.

    So a late sweep sends the one reminder that still makes sense, not all of them at once; and a
    volunteer confirmed after a reminder's moment gets none for it (the confirmation said it all).
    """
    leads = sorted(settings.NOTIFICATIONS["REMINDER_LEADS"], reverse=True)
    created = 0
    for position, lead in enumerate(leads):
        shorter = leads[position + 1] if position + 1 < len(leads) else timedelta(0)
        candidates = Assignment.objects.filter(
            Q(confirmed_at__isnull=True) | Q(confirmed_at__lte=F("shift__starts_at") - lead),
            status=Status.CONFIRMED,
            shift__status=Shift.Status.OPEN,
            shift__starts_at__gt=now + shorter,
            shift__starts_at__lte=now + lead,
        )
        created += _sweep_kind(reminder_kind(lead), candidates, now)
    return created


def _sweep_nudges(now: datetime) -> int:
    conf = settings.NOTIFICATIONS
    candidates = Assignment.objects.filter(
        status=Status.CONFIRMED,
        checked_in_at__isnull=True,
        shift__status=Shift.Status.OPEN,
        shift__starts_at__lte=now - conf["NUDGE_AFTER"],
        shift__starts_at__gt=now - conf["ESCALATE_AFTER"],
        shift__ends_at__gt=now,
    )
    return _sweep_kind(CHECKIN_NUDGE, candidates, now)


def _sweep_escalations(now: datetime) -> int:
    candidates = Assignment.objects.filter(
        status__in=(Status.CONFIRMED, Status.NO_SHOW),
        checked_in_at__isnull=True,
        shift__status=Shift.Status.OPEN,
        shift__starts_at__lte=now - settings.NOTIFICATIONS["ESCALATE_AFTER"],
        shift__ends_at__gt=now,
    )
    return _sweep_kind(ESCALATION, candidates, now)


def _sweep_kind(kind: str, candidates: QuerySet, now: datetime) -> int:
    found = list(candidates.order_by("pk").values_list("pk", "shift__starts_at", "volunteer__user_id"))
    created = 0
    for chunk in _chunks(found, SWEEP_CHUNK):
        todo = _not_yet_created(kind, chunk)
        if not todo:
            continue
        if kind == ESCALATION:
            assignments = list(
                Assignment.objects.filter(pk__in=todo)
                .select_related("shift__post", "shift__community", "volunteer__user", "volunteer__team__leader__user")
                .order_by("pk")
            )
            rows = _escalation_rows(assignments, now)
        else:
            rows = _volunteer_rows(kind, todo, now)
        _insert(rows)
        created += len(rows)
    return created


def _not_yet_created(kind: str, chunk: list[tuple]) -> list[int]:
    """Assignments of ``chunk`` with no row of ``kind`` for the current shift time yet."""
    if base_kind(kind) == REMINDER:
        # The volunteer's inbox row marks the reminder as made, per shift start time.
        markers = {
            notification_key(
                assignment_id=pk, kind=kind, channel=Channel.INAPP, user_id=user_id, ref=_stamp(starts_at)
            ): pk
            for pk, starts_at, user_id in chunk
        }
        existing = set(Notification.objects.filter(key__in=list(markers)).values_list("key", flat=True))
        return [pk for key, pk in markers.items() if key not in existing]
    ids = [pk for pk, _starts_at, _user_id in chunk]
    existing = set(
        Notification.objects.filter(assignment_id__in=ids, kind=kind).values_list("assignment_id", flat=True)
    )
    return [pk for pk in ids if pk not in existing]


def _volunteer_rows(kind: str, assignment_ids: list[int], now: datetime) -> list[Draft]:
    """The rows of one kind for each assignment's own volunteer.

    Read as plain values, with each shift's text worked out once: the sweep may make a hundred
    thousand of these in one go.
    """
    people = list(
        Assignment.objects.filter(pk__in=assignment_ids)
        .order_by("pk")
        .values_list(
            "pk",
            "shift_id",
            "volunteer__user_id",
            "volunteer__notify_by_sms",
            "volunteer__notify_by_email",
            "volunteer__mobile",
            "volunteer__anonymised_at",
            "volunteer__user__email",
            "volunteer__message_language",
        )
    )
    shifts = Shift.objects.select_related("post", "community").in_bulk({row[1] for row in people})
    # Each shift's text once per language its volunteers read (empty: the programme's).
    default = volunteer_message_language(None)
    people = [(*row[:-1], row[-1] or default) for row in people]
    texts: dict[tuple[int, str], tuple[str, str, bool, str]] = {}
    for shift_id, language in {(row[1], row[-1]) for row in people}:
        shift = shifts[shift_id]
        with translation.override(language):
            texts[shift_id, language] = (
                *render(kind, shift_context(shift)),
                _urgent(kind, shift, now),
                _stamp(shift.starts_at),
            )
    rows: list[Draft] = []
    for pk, shift_id, user_id, by_sms, by_email, mobile, anonymised_at, email, language in people:
        subject, body, urgent, ref = texts[shift_id, language]
        reachable = anonymised_at is None
        recipient = Recipient(
            user_id=user_id, sms=reachable and by_sms and bool(mobile), email=reachable and by_email and bool(email)
        )
        rows += _drafts(
            kind=kind,
            assignment_id=pk,
            shift_id=shift_id,
            recipient=recipient,
            subject=subject,
            body=body,
            urgent=urgent,
            ref=ref,
            now=now,
        )
    return rows


def _escalation_rows(assignments: list[Assignment], now: datetime) -> list[Draft]:
    """To the volunteer's team leader and the community's coordinators, one row set each."""
    coordinators = _coordinators_of({assignment.shift.community_id for assignment in assignments})
    minutes = int(settings.NOTIFICATIONS["ESCALATE_AFTER"].total_seconds() // 60)
    rows: list[Draft] = []
    for assignment in assignments:
        volunteer, shift = assignment.volunteer, assignment.shift
        people = {user.pk: user for user in coordinators[shift.community_id]}
        leader = volunteer.team.leader if volunteer.team_id and volunteer.team.leader_id else None
        if leader is not None and leader.pk != volunteer.pk:
            people.setdefault(leader.user_id, leader.user)
        if not people:
            logger.warning("no team leader or coordinator to tell that assignment %s has not checked in", assignment.pk)
        for user in people.values():
            with translation.override(volunteer_message_language(_volunteer_of(user))):
                subject, body = render(
                    ESCALATION,
                    {
                        **shift_context(shift),
                        "minutes": minutes,
                        "volunteer": volunteer.real_name,
                        # The one rule (docs/privacy.md), asked for each recipient.
                        "mobile": volunteer_mobile_display(user, volunteer),
                    },
                )
            rows += _drafts(
                kind=ESCALATION,
                assignment_id=assignment.pk,
                shift_id=shift.pk,
                recipient=user_recipient(user),
                subject=subject,
                body=body,
                urgent=True,
                ref=_stamp(shift.starts_at),
                now=now,
            )
    return rows


# --- Sending ------------------------------------------------------------------------------


@dataclass
class Outcome:
    sent: int = 0
    duplicate: int = 0  # the provider had the key already: accepted before, not sent again
    retry: int = 0
    failed: int = 0
    skipped: int = 0
    released: int = 0  # handed back unsent because the claim was getting old
    deferred: int = 0  # the provider's rate limit: back to pending, not counted as an attempt
    not_resent: int = 0  # handed to a provider by a sender that died: maybe sent, not sent again

    def add(self, other: Outcome) -> Outcome:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    @property
    def handled(self) -> int:
        return (
            self.sent
            + self.duplicate
            + self.retry
            + self.failed
            + self.skipped
            + self.released
            + self.deferred
            + self.not_resent
        )


def _sendable(rows: QuerySet, now: datetime) -> QuerySet:
    rows = rows.exclude(channel=Channel.INAPP)
    if in_quiet_hours(now):
        rows = rows.exclude(channel=Channel.SMS, urgent=False)
    return rows


def _due(now: datetime) -> QuerySet:
    return _sendable(Notification.objects.filter(state=State.PENDING, send_after__lte=now), now)


def _abandoned(now: datetime) -> QuerySet:
    """Claimed longer ago than the lease: the sender that claimed them is taken to be dead."""
    lease = settings.NOTIFICATIONS["LEASE"]
    return _sendable(Notification.objects.filter(state=State.SENDING, claimed_at__lt=now - lease), now)


def claimable(now: datetime) -> QuerySet:
    """Rows a sender may claim now: pending and due, or stuck in ``sending`` past the lease."""
    return _due(now) | _abandoned(now)


@dataclass(slots=True)
class Claimed:
    """A claimed row with what sending it needs, read as plain values (no model instances)."""

    pk: int
    key: str
    kind: str
    channel: str
    subject: str
    body: str
    urgent: bool
    attempts: int
    mobile: str | None
    email: str
    assignment_status: str | None
    checked_in: bool
    shift_status: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    assignment_id: int | None
    deferrals: int
    outside_id: str
    claimed_at: datetime


CLAIMED_FIELDS = (
    "pk",
    "key",
    "kind",
    "channel",
    "subject",
    "body",
    "urgent",
    "attempts",
    RECIPIENT_MOBILE,
    "recipient__email",
    "assignment__status",
    "assignment__checked_in_at",
    "shift__status",
    "shift__starts_at",
    "shift__ends_at",
    "assignment_id",
    "deferrals",
    "outside_id",
)


def claim(*, limit: int, keys: list[str] | None = None, now: datetime | None = None) -> list[Claimed]:
    """Take up to ``limit`` due rows for this sender alone (``pending`` → ``sending``).

    Concurrent claimers skip each other's locked rows, so a row is claimed by one sender at a
    time, and the claim's ``claimed_at`` is its token: only the holder of the latest claim can
    mark the row sent.
    """
    now = now or timezone.now()
    # Two simple queries, each served in order by the (state, send_after) index with a LIMIT:
    # one OR-ed query made PostgreSQL sort every due row on every claim.
    abandoned, due = _abandoned(now), _due(now)
    if keys is not None:
        abandoned, due = abandoned.filter(key__in=keys), due.filter(key__in=keys)
    with transaction.atomic():
        ids = list(
            abandoned.select_for_update(skip_locked=True).order_by("claimed_at").values_list("id", flat=True)[:limit]
        )
        if len(ids) < limit:
            ids += (
                due.select_for_update(skip_locked=True)
                .order_by("send_after")
                .values_list("id", flat=True)[: limit - len(ids)]
            )
        if not ids:
            return []
        claimable(now).filter(pk__in=ids).update(state=State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        values = (
            Notification.objects.filter(pk__in=ids, state=State.SENDING, claimed_at=now)
            .order_by("send_after", "id")
            .values_list(*CLAIMED_FIELDS)
        )
        return [
            Claimed(*row[:11], row[11] is not None, *row[12:], claimed_at=now)  # checked_in_at → checked_in
            for row in values
        ]


def _mine(rows: Iterable[Claimed]) -> QuerySet:
    """The rows of ``rows`` whose claim is still the one this sender made (the fencing token)."""
    rows = list(rows)
    if not rows:
        return Notification.objects.none()
    return Notification.objects.filter(
        pk__in=[row.pk for row in rows], state=State.SENDING, claimed_at=rows[0].claimed_at
    )


def _still_relevant(row: Claimed, now: datetime) -> bool:
    """A time-driven message whose moment has passed for good is not sent late."""
    kind = base_kind(row.kind)
    if kind not in (REMINDER, CHECKIN_NUDGE, ESCALATION):
        return True  # events report what happened; they stay true
    if row.assignment_status is None or row.shift_status != Shift.Status.OPEN:
        return False
    if kind == REMINDER:
        return (
            row.assignment_status == Status.CONFIRMED
            and now < row.starts_at
            and _ref_of(row.key) == _stamp(row.starts_at)
        )
    live = (Status.CONFIRMED,) if kind == CHECKIN_NUDGE else (Status.CONFIRMED, Status.NO_SHOW)
    return row.assignment_status in live and not row.checked_in and now < row.ends_at


def _backoff(attempts: int) -> timedelta:
    conf = settings.NOTIFICATIONS
    return min(conf["RETRY_BACKOFF"] * (2 ** max(attempts - 1, 0)), conf["RETRY_BACKOFF_MAX"])


def _record_results(rows: list[Claimed], results: list[backends.SmsResult], outcome: Outcome) -> None:
    now = timezone.now()
    sent = [(row, result) for row, result in zip(rows, results, strict=True) if result.ok]
    by_id: dict[str, list[Claimed]] = defaultdict(list)
    for row, result in sent:
        by_id[result.provider_id].append(row)
    for provider_id, accepted in by_id.items():
        changes = {"provider_message_id": provider_id} if provider_id else {}
        _mine(accepted).update(state=State.SENT, sent_at=now, last_error="", **changes)
    outcome.duplicate += sum(1 for _row, result in sent if result.duplicate)
    outcome.sent += sum(1 for _row, result in sent if not result.duplicate)
    for row, result in zip(rows, results, strict=True):
        if result.ok:
            continue
        if result.deferred:
            _record_deferral(row, result.error, outcome=outcome, now=now)
        else:
            _record_failure(row, result.error, permanent=result.permanent, outcome=outcome, now=now)


def _not_before(row: Claimed, moment: datetime) -> datetime:
    return quiet_hours_end(moment) if row.channel == Channel.SMS and not row.urgent else moment


def _record_deferral(row: Claimed, error: str, *, outcome: Outcome, now: datetime) -> None:
    """The provider's flow control: wait (doubling per deferral), without spending an attempt."""
    conf = settings.NOTIFICATIONS
    wait = min(conf["SMS_DEFER_BACKOFF"] * (2 ** min(row.deferrals, 16)), conf["RETRY_BACKOFF_MAX"])
    _mine([row]).update(
        state=State.PENDING,
        send_after=_not_before(row, now + wait),
        claimed_at=None,
        attempts=F("attempts") - 1,
        deferrals=F("deferrals") + 1,
        outside_id="",
        last_error=error[:300],
    )
    outcome.deferred += 1


def _record_failure(row: Claimed, error: str, *, permanent: bool, outcome: Outcome, now: datetime) -> None:
    if permanent or row.attempts >= settings.NOTIFICATIONS["MAX_ATTEMPTS"]:
        _mine([row]).update(state=State.FAILED, outside_id="", last_error=error[:300])
        outcome.failed += 1
        logger.warning("notification %s failed after %s attempts: %s", row.key, row.attempts, error)
        return
    retry_at = _not_before(row, now + _backoff(row.attempts))
    _mine([row]).update(
        state=State.PENDING, send_after=retry_at, claimed_at=None, outside_id="", last_error=error[:300]
    )
    outcome.retry += 1


def _release(rows: list[Claimed], outcome: Outcome) -> None:
    """Hand back claimed rows unsent, as if never claimed."""
    if rows:
        _mine(rows).update(state=State.PENDING, claimed_at=None, attempts=F("attempts") - 1)
        outcome.released += len(rows)


def deliver(rows: list[Claimed], *, now: datetime | None = None) -> Outcome:
    """Send rows this sender has claimed, and record what became of each."""
    outcome = Outcome()
    if not rows:
        return outcome
    now = now or timezone.now()
    started = monotonic_clock.monotonic()
    half_lease = settings.NOTIFICATIONS["LEASE"].total_seconds() / 2
    stale = [row for row in rows if not _still_relevant(row, now)]
    if stale:
        _mine(stale).update(state=State.SKIPPED, last_error="no longer applies")
        outcome.skipped += len(stale)
    max_attempts = settings.NOTIFICATIONS["MAX_ATTEMPTS"]
    stale_ids = {row.pk for row in stale}
    live = [row for row in rows if row.pk not in stale_ids]
    for row in [row for row in live if row.attempts > max_attempts]:
        # Claimed again and again without an answer: a worker dies on it. Stop and show it.
        _record_failure(row, "no answer after repeated claims", permanent=True, outcome=outcome, now=now)
    live = [row for row in live if row.attempts <= max_attempts]

    backend = backends.get_backend()
    pending_sms = [row for row in live if row.channel == Channel.SMS]
    if not backend.idempotent:
        # Handed to a provider that does not deduplicate, by a sender that died before recording
        # the answer: sending again could make a second text. Recorded as sent; the provider's
        # delivery receipt, which names the outside id, says whether it arrived.
        handed = [row for row in pending_sms if row.outside_id]
        if handed:
            _mine(handed).update(
                state=State.SENT,
                sent_at=now,
                last_error="handed to the provider before a sender stopped; not sent again",
            )
            outcome.not_resent += len(handed)
            logger.warning("%s SMS handed to the provider by a sender that stopped; not sent again", len(handed))
        pending_sms = [row for row in pending_sms if not row.outside_id]
    while pending_sms:
        if monotonic_clock.monotonic() - started > half_lease:
            _release(pending_sms, outcome)  # another sender takes them; this claim would soon expire
            break
        chunk, pending_sms = pending_sms[: backend.chunk_size], pending_sms[backend.chunk_size :]
        _send_sms_chunk(backend, chunk, outcome, now)

    email_rows = [row for row in live if row.channel == Channel.EMAIL]
    if email_rows:
        _send_emails(email_rows, outcome, now)
    return outcome


def _send_sms_chunk(backend: backends.BaseSmsBackend, rows: list[Claimed], outcome: Outcome, now: datetime) -> None:
    addressed, messages = [], []
    params = template_params(rows) if backend.uses_templates else {}
    for row in rows:
        if not row.mobile:
            _record_failure(row, "no mobile number", permanent=True, outcome=outcome, now=now)
            continue
        addressed.append(row)
        messages.append(
            backends.SmsMessage(key=row.key, to=row.mobile, text=row.body, kind=row.kind, params=params.get(row.pk, {}))
        )
    if not messages:
        return
    if not backend.idempotent:
        # Written (and committed: senders run outside transactions) before the call, so a sender
        # that dies after the provider's answer leaves rows that say they were handed over.
        outside_ids = backend.outside_ids(messages)
        _mine(addressed).update(
            outside_id=Case(
                *[When(pk=row.pk, then=Value(ref)) for row, ref in zip(addressed, outside_ids, strict=True)],
                default=Value(""),
            )
        )
    try:
        results = backend.send_messages(messages)
    except Exception as error:  # a backend that raises is one that did not accept anything
        logger.exception("SMS backend failed on %s messages", len(messages))
        results = [backends.SmsResult.failed(f"{type(error).__name__}: {error}")] * len(messages)
    _record_results(addressed, results, outcome)


def _message_id(key: str) -> str:
    return f"<{key.replace(':', '.')}@{settings.NOTIFICATIONS['MESSAGE_ID_DOMAIN']}>"


def _send_emails(rows: list[Claimed], outcome: Outcome, now: datetime) -> None:
    sender = settings.NOTIFICATIONS["EMAIL_FROM"] or settings.DEFAULT_FROM_EMAIL
    connection = mail.get_connection()
    try:
        connection.open()
    except Exception as error:
        for row in rows:
            _record_failure(row, f"{type(error).__name__}: {error}", permanent=False, outcome=outcome, now=now)
        return
    try:
        for row in rows:
            if not row.email:
                _record_failure(row, "no email address", permanent=True, outcome=outcome, now=now)
                continue
            message = mail.EmailMessage(
                subject=row.subject,
                body=row.body,
                from_email=sender,
                to=[row.email],
                headers={"Message-ID": _message_id(row.key)},  # lets the receiving side drop a resend
                connection=connection,
            )
            try:
                message.send()
            except smtplib.SMTPRecipientsRefused as error:
                _record_results([row], [backends.SmsResult.failed(str(error), permanent=True)], outcome)
            except Exception as error:
                _record_results([row], [backends.SmsResult.failed(f"{type(error).__name__}: {error}")], outcome)
            else:
                _record_results([row], [backends.SmsResult(ok=True)], outcome)
    finally:
        connection.close()


def send_due(*, keys: list[str] | None = None, limit: int | None = None, now: datetime | None = None) -> Outcome:
    """Claim one batch of due rows (only ``keys``, when given) and send it."""
    limit = limit or settings.NOTIFICATIONS["BATCH_SIZE"]
    return deliver(claim(limit=limit, keys=keys, now=now), now=now)


def drain(*, seconds: float | None = None, now: datetime | None = None) -> tuple[Outcome, bool]:
    """Send batch after batch until nothing is due (``True``) or the time budget is spent (``False``).

    ``now`` fixes the clock (tests); by default each batch reads it afresh.
    """
    budget = settings.NOTIFICATIONS["DRAIN_SECONDS"] if seconds is None else seconds
    deadline = monotonic_clock.monotonic() + budget
    total = Outcome()
    while monotonic_clock.monotonic() < deadline:
        moment = now or timezone.now()
        rows = claim(limit=settings.NOTIFICATIONS["BATCH_SIZE"], now=moment)
        if not rows:
            return total, True
        total.add(deliver(rows, now=moment))
    return total, False


def start_drains(*, now: datetime | None = None) -> int:
    """Enqueue enough send tasks for what is due now, at most ``DRAIN_TASKS``."""
    due = claimable(now or timezone.now()).count()
    if not due:
        return 0
    count = min(math.ceil(due / settings.NOTIFICATIONS["BATCH_SIZE"]), settings.NOTIFICATIONS["DRAIN_TASKS"])
    for _drain in range(count):
        enqueue_send(None)
    return count


# --- The inbox and the failed list (reads and writes for the API) -------------------------


def inbox_list(*, user, unread: bool | None = None) -> QuerySet:
    rows = Notification.objects.filter(recipient=user, channel=Channel.INAPP).order_by("-created_at", "-id")
    if unread is True:
        rows = rows.filter(read_at__isnull=True)
    elif unread is False:
        rows = rows.filter(read_at__isnull=False)
    return rows


def notification_mark_read(*, user, notification_id: int, now: datetime | None = None) -> Notification:
    now = now or timezone.now()
    mine = Notification.objects.filter(pk=notification_id, recipient=user, channel=Channel.INAPP)
    mine.filter(read_at__isnull=True).update(read_at=now)
    try:
        return mine.get()
    except Notification.DoesNotExist:
        raise ServiceError("not_found") from None


def notifications_mark_all_read(*, user, now: datetime | None = None) -> int:
    return inbox_list(user=user, unread=True).update(read_at=now or timezone.now())


# --- Template parameters and delivery receipts (SMS providers) -----------------------------


def _masked_name(name: str) -> str:
    """A name as a text to a third party may carry it: the family name, the rest masked."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def template_params(rows: Iterable[Claimed]) -> dict[int, dict]:
    """Each row's template parameters (``NOTIFICATIONS["SMS_TEMPLATES"]`` names them), in the
    programme's language, read afresh from its assignment: provider templates are approved in
    Chinese. An escalation names the volunteer by family name only; no parameter holds a
    mobile number, an ID number or a link."""
    rows = list(rows)
    params: dict[int, dict] = _application_params([row for row in rows if row.kind in APPLICATION_KINDS])
    rows = [row for row in rows if row.kind not in APPLICATION_KINDS]
    assignments = Assignment.objects.select_related("shift__post", "shift__community", "volunteer").in_bulk(
        {row.assignment_id for row in rows if row.assignment_id}
    )
    minutes = int(settings.NOTIFICATIONS["ESCALATE_AFTER"].total_seconds() // 60)
    params: dict[int, dict] = {}
    # A deployment's message carries its parameters (``dispatch_announce``, ``recall_announce``): nothing to read afresh.
    carried = [row.pk for row in rows if not row.assignment_id]
    if carried:
        for pk, values in Notification.objects.filter(pk__in=carried, params__isnull=False).values_list("pk", "params"):
            params[pk] = values

    with translation.override(settings.NOTIFICATIONS["LANGUAGE"]):
        for row in rows:
            assignment = assignments.get(row.assignment_id)
            if assignment is None:
                from communities.notifications.records import record_template_params  # a person, not a shift

                record = record_template_params(row)
                if record is not None:
                    params[row.pk] = record
                continue
            context = shift_context(assignment.shift)
            values = {
                "community": context["community"],
                "post": context["post"],
                "time": _sms_when(assignment.shift.starts_at, assignment.shift.ends_at),
                "start": context["start"],
            }
            kind = base_kind(row.kind)
            if kind == WAITLISTED:
                values["position"] = max(
                    Assignment.objects.filter(
                        shift_id=assignment.shift_id,
                        status=Status.WAITLISTED,
                        waitlist_order__lte=assignment.waitlist_order or 0,
                    ).count(),
                    1,
                )
            elif kind == ESCALATION:
                values["minutes"] = minutes
                values["name"] = _masked_name(assignment.volunteer.real_name)
            elif kind == CHECKIN_LOCKED:
                values["name"] = _masked_name(assignment.volunteer.real_name)
            params[row.pk] = values
    params.update(_keyed_params([row for row in rows if not row.assignment_id]))
    return params


APPLICATION_KINDS = (APPLICATION_APPROVED, APPLICATION_REJECTED)


def _application_params(rows: list) -> dict[int, dict]:
    """The call's title and the organisation (approval) or the reason (rejection), read afresh
    from the application the key names (``app<id>:…``)."""
    ids = {int(row.key.split(":", 1)[0].removeprefix("app")) for row in rows}
    applications = CallApplication.objects.select_related("call", "organization", "volunteer__organization").in_bulk(
        ids
    )
    params = {}
    for row in rows:
        application = applications.get(int(row.key.split(":", 1)[0].removeprefix("app")))
        if application is None:
            continue
        values = {"call": application.call.title}
        if row.kind == APPLICATION_APPROVED:
            # An existing volunteer keeps their organisation; a newcomer joins the one chosen.
            values["organization"] = (application.volunteer or application).organization.name
        else:
            values["reason"] = application.reject_reason
        params[row.pk] = values
    return params


def sms_receipt_token_check(*, provider: str, token: str) -> None:
    """Refuse a receipt push without the provider's shared secret (none configured: refuse all)."""
    expected = settings.NOTIFICATIONS.get(f"SMS_{provider.upper()}", {}).get("RECEIPT_TOKEN", "")
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ServiceError("permission_denied")


def _phone_matches(mobile: str | None, reported: str) -> bool:
    """Whether a receipt's number (possibly masked, ``1381111****``) is this mobile number."""
    mine, theirs = national_number(mobile or ""), national_number(reported)
    if not theirs or len(mine) != len(theirs):
        return False
    return all(b in ("*", a) for a, b in zip(mine, theirs, strict=True))


def delivery_receipts_record(*, receipts: list, now: datetime | None = None) -> dict[str, int]:
    """Apply a provider's delivery receipts: ``sent`` (or ``sending``, when the receipt beats our
    own mark) becomes ``delivered`` or ``undelivered`` with the provider's code.

    A receipt finds its row by the outside id (the notification key, or a batch reference and the
    phone number) or by the provider's message id with the phone number. Idempotent: a repeated
    receipt finds the row already settled and changes nothing; an unknown one is ignored.
    """
    now = now or timezone.now()
    counts = {"applied": 0, "unchanged": 0, "unknown": 0}
    for receipt in receipts:
        found = Q()
        if receipt.outside_id:
            found |= Q(key=receipt.outside_id) | Q(outside_id=receipt.outside_id)
        if receipt.provider_id:
            found |= Q(provider_message_id=receipt.provider_id)
        if not found:
            counts["unknown"] += 1
            continue
        candidates = list(Notification.objects.filter(found, channel=Channel.SMS).values_list("pk", RECIPIENT_MOBILE))
        if len(candidates) > 1:
            candidates = [row for row in candidates if _phone_matches(row[1], receipt.phone)]
        if len(candidates) != 1:
            counts["unknown"] += 1
            continue
        changed = Notification.objects.filter(pk=candidates[0][0], state__in=(State.SENDING, State.SENT)).update(
            state=State.DELIVERED if receipt.delivered else State.UNDELIVERED,
            delivery_code=receipt.code[:64],
            delivered_at=now,
            sent_at=Coalesce(F("sent_at"), Value(now)),
        )
        counts["applied" if changed else "unchanged"] += 1
    return counts


def _deployment_texts_q(communities) -> Q:
    """Dispatch and recall messages to the volunteers sent to or recalled from ``communities``.
    They name no shift: the key's head names the dispatch (``d<id>``, ``dispatch_announce``) or the
    recall (``r<id>``, ``recall_announce``), whose community decides."""
    head = Func(OuterRef("key"), Value(":"), Value(1), function="split_part", output_field=CharField())

    def tagged(model, letter: str):
        return (
            model.objects.filter(community__in=communities)
            .annotate(tag=Concat(Value(letter), Cast("pk", CharField())))
            .filter(tag=head)
        )

    sent = Q(kind=DISPATCHED, shift=None) & Exists(tagged(Dispatch, "d"))
    recalled = Q(kind=RECALLED, shift=None) & Exists(tagged(Recall, "r"))
    return sent | recalled


def _failed_scope(user) -> Q | None:
    """Which messages a person may see failures of; ``None`` for all (superusers)."""
    if user.is_superuser:
        return None
    scope = Q()
    if user.coordinated_communities.exists():
        communities = Community.objects.filter(coordinators=user).values("pk")
        scope |= Q(shift__community__in=communities) | _deployment_texts_q(communities)
    if user.staff_roles.exists():
        scope |= Q(recipient__volunteer__organization__in=organization_subtree(user).values("pk"))
    if not scope:
        raise ServiceError("permission_denied")
    return scope


def failed_list(*, user) -> QuerySet:
    """Failed messages a coordinator (about their communities' shifts, and the dispatch and recall
    texts of volunteers sent to or recalled from them) or staff (their organizations' volunteers) may see."""
    scope = _failed_scope(user)
    rows = (
        Notification.objects.filter(state__in=(State.FAILED, State.UNDELIVERED))
        .select_related("recipient__volunteer", "shift__community")
        .order_by("-created_at", "-id")
    )
    return rows if scope is None else rows.filter(scope)


@transaction.atomic
def notification_retry(*, user, notification_id: int, now: datetime | None = None) -> Notification:
    """Send a failed message again, under the same key (a provider that took it once will not repeat it)."""
    now = now or timezone.now()
    scope = _failed_scope(user)
    visible = Notification.objects.filter(pk=notification_id)
    if scope is not None:
        visible = visible.filter(scope)
    if not visible.exists():
        raise ServiceError("not_found")
    row = Notification.objects.select_for_update().get(pk=notification_id)
    if row.state not in (State.FAILED, State.UNDELIVERED):
        raise ServiceError("notification_not_failed", {"state": row.state})
    row.state, row.attempts, row.claimed_at, row.last_error = State.PENDING, 0, None, ""
    row.deferrals, row.outside_id, row.provider_message_id, row.delivery_code, row.delivered_at = 0, "", "", "", None
    row.send_after = now if row.urgent or row.channel != Channel.SMS else quiet_hours_end(now)
    row.save(
        update_fields=[
            "state",
            "attempts",
            "claimed_at",
            "last_error",
            "send_after",
            "deferrals",
            "outside_id",
            "provider_message_id",
            "delivery_code",
            "delivered_at",
        ]
    )
    _send_after_commit(_due_keys([row], now))
    return row


def failed_communities_attach(rows: Iterable[Notification]) -> None:
    """Set ``row.about_community`` on each failed message: its shift's community, or, for a message
    about no shift, the community its key names (a dispatch ``d<id>``, a recall ``r<id>``, a team
    dispatch's community left ``d<id>.c<community>``, a community request ``r<id>``); ``None`` for a
    call-out or an answer to a recruitment call. At most one query per kind of key on the page."""
    from communities.models import CommunityRequest

    rows = list(rows)
    wanted: dict[str, set[int]] = defaultdict(set)
    refs: dict[int, tuple[str, int]] = {}
    for row in rows:
        if row.shift_id is not None:
            continue
        head = row.key.split(":", 1)[0]
        if ".c" in head and row.kind == RECALL_LEAVING:
            ref = ("community", int(head.rsplit(".c", 1)[1]))
        elif head.startswith("d") and row.kind in (DISPATCHED, ARRIVING):
            ref = ("dispatch", int(head[1:]))
        elif head.startswith("r") and row.kind in (RECALLED, RECALL_LEAVING):
            ref = ("recall", int(head[1:]))
        elif head.startswith("r") and row.kind in REQUEST_KINDS:
            ref = ("request", int(head[1:]))
        else:
            continue
        refs[row.pk] = ref
        wanted[ref[0]].add(ref[1])
    found = {
        "community": Community.objects.in_bulk(wanted["community"]) if wanted["community"] else {},
        **{
            kind: {pk: obj.community for pk, obj in model.objects.select_related("community").in_bulk(ids).items()}
            for kind, model in (("dispatch", Dispatch), ("recall", Recall), ("request", CommunityRequest))
            if (ids := wanted[kind])
        },
    }
    for row in rows:
        if row.shift_id is not None:
            row.about_community = row.shift.community
        elif row.pk in refs:
            kind, pk = refs[row.pk]
            row.about_community = found.get(kind, {}).get(pk)
        else:
            row.about_community = None


def failed_recipient_name(row: Notification) -> str:
    volunteer = _volunteer_of(row.recipient)
    return volunteer.real_name if volunteer is not None else row.recipient.get_username()


# --- Messages about a community request or a call-out ----------------------------------------


def _request_context(request, *, sent: int = 0) -> dict:
    return {
        "wanted": request.wanted,
        "community": request.community.display_name,
        "dates": _request_dates(request),
        "sent": sent,
        "missing": request.missing,
        "reason": request.decline_reason,
        "dispatched": request.dispatched,
    }


def _request_dates(request) -> str:
    form = pgettext("request dates", "M j")
    first = dateformat.format(request.date_from, form)
    last = dateformat.format(request.date_to, form)
    hours = f"{request.time_from:%H:%M}–{request.time_to:%H:%M}"
    return f"{first} {hours}" if first == last else f"{first}–{last} {hours}"


def community_request_event(kind: str, *, request, sent: int = 0, ref: str = "", now: datetime) -> list[str]:
    """Tell the coordinators of the request's community about ``kind``, each in their language.

    Inside the caller's transaction, like ``assignment_event``: keyed ``r<request>:<kind>[.<ref>]``,
    so a step told twice is told once."""
    if kind not in REQUEST_KINDS:
        raise ValueError(f"unknown request event {kind!r}")
    people = _coordinators_of({request.community_id})[request.community_id]
    rows: list[Draft] = []
    for user in people:
        with translation.override(volunteer_message_language(_volunteer_of(user))):
            subject, body = render(kind, _request_context(request, sent=sent))
        rows += _drafts(
            kind=kind,
            assignment_id=None,
            shift_id=None,
            recipient=user_recipient(user),
            subject=subject,
            body=body,
            urgent=False,
            ref=ref,
            now=now,
            key_base=f"r{request.pk}",
        )
    _insert(rows)
    _send_after_commit(_due_keys(rows, now))
    return [row.key for row in rows]


@dataclass(frozen=True)
class CallOutSms:
    """The SMS of a call-out, as the volunteer's phone shows it (before the provider's 【签名】)."""

    summary: str  # subject and message, within the provider's limit on a variable (the template's `message`)
    code: str  # the call-out's number in its short link (the template's `code`)
    link: str  # the short link to the call-out in the reader's inbox
    text: str
    cut: bool  # the summary leaves part of the subject and message out (ends with "…")


def broadcast_sms(*, subject: str, message: str, broadcast_id: int) -> CallOutSms:
    """The one place a call-out's SMS is written: the summary cut to the configured backend's
    limit on a template variable (``param_max_length``; none for backends that send the text
    itself), with an ellipsis when cut, then the short link ``SITE_URL/m/<id>/`` that opens the
    whole message in the reader's inbox. Written in ``NOTIFICATIONS["LANGUAGE"]``, like the
    provider's template (docs/sms-templates.md), so the preview shows what is sent."""
    with translation.override(settings.NOTIFICATIONS["LANGUAGE"]):
        subject, message = subject.strip(), message.strip()
        whole = str(_("%(subject)s: %(message)s") % {"subject": subject, "message": message})
        whole = whole if subject and message else subject or message
        whole = clean_param(whole, len(whole))  # one line, no links: what a template variable may hold
        limit = backends.param_max_length()
        summary = clean_param(whole, limit) if limit else whole
        link = f"{settings.SITE_URL}{reverse('broadcast-short', args=[broadcast_id])}"
        text = str(_("Volunteer notice: %(summary)s Details: %(link)s") % {"summary": summary, "link": link})
    return CallOutSms(summary=summary, code=str(broadcast_id), link=link, text=text, cut=summary != whole)


def broadcast_rows(broadcast, people: list[tuple], *, now: datetime) -> list[Draft]:
    """The rows of a call-out for ``people`` (``(user_id, by_sms, by_email, mobile, anonymised_at,
    email)`` each): the inbox always; SMS when the call-out goes by SMS and the person takes SMS;
    email as the person chose. SMS waits for the end of quiet hours unless the call-out is urgent."""
    shift_id = broadcast.link_shift_id or broadcast.shift_id
    sms = broadcast_sms(subject=broadcast.subject, message=broadcast.message, broadcast_id=broadcast.pk)
    rows: list[Draft] = []
    for user_id, by_sms, by_email, mobile, anonymised_at, email in people:
        reachable = anonymised_at is None
        recipient = Recipient(
            user_id=user_id,
            sms=broadcast.by_sms and reachable and by_sms and bool(mobile),
            email=reachable and by_email and bool(email),
        )
        rows += _drafts(
            kind=BROADCAST,
            assignment_id=None,
            shift_id=shift_id,
            recipient=recipient,
            subject=broadcast.subject,
            body=broadcast.message,
            urgent=broadcast.urgent,
            ref="",
            now=now,
            key_base=f"b{broadcast.pk}",
        )
    for row in rows:
        if row.channel == Channel.SMS:
            row.body = sms.text  # the inbox and email carry the whole message
    return rows


def broadcast_insert(rows: list[Draft], *, now: datetime) -> None:
    """Insert a call-out's rows (existing keys are left alone) and send the due ones after commit."""
    _insert(rows)
    _send_after_commit(_due_keys(rows, now))


def _keyed_params(rows: list[Claimed]) -> dict[int, dict]:
    """Template parameters of the rows not about an assignment, read afresh when sent."""
    from communities.models import Broadcast, CommunityRequest

    params: dict[int, dict] = {}
    request_ids = {
        int(row.key.split(":")[0][1:]) for row in rows if row.kind in REQUEST_KINDS and row.key.startswith("r")
    }
    requests = CommunityRequest.objects.select_related("community").in_bulk(request_ids)
    call_outs = Broadcast.objects.only("subject", "message").in_bulk(
        {int(row.key.split(":")[0][1:]) for row in rows if row.kind == BROADCAST}
    )
    sms = {
        pk: broadcast_sms(subject=call_out.subject, message=call_out.message, broadcast_id=pk)
        for pk, call_out in call_outs.items()
    }
    with translation.override(settings.NOTIFICATIONS["LANGUAGE"]):
        for row in rows:
            if row.kind == BROADCAST:
                text = sms.get(int(row.key.split(":")[0][1:]))
                if text is not None:
                    params[row.pk] = {"message": text.summary, "code": text.code}
            elif row.kind in REQUEST_KINDS:
                request = requests.get(int(row.key.split(":")[0][1:]))
                if request is not None:
                    context = _request_context(request)
                    names = settings.NOTIFICATIONS["SMS_TEMPLATES"][row.kind]["params"]
                    params[row.pk] = {name: context[name] for name in names}
    return params
