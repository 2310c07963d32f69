"""Volunteer service record certificates (志愿服务记录证明) and the five-part service record.

A certificate has the four parts of the national rules: identity, service (hours and content),
issuer (organisation, person in charge, handler, contact) and other (number, date, notes). What
it certifies is frozen in the ``Certificate`` row at issue, so verification shows what was
certified even if records change later.

Numbers look like ``VRC-2025-7K3M9Q2X-4F8A2C``: a year, eight random characters and a check part,
an HMAC of the rest keyed by ``SECRET_KEY``. An altered or invented number is caught by the
check before any lookup; a well-formed number that was never issued is simply not found.

The PDF uses reportlab's built-in CID font ``STSong-Light`` (no font file, no download; PDF
readers supply the glyphs) and draws a QR code of the public verification URL.
"""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from communities.models import Assignment
from communities.render import fonts
from communities.selectors.stats import day_bounds
from communities.services import locks
from config.db import retry_on_conflict
from config.errors import ServiceError
from config.formats import long_date, long_date_range
from volunteers.models import Certificate, Organization, Volunteer
from volunteers.selectors import organization_subtree

# Crockford's base 32: no I, L, O or U, so a number read aloud or retyped stays unambiguous.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "VRC"
NUMBER_RE = re.compile(rf"^{PREFIX}-(\d{{4}})-([{ALPHABET}]{{8}})-([{ALPHABET}]{{6}})$")
HMAC_SALT = "communities.services.certificates.number"

GENUINE = "genuine"
FORGED = "forged"
NOT_FOUND = "not_found"


# --- Numbers --------------------------------------------------------------------------------


def _encode(value: int, length: int) -> str:
    chars = []
    for _position in range(length):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _check_part(body: str) -> str:
    digest = salted_hmac(HMAC_SALT, body, algorithm="sha256").digest()
    return _encode(int.from_bytes(digest[:4], "big") >> 2, 6)


def certificate_number_new(*, year: int) -> str:
    body = f"{PREFIX}-{year:04d}-{_encode(secrets.randbits(40), 8)}"
    return f"{body}-{_check_part(body)}"


def normalize_number(number: str) -> str:
    return (number or "").strip().upper()


def certificate_number_valid(number: str) -> bool:
    """Whether ``number`` is well formed and its check part matches (issued by this system)."""
    match = NUMBER_RE.match(normalize_number(number))
    if not match:
        return False
    body = normalize_number(number).rsplit("-", 1)[0]
    return constant_time_compare(_check_part(body), match.group(3))


def mask_name(name: str) -> str:
    """Keep the first character: 张三 → 张*, 欧阳小明 → 欧***; Latin names keep their initial."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name or "*"
    return name[0] + "*" * (len(name) - 1)


# --- Service: what a volunteer did, from their approved hours -----------------------------------


def _assignments(volunteer: Volunteer, period_start: date | None, period_end: date | None):
    assignments = Assignment.objects.filter(volunteer=volunteer, hours_status=Assignment.HoursStatus.APPROVED)
    if period_start:
        assignments = assignments.filter(shift__starts_at__gte=day_bounds(period_start)[0])
    if period_end:
        assignments = assignments.filter(shift__starts_at__lt=day_bounds(period_end)[1])
    return assignments


def volunteer_service_summary(*, volunteer: Volunteer, period_start: date, period_end: date) -> dict:
    """Approved credited time in the period, in total and per duty."""
    rows = (
        _assignments(volunteer, period_start, period_end)
        .order_by()
        .values("shift__post__post_type__code", "shift__post__post_type__name", "shift__post__post_type__name_en")
        .annotate(
            minutes=Sum("credited_minutes"), shifts=Count("pk"), communities=Count("shift__community", distinct=True)
        )
        .order_by("-minutes", "shift__post__post_type__code")
    )
    by_type = [
        {
            "code": row["shift__post__post_type__code"],
            "name": row["shift__post__post_type__name"],
            "name_en": row["shift__post__post_type__name_en"],
            "minutes": row["minutes"] or 0,
            "shifts": row["shifts"],
        }
        for row in rows
    ]
    communities = list(
        _assignments(volunteer, period_start, period_end)
        .order_by()
        .values_list("shift__community__name", flat=True)
        .distinct()[:20]
    )
    return {
        "minutes": sum(row["minutes"] for row in by_type),
        "shifts": sum(row["shifts"] for row in by_type),
        "by_post_type": by_type,
        "communities": sorted(communities),
    }


def volunteer_first_service_day(volunteer: Volunteer) -> date:
    first = _assignments(volunteer, None, None).order_by("shift__starts_at").values_list("shift__starts_at", flat=True)
    first = next(iter(first[:1]), None)
    return timezone.localdate(first) if first else timezone.localdate(volunteer.created_at)


# --- Issuing ------------------------------------------------------------------------------------


def organization_root(organization: Organization) -> Organization:
    root_id = int(organization.path.strip("/").split("/")[0]) if organization.path else organization.pk
    return organization if root_id == organization.pk else Organization.objects.get(pk=root_id)


def certificate_issuer_for(*, user, volunteer: Volunteer) -> Organization:
    """The organization that certifies for ``user``: for staff, the nearest organization they are
    staff of that holds the volunteer; otherwise the top of the volunteer's organization tree
    (the league committee, which organised the service). Raises ``not_found`` if staff cannot
    see the volunteer."""
    organization = volunteer.organization
    if user.is_superuser or volunteer.user_id == user.pk:
        return organization_root(organization)
    staff = [org for org in Organization.objects.filter(staff__user=user) if organization.path.startswith(org.path)]
    if not staff:
        raise ServiceError("not_found")
    return max(staff, key=lambda org: len(org.path))


def _validate_period(period_start: date, period_end: date) -> None:
    if period_end < period_start:
        raise ServiceError("invalid", {"to": [_("The end date is before the start date.")]})
    if period_end > timezone.localdate():
        raise ServiceError("invalid", {"to": [_("The period cannot end in the future.")]})


def _content(*, volunteer: Volunteer, issuer: Organization, actor, summary: dict) -> dict:
    # Staff issuing name themselves; a volunteer's own download names the organisation's handler.
    handler = issuer.certificate_handler
    if actor is not None and actor.pk != volunteer.user_id:
        handler = actor.get_full_name() or actor.get_username()
    return {
        "holder": {
            "volunteer_number": volunteer.volunteer_number,
            "id_type": volunteer.id_type,
            "id_number_masked": volunteer.id_number_masked,
        },
        "service": summary,
        "issuer": {
            "name": issuer.name,
            "name_en": issuer.name_en,
            "contact_person": issuer.contact_person,
            "contact_phone": issuer.contact_phone,
            "handler": handler,
        },
    }


@transaction.atomic
def certificate_issue(
    *, volunteer: Volunteer, issuer_org: Organization, actor, period_start: date, period_end: date
) -> Certificate:
    """Issue a certificate of ``volunteer``'s approved hours in the period. Every issue is a row."""
    _validate_period(period_start, period_end)
    if volunteer.anonymised_at is not None:
        raise ServiceError("volunteer_anonymised")
    summary = volunteer_service_summary(volunteer=volunteer, period_start=period_start, period_end=period_end)
    now = timezone.now()
    return Certificate.objects.create(
        number=certificate_number_new(year=timezone.localdate(now).year),
        volunteer=volunteer,
        issuer=issuer_org,
        issued_by=actor,
        period_start=period_start,
        period_end=period_end,
        total_minutes=summary["minutes"],
        holder_name_masked=mask_name(volunteer.real_name),
        content=_content(volunteer=volunteer, issuer=issuer_org, actor=actor, summary=summary),
        issued_at=now,
    )


def _own_period(volunteer: Volunteer, period_start: date | None, period_end: date | None) -> tuple[date, date]:
    period_start = period_start or volunteer_first_service_day(volunteer)
    period_end = period_end or timezone.localdate()
    _validate_period(period_start, period_end)
    return period_start, period_end


def certificate_of_self(*, volunteer: Volunteer, period_start: date | None, period_end: date | None) -> Certificate:
    """A read: the certificate the volunteer issued themself for the period that still says what
    their record says; ``not_found`` when there is none (issue it with ``certificate_issue_for_self``)."""
    period_start, period_end = _own_period(volunteer, period_start, period_end)
    existing = _own_current(volunteer, period_start, period_end)
    if existing is None:
        raise ServiceError(
            "not_found", {"period_start": period_start.isoformat(), "period_end": period_end.isoformat()}
        )
    return existing


def _own_current(volunteer: Volunteer, period_start: date, period_end: date) -> Certificate | None:
    minutes = _assignments(volunteer, period_start, period_end).aggregate(m=Sum("credited_minutes"))["m"] or 0
    return (
        Certificate.objects.filter(
            volunteer=volunteer,
            issuer=organization_root(volunteer.organization),
            issued_by=volunteer.user,
            period_start=period_start,
            period_end=period_end,
            total_minutes=minutes,
        )
        .order_by("-issued_at")
        .first()
    )


@retry_on_conflict
@transaction.atomic
def certificate_issue_for_self(
    *, volunteer: Volunteer, period_start: date | None, period_end: date | None
) -> tuple[Certificate, bool]:
    """The volunteer issues their own certificate for a period: idempotent, so the same
    certificate again (and ``False``) while nothing it says has changed, else a new one (``True``).

    The volunteer's row lock makes two issues at once give one certificate.
    """
    period_start, period_end = _own_period(volunteer, period_start, period_end)
    locks.volunteer_ids([volunteer.pk])
    existing = _own_current(volunteer, period_start, period_end)
    if existing is not None:
        return existing, False
    issued = certificate_issue(
        volunteer=volunteer,
        issuer_org=organization_root(volunteer.organization),
        actor=volunteer.user,
        period_start=period_start,
        period_end=period_end,
    )
    return issued, True


def certificates_visible_to(user):
    """Certificates of volunteers in the organizations ``user`` is staff of (all for superusers)."""
    certificates = Certificate.objects.select_related("volunteer", "issuer", "issued_by")
    if user.is_superuser:
        return certificates
    return certificates.filter(
        Q(volunteer__organization__in=organization_subtree(user)) | Q(volunteer__user_id=user.pk)
    )


@dataclass
class Verification:
    status: str  # genuine, forged, not_found
    certificate: Certificate | None = None


def certificate_verify(number: str) -> Verification:
    if not certificate_number_valid(number):
        return Verification(FORGED)
    certificate = Certificate.objects.select_related("issuer").filter(number=normalize_number(number)).first()
    if certificate is None:
        return Verification(NOT_FOUND)
    return Verification(GENUINE, certificate)


# --- The PDF ------------------------------------------------------------------------------------


def _qr_flowable(url: str, size: float):
    """The QR code as vector squares (qrcode computes the matrix; no image library involved)."""
    import qrcode
    from reportlab.graphics.shapes import Drawing, Rect
    from reportlab.lib import colors

    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    cell = size / len(matrix)
    drawing = Drawing(size, size)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                drawing.add(Rect(x * cell, size - (y + 1) * cell, cell, cell, fillColor=colors.black, strokeColor=None))
    return drawing


def _hours_text(minutes: int) -> str:
    return f"{minutes / 60:.1f}"


def _seal(size: float, font_name: str):
    """A marked circle where the issuing organisation stamps its official seal (公章)."""
    from reportlab.graphics.shapes import Circle, Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(size, size)
    grey = colors.HexColor("#8a8a8a")
    drawing.add(Circle(size / 2, size / 2, size / 2 - 1, strokeColor=grey, strokeDashArray=[3, 3], fillColor=None))
    drawing.add(
        String(
            size / 2, size / 2 - 4, _("(seal)"), fontName=font_name, fontSize=11, fillColor=grey, textAnchor="middle"
        )
    )
    return drawing


def certificate_pdf(certificate: Certificate, *, verify_url: str) -> bytes:
    """The certificate as an A4 PDF in the active language."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    english = (get_language() or "").startswith("en")
    volunteer = certificate.volunteer
    content = certificate.content or {}
    holder, service, issuer = content.get("holder", {}), content.get("service", {}), content.get("issuer", {})
    issuer_name = issuer.get("name") or certificate.issuer.name
    regular, bold = fonts.register()

    base = ParagraphStyle("base", fontName=regular, fontSize=10.5, leading=16, wordWrap="CJK")
    title = ParagraphStyle(
        "title", parent=base, fontName=bold, fontSize=20, leading=28, alignment=TA_CENTER, spaceAfter=4
    )
    subtitle = ParagraphStyle("subtitle", parent=base, fontSize=9, textColor=colors.grey, alignment=TA_CENTER)
    heading = ParagraphStyle(
        "heading", parent=base, fontName=bold, fontSize=12.5, leading=18, spaceBefore=8, spaceAfter=4
    )
    cell = ParagraphStyle("cell", parent=base, fontSize=10, leading=14)

    def p(text, style=cell):
        return Paragraph(fonts.markup(str(text), bold=style.fontName == bold), style)

    def _with_seal(table):
        # The seal's column spans the issuer's rows, inside the frame, with no grid lines.
        table.setStyle(
            TableStyle(
                [
                    ("SPAN", (2, 0), (2, -1)),
                    ("ALIGN", (2, 0), (2, -1), "CENTER"),
                    ("BACKGROUND", (2, 0), (2, -1), colors.white),
                ]
            )
        )
        return table

    def grid(rows, widths):
        table = Table(
            [[a if hasattr(a, "wrap") else p(a) for a in row] for row in rows],
            colWidths=widths,
        )
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
                    ("FONTNAME", (0, 0), (-1, -1), regular),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3f3f3")),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("TOPPADDING", (0, 0), (-1, -1), 4),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ]
            )
        )
        return table

    hours = _hours_text(certificate.total_minutes)
    period = long_date_range(certificate.period_start, certificate.period_end)
    issued = timezone.localtime(certificate.issued_at)
    story = [
        p(_("Volunteer service record certificate"), title),
        p(_("Issued under the Measures for Volunteer Service Records and Certificates"), subtitle),
        Spacer(1, 6 * mm),
        p(
            _(
                "This is to certify that %(name)s (volunteer number %(number)s) took part in volunteer service "
                "from %(start)s to %(end)s, with %(hours)s hours of recorded service in total."
            )
            % {
                "name": volunteer.real_name,
                "number": holder.get("volunteer_number", volunteer.volunteer_number),
                "start": long_date(certificate.period_start),
                "end": long_date(certificate.period_end),
                "hours": hours,
            },
            base,
        ),
        p(_("1. Identity"), heading),
        grid(
            [
                [_("Name"), volunteer.real_name],
                [_("ID type"), Volunteer.IdType(holder.get("id_type", volunteer.id_type)).label],
                [_("ID number"), holder.get("id_number_masked", volunteer.id_number_masked)],
                [_("Volunteer number"), holder.get("volunteer_number", volunteer.volunteer_number)],
            ],
            [40 * mm, 130 * mm],
        ),
        p(_("2. Service"), heading),
        grid(
            [
                [_("Period"), period],
                [_("Recorded service hours"), _("%(hours)s hours") % {"hours": hours}],
                [_("Shifts served"), str(service.get("shifts", 0))],
                [_("Communities"), "、".join(service.get("communities", [])) or "—"],
            ],
            [40 * mm, 130 * mm],
        ),
    ]
    by_type = service.get("by_post_type") or []
    if by_type:
        rows = [[_("Service content"), _("Shifts"), _("Hours")]]
        rows += [
            [
                (row.get("name_en") or row["name"]) if english else row["name"],
                str(row["shifts"]),
                _hours_text(row["minutes"]),
            ]
            for row in by_type
        ]
        table = grid(rows, [90 * mm, 40 * mm, 40 * mm])
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f3f3")),
                    ("BACKGROUND", (0, 1), (0, -1), colors.white),
                ]
            )
        )
        story += [Spacer(1, 3 * mm), table]
    story += [
        p(_("3. Issuer"), heading),
        _with_seal(
            grid(
                [
                    [_("Organization"), issuer_name, _seal(30 * mm, regular)],
                    [_("Person in charge"), issuer.get("contact_person") or "—", ""],
                    [_("Handled by"), issuer.get("handler") or "—", ""],
                    [_("Contact"), issuer.get("contact_phone") or "—", ""],
                ],
                [40 * mm, 95 * mm, 35 * mm],
            )
        ),
        p(_("4. Other"), heading),
    ]
    other = grid(
        [
            [_("Certificate number"), certificate.number],
            [_("Date of issue"), long_date(issued.date())],
            [
                _("Notes"),
                _("This certificate is free of charge. Scan the code or open the address below to verify it: %(url)s")
                % {"url": verify_url},
            ],
        ],
        [40 * mm, 95 * mm],
    )
    qr = _qr_flowable(verify_url, 32 * mm)
    story.append(
        Table(
            [[other, qr]],
            colWidths=[137 * mm, 35 * mm],
            style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), regular)],
        )
    )

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=_("Volunteer service record certificate"),
        subject=certificate.number,
        keywords=[certificate.number],
        creator="",
        initialFontName=regular,  # else each page starts in Helvetica, a font the file does not carry
        author=issuer.get("name") or certificate.issuer.name,
    )
    doc.build(story)
    return out.getvalue()


# --- The service record (five parts) ------------------------------------------------------------


def volunteer_service_record(*, volunteer: Volunteer) -> dict:
    """The national record's five parts: identity, service entries, training, awards, evaluations."""
    volunteer = (
        Volunteer.objects.select_related("organization", "team", "tally")
        .prefetch_related("categories", "skills", "qualifications__qualification_type")
        .get(pk=volunteer.pk)
    )
    identity = [
        (_("Name"), volunteer.real_name),
        (_("Volunteer number"), volunteer.volunteer_number),
        (_("Gender"), volunteer.get_gender_display()),
        (_("ID type"), volunteer.get_id_type_display()),
        (_("ID number"), volunteer.id_number_masked),
        (_("Birth date"), volunteer.birth_date),
        (_("Political status"), volunteer.get_political_status_display()),
        (_("Organization"), volunteer.organization.display_name),
        (_("Team"), volunteer.team.name if volunteer.team else ""),
        (_("Categories"), "、".join(c.display_name for c in volunteer.categories.all())),
        (_("Skills"), "、".join(s.display_name for s in volunteer.skills.all())),
        (_("Registered"), timezone.localdate(volunteer.created_at)),
    ]
    organiser = organization_root(volunteer.organization).display_name
    service = []
    assignments = (
        Assignment.objects.filter(volunteer=volunteer, status=Assignment.Status.COMPLETED)
        .select_related("shift__post__post_type", "shift__community")
        .order_by("shift__starts_at", "pk")
    )
    for assignment in assignments:
        shift = assignment.shift
        service.append(
            {
                "date": timezone.localdate(shift.starts_at),
                "starts_at": shift.starts_at,
                "ends_at": shift.ends_at,
                "hours": round((assignment.credited_minutes or 0) / 60, 1),
                "content": f"{shift.post.post_type.display_name} · {shift.post.name}",
                "place": shift.community.display_name,
                "organiser": f"{shift.community.display_name} / {organiser}",
                "status": assignment.get_hours_status_display(),
            }
        )
    training = [
        {
            "name": q.qualification_type.display_name,
            "number": q.certificate_number,
            "valid_until": q.valid_until,
        }
        for q in volunteer.qualifications.all()
    ]
    tally = getattr(volunteer, "tally", None)
    awards = []
    if tally and tally.star_level:
        awards.append(
            {"name": _("%(stars)d-star volunteer") % {"stars": tally.star_level}, "date": None, "issuer": organiser}
        )
    for certificate in volunteer.certificates.select_related("issuer").order_by("issued_at"):
        awards.append(
            {
                "name": _("Service record certificate %(number)s") % {"number": certificate.number},
                "date": timezone.localdate(certificate.issued_at),
                "issuer": certificate.issuer.display_name,
            }
        )
    approved = Assignment.objects.filter(volunteer=volunteer, hours_status=Assignment.HoursStatus.APPROVED)
    minutes = approved.aggregate(m=Sum("credited_minutes"))["m"] or 0
    evaluations = [
        (_("Approved service hours"), round(minutes / 60, 1)),
        (_("Shifts completed"), tally.completed_shifts if tally else 0),
        (_("No-shows"), tally.no_shows if tally else 0),
        (_("Star level"), tally.star_level if tally else 0),
    ]
    return {
        "identity": identity,
        "service": service,
        "training": training,
        "awards": awards,
        "evaluations": evaluations,
    }
