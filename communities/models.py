"""Places, duties and time: districts, streets, communities, posts, shifts and assignments.

The rules that must hold under concurrency live in the database (see docs/concurrency.md):
a shift ends after it starts, holds at least one place, and never confirms more volunteers than
its capacity (``confirmed_count`` is a counter with a check constraint, changed only by atomic
conditional updates in ``communities.services.signup``); a volunteer holds at most one live assignment
per shift (a partial unique index).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from volunteers.models import Named


class District(Named):
    code = models.CharField(_("code"), max_length=16, unique=True)

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        ordering = ["code"]


class Street(Named):
    district = models.ForeignKey(District, verbose_name=_("district"), on_delete=models.PROTECT, related_name="streets")

    class Meta:
        verbose_name = _("street")
        verbose_name_plural = _("streets")
        ordering = ["district_id", "name"]
        constraints = [models.UniqueConstraint(fields=["district", "name"], name="street_name_unique_in_district")]


class Community(Named):
    code = models.CharField(_("code"), max_length=32, unique=True)
    street = models.ForeignKey(Street, verbose_name=_("street"), on_delete=models.PROTECT, related_name="communities")
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    geofence_radius_m = models.PositiveIntegerField(
        _("check-in radius (m)"),
        null=True,
        blank=True,
        help_text=_(
            "With coordinates set, check-ins from farther away are flagged for the coordinator; never refused."
        ),
    )
    coordinators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("coordinators"), blank=True, related_name="coordinated_communities"
    )

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | (Q(latitude__gte=-90) & Q(latitude__lte=90)),
                name="community_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | (Q(longitude__gte=-180) & Q(longitude__lte=180)),
                name="community_longitude_range",
            ),
        ]


class PostType(Named):
    """A duty: checkpoint, on-duty watch, temperature checks, order keeping, screening, publicity …"""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    description = models.TextField(_("description"), blank=True)
    required_skills = models.ManyToManyField("volunteers.Skill", verbose_name=_("required skills"), blank=True)
    required_qualifications = models.ManyToManyField(
        "volunteers.QualificationType", verbose_name=_("required qualifications"), blank=True
    )
    requires_insurance = models.BooleanField(_("requires accident insurance"), default=False)
    min_age = models.PositiveSmallIntegerField(_("minimum age"), default=18)

    class Meta:
        verbose_name = _("post type")
        verbose_name_plural = _("post types")
        ordering = ["code"]


class Post(models.Model):
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="posts"
    )
    post_type = models.ForeignKey(PostType, verbose_name=_("post type"), on_delete=models.PROTECT, related_name="posts")
    name = models.CharField(_("name"), max_length=100)
    location = models.CharField(_("location"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["community_id", "name"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="post_name_unique_in_community")]

    def __str__(self) -> str:
        return self.name


def new_checkin_secret() -> str:
    return secrets.token_hex(20)


MAX_SHIFT_LENGTH = timedelta(hours=24)


class Shift(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CANCELLED = "cancelled", _("Cancelled")

    post = models.ForeignKey(Post, verbose_name=_("post"), on_delete=models.PROTECT, related_name="shifts")
    # Copied from the post so lists filter and scope without a join; set by the services.
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="shifts"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("capacity"))
    # Places taken: assignments that are confirmed, completed or marked no-show. Attendance
    # changes (check-out, no-show) keep the place; only a cancellation gives it back.
    confirmed_count = models.PositiveIntegerField(_("confirmed"), default=0, editable=False)
    waitlist_count = models.PositiveIntegerField(_("waitlisted"), default=0, editable=False)
    # Next waitlist ticket; only ever grows, so FIFO order survives cancellations.
    waitlist_seq = models.PositiveIntegerField(default=0, editable=False)
    signup_opens_at = models.DateTimeField(_("sign-up opens"), null=True, blank=True)
    signup_closes_at = models.DateTimeField(_("sign-up closes"), null=True, blank=True)
    cancel_cutoff_at = models.DateTimeField(_("cancellation cutoff"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    notes = models.CharField(_("notes"), max_length=200, blank=True)
    checkin_secret = models.CharField(max_length=64, default=new_checkin_secret, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["community", "starts_at"]),
            # The shift list's order, with the end time alongside: a page of shifts not yet ended
            # is read in order and a count needs no table rows.
            models.Index(fields=["starts_at", "id"], include=["ends_at"], name="shift_start_order"),
            models.Index(fields=["post", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start"),
            # A shift is at most a day; the list of shifts not yet ended relies on it to start its
            # index scan a day back instead of at the first shift ever (communities/selectors/shifts.py).
            models.CheckConstraint(
                condition=Q(ends_at__lte=F("starts_at") + MAX_SHIFT_LENGTH),
                name="shift_at_most_24_hours",
                violation_error_message=_("A shift lasts at most 24 hours."),
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="shift_capacity_at_least_one"),
            models.CheckConstraint(
                condition=Q(confirmed_count__gte=0) & Q(confirmed_count__lte=F("capacity")),
                name="shift_confirmed_within_capacity",
            ),
            models.CheckConstraint(condition=Q(waitlist_count__gte=0), name="shift_waitlist_count_non_negative"),
        ]

    def __str__(self) -> str:
        local = timezone.localtime(self.starts_at)
        return f"{self.post} {local:%Y-%m-%d %H:%M}"

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @property
    def has_space(self) -> bool:
        return self.confirmed_count < self.capacity


class Assignment(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        WAITLISTED = "waitlisted", _("Waitlisted")
        CANCELLED = "cancelled", _("Cancelled")
        NO_SHOW = "no_show", _("No-show")
        COMPLETED = "completed", _("Completed")

    class Source(models.TextChoices):
        SELF = "self", _("Signed up")
        COORDINATOR = "coordinator", _("Assigned by a coordinator")
        DISPATCH = "dispatch", _("Dispatched")

    class HoursStatus(models.TextChoices):
        NONE = "none", _("Not yet credited")
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")

    # Statuses that hold the volunteer's place on the shift: at most one per volunteer and shift.
    LIVE_STATUSES = (Status.CONFIRMED, Status.WAITLISTED, Status.NO_SHOW, Status.COMPLETED)
    # Statuses counted in ``Shift.confirmed_count``.
    PLACE_STATUSES = (Status.CONFIRMED, Status.NO_SHOW, Status.COMPLETED)

    shift = models.ForeignKey(Shift, verbose_name=_("shift"), on_delete=models.PROTECT, related_name="assignments")
    volunteer = models.ForeignKey(
        "volunteers.Volunteer", verbose_name=_("volunteer"), on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.SELF)
    waitlist_order = models.PositiveIntegerField(_("waitlist ticket"), null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    override_reason = models.CharField(_("eligibility override reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("checked out at"), null=True, blank=True)
    checkin_method = models.CharField(_("check-in method"), max_length=16, blank=True)
    checkout_method = models.CharField(_("check-out method"), max_length=16, blank=True)
    checkin_flagged = models.BooleanField(_("check-in needs review"), default=False)
    checkin_distance_m = models.PositiveIntegerField(_("distance from the post (m)"), null=True, blank=True)
    no_show_at = models.DateTimeField(_("marked no-show at"), null=True, blank=True)
    credited_minutes = models.PositiveIntegerField(_("credited minutes"), null=True, blank=True)
    hours_status = models.CharField(_("hours"), max_length=16, choices=HoursStatus.choices, default=HoursStatus.NONE)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verified by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    # Set in the same transaction as any change that may move the tallies; cleared once they are
    # recounted. Durable, so a change made while the broker is down is still counted later.
    tally_pending = models.BooleanField(default=False, editable=False)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["shift__starts_at", "id"]
        indexes = [
            models.Index(fields=["volunteer", "status"]),
            models.Index(fields=["shift", "status"]),
            models.Index(fields=["tally_pending"], condition=Q(tally_pending=True), name="assignment_tally_pending"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["shift", "volunteer"],
                condition=~Q(status="cancelled"),
                name="one_live_assignment_per_volunteer_and_shift",
            ),
            models.UniqueConstraint(
                fields=["shift", "waitlist_order"],
                condition=Q(status="waitlisted"),
                name="one_waitlist_ticket_per_shift",
            ),
            models.CheckConstraint(
                condition=Q(status="waitlisted", waitlist_order__isnull=False) | ~Q(status="waitlisted"),
                name="waitlisted_has_ticket",
            ),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True)
                | (Q(checked_in_at__isnull=False) & Q(checked_out_at__gte=F("checked_in_at"))),
                name="checkout_after_checkin",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id} @ {self.shift_id} ({self.status})"


class CheckinCodeAttempts(models.Model):
    """Wrong check-in codes for one assignment; at ``RULES["CHECKIN_CODE_LOCK_AFTER"]`` its code
    check-in is locked and its coordinators are told (``attendance.assignment_check_in``).

    A table of its own rather than columns of the assignment, which the sign-up function inserts
    column by column; written only under the assignment's row lock. No row: no wrong codes.
    """

    assignment = models.OneToOneField(
        Assignment, primary_key=True, on_delete=models.CASCADE, related_name="code_attempts"
    )
    failures = models.PositiveSmallIntegerField(_("wrong check-in codes"), default=0)
    locked_at = models.DateTimeField(_("code check-in locked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("check-in code attempts")
        verbose_name_plural = _("check-in code attempts")

    def __str__(self) -> str:
        return f"{self.assignment_id}: {self.failures}"


class CheckinCodeGuard(models.Model):
    """A volunteer's wrong check-in codes in the current code step, over all their assignments.

    One row per volunteer, changed only by a conditional UPDATE that takes a place below the
    limit (``attendance._take_code_attempt``), so concurrent guesses cannot pass it.
    """

    volunteer = models.OneToOneField(
        "volunteers.Volunteer", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    step = models.BigIntegerField(default=0)
    failures = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("check-in code guard")
        verbose_name_plural = _("check-in code guards")

    def __str__(self) -> str:
        return f"{self.volunteer_id}: {self.failures} at {self.step}"


class AuditEntry(models.Model):
    """Every change to attendance or hours: who, when, before, after, why. Never updated or deleted."""

    class Action(models.TextChoices):
        SIGN_UP = "sign_up", _("Signed up")
        ASSIGN = "assign", _("Assigned")
        OVERRIDE = "override", _("Eligibility overridden")
        CANCEL = "cancel", _("Cancelled")
        CHECK_IN = "check_in", _("Checked in")
        CHECK_OUT = "check_out", _("Checked out")
        MANUAL_CHECK_IN = "manual_check_in", _("Checked in by a coordinator")
        MANUAL_CHECK_OUT = "manual_check_out", _("Checked out by a coordinator")
        NO_SHOW = "no_show", _("Marked no-show")
        NO_SHOW_CLEARED = "no_show_cleared", _("No-show cleared")
        HOURS_CREDITED = "hours_credited", _("Hours credited")
        HOURS_APPROVED = "hours_approved", _("Hours approved")
        HOURS_ADJUSTED = "hours_adjusted", _("Hours adjusted")
        SHIFT_CHANGED = "shift_changed", _("Shift changed")
        SHIFT_CANCELLED = "shift_cancelled", _("Shift cancelled")
        CHECKIN_LOCKED = "checkin_locked", _("Code check-in locked")
        REOPENED = "reopened", _("Check-out reopened")
        DISPATCHED = "dispatched", _("Dispatched to a community")
        RECALLED = "recalled", _("Recalled to the reserve")
        VOLUNTEER_IMPORTED = "volunteer_imported", _("Volunteer record updated by an import")
        VOLUNTEER_CHANGED = "volunteer_changed", _("Volunteer record changed")
        QUALIFICATION_CHANGED = "qualification_changed", _("Qualification changed")
        MOBILE_CHANGED = "mobile_changed", _("Mobile number changed")
        CHANGE_REQUESTED = "change_requested", _("Change requested")
        CHANGE_APPROVED = "change_approved", _("Change approved")
        CHANGE_REJECTED = "change_rejected", _("Change rejected")
        APPLICATION_ANONYMISED = "application_anonymised", _("Application's personal data deleted")
        CORRECTION_REPORTED = "correction_reported", _("Error in a service record reported")
        CORRECTION_DECIDED = "correction_decided", _("Reported error answered")

    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    shift = models.ForeignKey(Shift, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries")
    # A change to a volunteer's record or deployment (dispatch, recall, an import's update, a staff edit).
    volunteer = models.ForeignKey(
        "volunteers.Volunteer", null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.assignment_id or self.shift_id or self.volunteer_id}"


class Dispatch(models.Model):
    """The league committee sends a team, or reserve volunteers by criteria, to a community."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="dispatches"
    )
    team = models.ForeignKey(
        "volunteers.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested = models.PositiveIntegerField(_("volunteers requested"), default=0)
    criteria = models.JSONField(_("criteria"), default=dict, blank=True)
    volunteers = models.ManyToManyField("volunteers.Volunteer", verbose_name=_("volunteers"), related_name="dispatches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("dispatched at"), default=timezone.now)
    # When the volunteers are to report at the community (the texts say "from …").
    report_at = models.DateTimeField(_("report from"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    request = models.ForeignKey(
        "communities.CommunityRequest",
        verbose_name=_("community request"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dispatches",
    )

    class Meta:
        verbose_name = _("dispatch")
        verbose_name_plural = _("dispatches")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.community} {self.created_at:%Y-%m-%d}"


class Recall(models.Model):
    """A volunteer returned from a community to the reserve (``services.coordination.volunteers_recall``).

    At most one per dispatch and volunteer: the row is the recall's record and the key of the
    messages that announce it. ``dispatch`` is empty for a volunteer deployed without one.
    """

    dispatch = models.ForeignKey(
        Dispatch, verbose_name=_("dispatch"), null=True, blank=True, on_delete=models.PROTECT, related_name="recalls"
    )
    volunteer = models.ForeignKey(
        "volunteers.Volunteer", verbose_name=_("volunteer"), on_delete=models.PROTECT, related_name="recalls"
    )
    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="+")
    recalled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recalled_at = models.DateTimeField(_("recalled at"), default=timezone.now)
    places_released = models.PositiveIntegerField(_("places released"), default=0)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("recall")
        verbose_name_plural = _("recalls")
        ordering = ["-recalled_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["dispatch", "volunteer"], name="recall_once_per_dispatch"),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id} ← {self.community_id}"


class Notification(models.Model):
    """One message to one person on one channel. Its ``key`` makes sending it twice impossible."""

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")
        INAPP = "inapp", _("In-app")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not sent: no longer applies")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Not delivered")

    key = models.CharField(max_length=160, unique=True)
    kind = models.CharField(_("kind"), max_length=32)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="notifications"
    )
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    shift = models.ForeignKey(Shift, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    urgent = models.BooleanField(_("urgent"), default=False)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    send_after = models.DateTimeField(_("not before"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # SMS through a provider (docs/notifications.md): the outside id the row was handed over
    # under (set just before the provider call: a claimed row that has one was maybe sent), the
    # provider's message id, rate-limit deferrals (not attempts), and what the receipt said.
    # Database defaults: the sign-up function and ``notifications._insert`` leave them out.
    outside_id = models.CharField(_("outside id"), max_length=200, blank=True, db_default="")
    provider_message_id = models.CharField(_("provider message id"), max_length=64, blank=True, db_default="")
    deferrals = models.PositiveSmallIntegerField(_("deferrals"), db_default=0)
    delivery_code = models.CharField(_("delivery code"), max_length=64, blank=True, db_default="")
    delivered_at = models.DateTimeField(_("receipt at"), null=True, blank=True)
    # A message about no assignment (a dispatch, a recall) carries its SMS template parameters,
    # fixed when it is created; an assignment's are read afresh from the assignment.
    params = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "send_after"]),
            models.Index(fields=["recipient", "channel", "-created_at"]),
            models.Index(fields=["outside_id"], condition=~Q(outside_id=""), name="notification_outside_id"),
            models.Index(
                fields=["provider_message_id"], condition=~Q(provider_message_id=""), name="notification_provider_msg"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class DailyTally(models.Model):
    """Credited minutes per day × community × post type × organization × team (0 = no team).

    Kept by ``communities.services.tallies``: each cell is recomputed from its assignments, so applying
    a change twice gives the same cell, and the nightly recount can only find drift, not cause it.
    """

    date = models.DateField(_("date"))
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    post_type = models.ForeignKey(PostType, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey("volunteers.Organization", on_delete=models.CASCADE, related_name="+")
    team_key = models.PositiveBigIntegerField(default=0)
    minutes = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    no_shows = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("daily tally")
        verbose_name_plural = _("daily tallies")
        constraints = [
            models.UniqueConstraint(
                fields=["date", "community", "post_type", "organization", "team_key"], name="daily_tally_cell_unique"
            )
        ]
        indexes = [models.Index(fields=["date", "organization"]), models.Index(fields=["organization", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.community_id}/{self.post_type_id}/{self.organization_id}: {self.minutes}"


class DailyReport(models.Model):
    """The league committee's daily report (日报), written every day, also with nothing to report (零报)."""

    date = models.DateField(_("date"))
    organization = models.ForeignKey(
        "volunteers.Organization", verbose_name=_("organization"), on_delete=models.CASCADE, related_name="+"
    )
    data = models.JSONField(_("figures"), default=dict)
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    class Meta:
        verbose_name = _("daily report")
        verbose_name_plural = _("daily reports")
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["date", "organization"], name="daily_report_once_per_day")]

    def __str__(self) -> str:
        return f"{self.date} {self.organization_id}"


# --- Statistics rollups (docs/statistics.md) ---------------------------------------------------
# Small tables the statistics read instead of the big ones. None is a cache: each is kept exact
# in the transaction that changes what it counts, so a reader never sees an answer older than the
# data it summarises.


class OrganizationDayTally(models.Model):
    """The ``DailyTally`` cells of one organization on one day, summed.

    Kept by ``communities.services.tallies`` like the cells: recounted from them, under a row lock, in the
    same transaction whenever one of its cells is recounted; rebuilt by the nightly recount.
    """

    date = models.DateField(_("date"))
    organization = models.ForeignKey(
        "volunteers.Organization", verbose_name=_("organization"), on_delete=models.CASCADE, related_name="+"
    )
    minutes = models.PositiveIntegerField(_("credited minutes"), default=0)
    completed = models.PositiveIntegerField(_("completed shifts"), default=0)
    no_shows = models.PositiveIntegerField(_("no-shows"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("daily tally per organization")
        verbose_name_plural = _("daily tallies per organization")
        constraints = [models.UniqueConstraint(fields=["date", "organization"], name="organization_day_tally_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.organization_id}: {self.minutes}"


class VolunteerCount(models.Model):
    """How many volunteers of one organization hold one status and one deployment
    (``community_key`` is the community deployed to, 0 for none).

    Kept by the database: triggers on the volunteers table (migration 0008) add and subtract in
    the statement that inserts, updates or deletes a volunteer, whoever issues it, so the count
    commits or rolls back with the change. Signed: a trigger never refuses a write.
    """

    organization = models.ForeignKey(
        "volunteers.Organization", verbose_name=_("organization"), on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(_("status"), max_length=16)
    community_key = models.BigIntegerField(_("deployed to"), default=0)
    volunteers = models.IntegerField(_("volunteers"), default=0)

    class Meta:
        verbose_name = _("volunteer head count")
        verbose_name_plural = _("volunteer head counts")
        constraints = [
            models.UniqueConstraint(fields=["organization", "status", "community_key"], name="volunteer_count_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.status}/{self.community_key}: {self.volunteers}"


class ShiftDayCount(models.Model):
    """Open shifts of one community on one local day: how many, how many full, places, places taken.

    Kept by the database like ``VolunteerCount``: triggers on the shifts table (migration 0008),
    so every sign-up, cancellation and edit moves it in its own transaction.
    """

    date = models.DateField(_("date"))
    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    shifts = models.IntegerField(_("shifts"), default=0)
    filled = models.IntegerField(_("full shifts"), default=0)
    places = models.IntegerField(_("places"), default=0)
    taken = models.IntegerField(_("places taken"), default=0)

    class Meta:
        verbose_name = _("shifts per day")
        verbose_name_plural = _("shifts per day")
        constraints = [models.UniqueConstraint(fields=["date", "community"], name="shift_day_count_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.community_id}: {self.shifts}"


class RecordCorrection(models.Model):
    """A volunteer's report of an error in the record of one of their shifts (《志愿服务记录与证明
    出具办法》: a volunteer who finds an error or omission may raise it; the organiser checks and
    corrects it). The community's coordinators correct the record with their usual tools (check-in
    and out by hand, clearing a no-show, adjusting hours, each audited), then answer the report:
    corrected, or declined with a reason. ``communities.services.corrections`` writes it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the coordinator")
        CORRECTED = "corrected", _("Corrected")
        DECLINED = "declined", pgettext_lazy("record correction", "Declined")

    assignment = models.ForeignKey(
        Assignment, verbose_name=_("place"), on_delete=models.CASCADE, related_name="corrections"
    )
    message = models.CharField(_("what is wrong"), max_length=300)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    answer = models.CharField(_("answer"), max_length=300, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("answered by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("reported at"), default=timezone.now)

    class Meta:
        verbose_name = _("reported record error")
        verbose_name_plural = _("reported record errors")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment"], condition=Q(status="pending"), name="one_open_correction_per_place"
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(answer=""), name="declined_correction_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assignment_id}: {self.get_status_display()}"


# --- The mobilisation loop (docs/mobilisation.md) ------------------------------------------------


class CommunityRequest(models.Model):
    """A community asks the league committee for volunteers (点单).

    ``dispatched`` only grows, by the dispatches that answer the request, changed under the
    request's row lock (``communities.services.community_requests``); what is still missing is
    ``wanted - dispatched``, never below zero (a team sent whole may exceed it).
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PARTIAL = "partial", _("Partly fulfilled")
        FULFILLED = "fulfilled", _("Fulfilled")
        DECLINED = "declined", _("Declined")

    class Urgency(models.IntegerChoices):
        NORMAL = 1, _("Normal")
        URGENT = 2, _("Urgent")
        CRITICAL = 3, _("Critical")

    OPEN_STATUSES = (Status.OPEN, Status.PARTIAL)

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    wanted = models.PositiveIntegerField(_("volunteers wanted"))
    dispatched = models.PositiveIntegerField(_("volunteers dispatched"), default=0)
    post_types = models.ManyToManyField(PostType, verbose_name=_("post types"), blank=True, related_name="+")
    skills = models.ManyToManyField("volunteers.Skill", verbose_name=_("skills needed"), blank=True, related_name="+")
    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to"))
    time_from = models.TimeField(_("daily from"))
    time_to = models.TimeField(_("daily until"))
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Urgency.choices, default=Urgency.NORMAL)
    note = models.CharField(_("note"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    decline_reason = models.CharField(_("reason declined"), max_length=200, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("handled by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("filed at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("community request")
        verbose_name_plural = _("community requests")
        ordering = ["-urgency", "created_at", "id"]
        indexes = [models.Index(fields=["status", "urgency", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(wanted__gte=1), name="community_request_wants_someone"),
            models.CheckConstraint(condition=Q(date_to__gte=F("date_from")), name="community_request_dates_in_order"),
        ]

    def __str__(self) -> str:
        return f"{self.community_id}: {self.dispatched}/{self.wanted}"

    @property
    def missing(self) -> int:
        return max(self.wanted - self.dispatched, 0)


class Broadcast(models.Model):
    """A call-out: a message staff or a coordinator write to a group of volunteers.

    Its rows in the outbox are keyed ``b<id>:broadcast:<channel>:u<user>``, so fanning it out
    twice, or by two workers at once, gives each person one message per channel.
    """

    class Audience(models.TextChoices):
        SHIFT = "shift", _("A shift's volunteers")
        TEAM = "team", _("A team")
        COMMUNITY = "community", _("Volunteers deployed to a community")
        RESERVE = "reserve", _("An organization's reserve")
        CALL = "call", _("A recruitment call's applicants")

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sender"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    shift = models.ForeignKey(
        Shift, verbose_name=_("shift"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        "volunteers.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    community = models.ForeignKey(
        Community, verbose_name=_("community"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    organization = models.ForeignKey(
        "volunteers.Organization",
        verbose_name=_("organization"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    call = models.ForeignKey(
        "volunteers.RecruitmentCall",
        verbose_name=_("recruitment call"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Which organizations' volunteers the sender may reach: empty for a coordinator or a superuser
    # (their audience is their communities'), else the paths of the sender's staff roles.
    scope_paths = models.JSONField(default=list, blank=True, editable=False)
    link_shift = models.ForeignKey(
        Shift,
        verbose_name=_("shift to sign up for"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    subject = models.CharField(_("subject"), max_length=60)
    message = models.CharField(_("message"), max_length=300)
    by_sms = models.BooleanField(_("also by SMS"), default=False)
    urgent = models.BooleanField(_("urgent (ignores quiet hours)"), default=False)
    recipients = models.PositiveIntegerField(_("people"), default=0)
    texts = models.PositiveIntegerField(_("texts"), default=0)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    fanned_out_at = models.DateTimeField(_("messages written at"), null=True, blank=True)

    class Meta:
        verbose_name = _("call-out")
        verbose_name_plural = _("call-outs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["fanned_out_at"], condition=Q(fanned_out_at__isnull=True), name="broadcast_pending")
        ]

    def __str__(self) -> str:
        return self.subject


class ShiftAttendance(models.Model):
    """Check-ins of one shift: how many checked in, out, or were marked no-show.

    Kept exact by ``communities.services.live`` in the transaction of every check-in, check-out,
    no-show and their undoing, so the live board reads it instead of the assignments; repaired by
    the nightly recount. The shift's day, times and community are copied so today's totals read
    this table alone.
    """

    shift = models.OneToOneField(Shift, primary_key=True, on_delete=models.CASCADE, related_name="attendance")
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    date = models.DateField(_("date"))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    checked_in = models.IntegerField(_("checked in"), default=0)
    checked_out = models.IntegerField(_("checked out"), default=0)
    no_shows = models.IntegerField(_("no-shows"), default=0)

    class Meta:
        verbose_name = _("shift attendance")
        verbose_name_plural = _("shift attendance")
        indexes = [models.Index(fields=["date", "community"])]

    def __str__(self) -> str:
        return f"{self.shift_id}: {self.checked_in}/{self.checked_out}/{self.no_shows}"
