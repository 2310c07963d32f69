"""The volunteer's confirmed shifts as an iCalendar feed."""

from __future__ import annotations

from django.utils import timezone
from icalendar import Calendar, Event


def shifts_ics(assignments, *, host: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//volunteer-mobilisation//shifts//ZH")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "志愿服务班次 / Volunteer shifts")
    calendar.add("x-wr-timezone", timezone.get_current_timezone_name())
    for assignment in assignments:
        shift = assignment.shift
        event = Event()
        event.add("uid", f"assignment-{assignment.pk}@{host}")
        event.add("dtstamp", assignment.updated_at)
        event.add("dtstart", shift.starts_at)
        event.add("dtend", shift.ends_at)
        event.add("summary", f"{shift.post.post_type.display_name} · {shift.community.display_name}")
        event.add("location", " ".join(filter(None, [shift.community.address, shift.post.location])))
        event.add("description", shift.post.name)
        calendar.add_component(event)
    return calendar.to_ical()
