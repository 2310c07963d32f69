"""Refusals in words: what a ``ServiceError``'s ``details`` mean to the person who was refused.

The API returns ``details`` as data; a web page says them as sentences ("you need the skill
'First aid'", "it overlaps your shift on 3 March 08:00–12:00"). Each function returns a list
of translated sentences, empty when there is nothing to add to the error's message.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Assignment, Shift
from config import formats as house
from config.errors import ServiceError
from volunteers.models import QualificationType, Skill, Volunteer


def _when(value: str | None) -> str:
    if not value:
        return ""
    return house.moment(datetime.fromisoformat(value))


def _day(value: str) -> str:
    return house.day(datetime.fromisoformat(value).date())


def _names(model, codes: list[str], known: dict | None = None) -> str:
    """The display names of skills or qualification types, from ``known`` (model → {code: name})
    when given, else in one query."""
    if known is not None:
        by_code = known.get(model, {})
    else:
        by_code = {item.code: item.display_name for item in model.objects.filter(code__in=codes)}
    return _(", ").join(by_code.get(code, code) for code in codes)


def shift_words(shift: Shift) -> str:
    """ "Checkpoint duty at Sanxiang community, Mon 7 Dec 22:00–02:00 (next day)", in the active language."""
    return _("%(duty)s at %(community)s, %(start)s–%(end)s") % {
        "duty": shift.post.post_type.display_name,
        "community": shift.community.display_name,
        "start": house.moment(shift.starts_at),
        "end": house.end_clock(shift.starts_at, shift.ends_at),
    }


def _shift_words(shift_id) -> str:
    shift = Shift.objects.select_related("post__post_type", "community").filter(pk=shift_id).first()
    return shift_words(shift) if shift is not None else ""


def place_lost_words(problem: dict, names: dict | None = None) -> str:
    """Why a record change takes a volunteer's place away, as staff read it beside the place
    (``not_eligible`` details of ``services.records``' refusal)."""
    reason = problem.get("reason")
    if reason == "skill":
        return _("needs the skill %(names)s") % {"names": _names(Skill, problem["missing"], names)}
    if reason == "qualification":
        return _("needs the qualification %(names)s") % {"names": _names(QualificationType, problem["missing"], names)}
    if reason == "insurance":
        return _("needs accident insurance valid on the day")
    return ""


def explain_ineligibility(problem: dict | None, names: dict | None = None) -> list[str]:
    """Words for ``communities.rules.eligibility.ineligibility``'s answer."""
    if not problem:
        return []
    reason = problem.get("reason")
    if reason == "skill":
        return [
            _("This post needs a skill you have not registered: %(names)s.")
            % {"names": _names(Skill, problem["missing"], names)}
        ]
    if reason == "qualification":
        names = _names(QualificationType, problem["missing"], names)
        return [_("This post needs a valid professional qualification: %(names)s.") % {"names": names}]
    if reason == "insurance":
        return [_("This post needs accident insurance that is valid on the day of the shift.")]
    if reason == "age":
        return [_("Volunteers on this post must be at least %(age)s years old.") % {"age": problem["min_age"]}]
    if reason == "guardian_consent":
        return [_("Volunteers under 18 need their guardian's consent on file before they can serve.")]
    if reason == "status":
        label = dict(Volunteer.Status.choices).get(problem.get("status"), problem.get("status"))
        return [_("Only active volunteers can sign up; your status is “%(status)s”.") % {"status": label}]
    return []


def explain(error: ServiceError) -> list[str]:
    """Sentences that explain ``error.details``, in the active language."""
    details = error.details or {}
    code = error.code
    if code == "not_eligible":
        return explain_ineligibility(details)
    if code == "overlapping_shift":
        words = _shift_words(details.get("shift"))
        return [_("It overlaps your confirmed shift: %(shift)s.") % {"shift": words}] if words else []
    if code == "rest_period":
        hours = house.number(details.get("min_rest_hours", 0), 0)
        words = _shift_words(details.get("shift"))
        sentences = [_("Leave at least %(hours)s hours between two shifts.") % {"hours": hours}]
        if words:
            sentences.append(_("Too close to your shift: %(shift)s.") % {"shift": words})
        return sentences
    if code == "daily_limit":
        hours = round(details.get("minutes", 0) / 60, 1)
        limit = house.number(details.get("max_hours", 0), 0)
        return [
            _("On %(day)s you would serve %(hours)s hours; the limit is %(limit)s hours a day.")
            % {"day": _day(details["date"]), "hours": house.number(hours, 1), "limit": limit}
        ]
    if code == "signup_closed":
        opens, closes = details.get("opens_at"), details.get("closes_at")
        if opens and timezone.now() < datetime.fromisoformat(opens):
            return [_("Sign-up opens on %(when)s.") % {"when": _when(opens)}]
        if closes:
            return [_("Sign-up closed on %(when)s.") % {"when": _when(closes)}]
        return []
    if code == "cancel_cutoff_passed":
        return [_("Cancellations closed on %(when)s.") % {"when": _when(details.get("cutoff"))}]
    if code == "checkin_not_open":
        return [_("Check-in opens at %(when)s.") % {"when": _when(details.get("opens_at"))}]
    if code == "checkin_code_invalid" and "attempts_left" in details:
        return [
            _("Tries left before you must wait for the next code: %(count)s.") % {"count": details["attempts_left"]}
        ]
    if code == "checkin_too_many_attempts":
        return [
            _("Try again in %(seconds)s seconds, with the code shown at the post then.")
            % {"seconds": details.get("retry_after_seconds")}
        ]
    if code == "shift_not_started" and details.get("starts_at"):
        return [_("The shift starts on %(when)s.") % {"when": _when(details["starts_at"])}]
    if code == "no_show_too_early":
        return [
            _("Without marking it early, a no-show can be marked from %(when)s.")
            % {"when": _when(details.get("allowed_at"))}
        ]
    if code == "already_checked_in":
        return [_("You checked in on %(when)s.") % {"when": _when(details.get("checked_in_at"))}]
    if code == "duplicate_slot":
        return [_("Listed more than once: %(slots)s.") % {"slots": _(", ").join(details.get("slots", []))}]
    if code == "rota_too_large":
        return [
            _("This rota would create %(shifts)s shifts; at most %(max_shifts)s at once. Choose fewer days or slots.")
            % {"shifts": details.get("shifts"), "max_shifts": details.get("max_shifts")}
        ]
    if code == "shift_in_past":
        if details.get("date_from"):
            return [_("The first day, %(day)s, has already passed.") % {"day": _day(details["date_from"])}]
        if details.get("starts_at"):
            return [_("It would start on %(when)s, which has already passed.") % {"when": _when(details["starts_at"])}]
        if details.get("ends_at"):
            return [_("It would end on %(when)s, which has already passed.") % {"when": _when(details["ends_at"])}]
        return []
    if code in ("not_cancellable", "not_checkable"):
        label = dict(Assignment.Status.choices).get(details.get("status"), details.get("status"))
        return [_("Your place is “%(status)s”.") % {"status": label}]
    if code == "invalid":
        # Each field's problems, already in words (a form on the page shows them on the field instead).
        return [
            str(problem) for problems in details.values() if isinstance(problems, list | tuple) for problem in problems
        ]
    return []


# Refusals whose explanation names another shift (a query each): on a list, their message says enough.
_NAMES_ANOTHER_SHIFT = frozenset({"overlapping_shift", "rest_period"})


def explain_briefly(error: ServiceError, names: dict | None = None) -> list[str]:
    """Why a shift on a list cannot be taken, without a query: the explanation where it needs
    none (``names``: model → {code: name}), else the error's own message."""
    if error.code == "not_eligible":
        sentences = explain_ineligibility(error.details, names if names is not None else {})
    elif error.code in _NAMES_ANOTHER_SHIFT:
        sentences = []
    else:
        sentences = explain(error)
    return sentences or [str(error.message)]


def waitlist_words(position: int | None) -> str:
    if not position:
        return _("You are on the waitlist.")
    return _("You are number %(position)d on the waitlist.") % {"position": position}
