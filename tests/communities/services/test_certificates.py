"""Record certificates: numbers with a keyed check, the PDF, who may issue and download, public verification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from communities.services import certificates
from tests.communities.selectors import test_stats
from tests.factories import UserFactory
from volunteers.models import Certificate

pytestmark = pytest.mark.django_db

# The statistics tests' small world and API client, shared.
world = test_stats.world
api = test_stats.api


def alter_last(number: str) -> str:
    last = number[-1]
    return number[:-1] + ("0" if last != "0" else "1")


# --- Numbers ----------------------------------------------------------------------------------


def test_numbers_carry_a_keyed_check(settings):
    number = certificates.certificate_number_new(year=2025)
    assert certificates.NUMBER_RE.match(number)
    assert number.startswith("VRC-2025-") and len(number) == 24
    assert certificates.certificate_number_valid(number)
    assert certificates.certificate_number_valid(number.lower())
    assert not certificates.certificate_number_valid(alter_last(number))
    assert not certificates.certificate_number_valid(number.replace("2025", "2024", 1))
    assert not certificates.certificate_number_valid("VRC-2025-ABC")
    settings.SECRET_KEY = "another-key"
    assert not certificates.certificate_number_valid(number)


def test_mask_name():
    assert [certificates.mask_name(n) for n in ("张三", "欧阳小明", "李", "")] == ["张*", "欧***", "李", "*"]


# --- Issuing ---------------------------------------------------------------------------------------


def test_staff_issue_records_every_issue(world, api):
    client = api(world.staff_a)
    body = {"volunteer": world.va1.pk, "from": str(world.today - timedelta(days=7)), "to": str(world.today)}
    first = client.post("/api/v1/certificates/", body, format="json")
    second = client.post("/api/v1/certificates/", body, format="json")
    assert (first.status_code, second.status_code) == (201, 201)
    data = first.json()
    assert data["number"] != second.json()["number"]
    assert (data["total_minutes"], data["hours"], data["issuer"]["id"]) == (240, 4.0, world.a.pk)
    assert data["verify_url"].endswith(f"/verify/{data['number']}/")
    certificate = Certificate.objects.get(number=data["number"])
    assert (certificate.issued_by, certificate.holder_name_masked) == (
        world.staff_a,
        certificates.mask_name(world.va1.real_name),
    )
    assert certificate.content["service"]["by_post_type"][0]["code"] == "checkpoint"
    assert certificate.content["holder"]["id_number_masked"] == world.va1.id_number_masked
    assert Certificate.objects.count() == 2

    listed = client.get("/api/v1/certificates/").json()
    assert [row["number"] for row in listed["results"]] == [second.json()["number"], data["number"]]


def test_staff_issue_is_limited_to_their_subtree(world, api):
    body = {"volunteer": world.vb1.pk, "from": str(world.yesterday), "to": str(world.today)}
    response = api(world.staff_a).post("/api/v1/certificates/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    response = api(world.outsider).post("/api/v1/certificates/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    future = {"volunteer": world.va1.pk, "from": str(world.today), "to": str(world.today + timedelta(days=1))}
    assert api(world.staff_a).post("/api/v1/certificates/", future, format="json").status_code == 400
    backwards = {"volunteer": world.va1.pk, "from": str(world.today), "to": str(world.yesterday)}
    assert api(world.staff_a).post("/api/v1/certificates/", backwards, format="json").status_code == 400
    assert Certificate.objects.count() == 0
    assert api(world.staff_b).get("/api/v1/certificates/").json()["count"] == 0


def test_certificate_list_query_count(world, api, django_assert_num_queries):
    for _ in range(3):
        certificates.certificate_issue(
            volunteer=world.va1,
            issuer_org=world.a,
            actor=world.staff_a,
            period_start=world.yesterday,
            period_end=world.today,
        )
    client = api(world.staff_a)
    with django_assert_num_queries(5):
        assert client.get("/api/v1/certificates/").json()["count"] == 3


def test_root_staff_issue_as_the_committee(world):
    issuer = certificates.certificate_issuer_for(user=world.staff_root, volunteer=world.va2)
    assert issuer == world.root
    assert certificates.certificate_issuer_for(user=world.staff_a, volunteer=world.va2) == world.a


# --- The volunteer's own download -------------------------------------------------------------------


def test_volunteer_issues_their_own_pdf_and_a_get_only_reads_it(world, api):
    client = api(world.va1.user)
    url = reverse("certificate-download")
    assert url == "/api/v1/me/certificate.pdf"
    # Viewing is a read: before anything is issued a GET finds nothing and writes nothing.
    missing = client.get(url)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert Certificate.objects.count() == 0

    response = client.post(url)
    assert response.status_code == 201
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    certificate = Certificate.objects.get()
    assert certificate.number.encode() in pdf
    assert (certificate.issuer, certificate.issued_by, certificate.total_minutes) == (world.root, world.va1.user, 240)
    assert certificate.period_end == timezone.localdate()
    # Issuing again while nothing changed gives the same certificate; GETs read it, writing nothing.
    again = client.post(url)
    assert again.status_code == 200 and certificate.number.encode() in again.content
    for _ in range(3):
        read = client.get(url)
        assert read.status_code == 200 and certificate.number.encode() in read.content
    assert Certificate.objects.count() == 1
    assert client.get(f"{url}?from={world.today}&to={world.today}").status_code == 404
    assert Certificate.objects.count() == 1
    ranged = client.post(f"{url}?from={world.today}&to={world.today}")
    assert ranged.status_code == 201 and Certificate.objects.count() == 2
    assert Certificate.objects.order_by("-pk").first().total_minutes == 0
    assert client.get(f"{url}?from=soon").status_code == 400
    assert client.post(f"{url}?from=soon").status_code == 400
    assert Certificate.objects.count() == 2
    assert api(world.staff_a).get(url).json()["code"] == "not_a_volunteer"
    assert api(world.staff_a).post(url).json()["code"] == "not_a_volunteer"


def test_pdf_by_number_for_holder_and_staff_in_scope(world, api):
    certificate = certificates.certificate_issue(
        volunteer=world.va1,
        issuer_org=world.a,
        actor=world.staff_a,
        period_start=world.yesterday,
        period_end=world.today,
    )
    url = f"/api/v1/certificates/{certificate.number}.pdf"
    assert api(world.va1.user).get(url).status_code == 200
    assert api(world.staff_root).get(url).content.startswith(b"%PDF")
    assert api(world.staff_b).get(url).status_code == 404
    assert api(world.va2.user).get(url).status_code == 404


def _pdf(certificate) -> tuple[str, dict[str, bool], bytes]:
    """The PDF's text; every font that draws text in it (by its ``Tf`` operators), with whether
    the font's program is embedded in the file; and its bytes."""
    import io
    import re

    from pypdf import PdfReader

    data = certificates.certificate_pdf(certificate, verify_url=f"https://example.org/verify/{certificate.number}/")
    reader = PdfReader(io.BytesIO(data))
    text = "".join(page.extract_text() for page in reader.pages)
    drawing = {}
    for page in reader.pages:
        resources = page["/Resources"]["/Font"]
        used = set(re.findall(r"(/F[\w+]+) [\d.]+ Tf", page.get_contents().get_data().decode("latin-1")))
        for key in used:
            font = resources[key].get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            drawing[str(font["/BaseFont"])] = "/FontFile2" in descriptor
    return text, drawing, data


def _pages(data: bytes):
    import io

    from pypdf import PdfReader

    return PdfReader(io.BytesIO(data)).pages


def test_pdf_embeds_its_chinese_font_and_writes_chinese_dates(world):
    world.a.certificate_handler = "周经办"
    world.a.save()
    certificate = certificates.certificate_issue(
        volunteer=world.va1,
        issuer_org=world.a,
        actor=world.va1.user,
        period_start=world.yesterday,
        period_end=world.today,
    )
    text, fonts, data = _pdf(certificate)
    # Every font that draws text is a subset embedded in the file (``AAAAAA+NotoSansSC-…``): no
    # viewer needs a font of its own, unlike a CID reference such as STSong-Light.
    assert fonts and all("+NotoSansSC" in name and embedded for name, embedded in fonts.items()), fonts
    assert b"STSong" not in data
    start, end = world.yesterday, world.today
    assert f"{start.year}年{start.month}月{start.day}日至{end.year}年{end.month}月{end.day}日" in text.replace(" ", "")
    assert "周经办" in text  # the organisation's handler, for a volunteer's own download
    assert "本人自助下载" not in text
    assert "（盖章）" in text
    assert len(_pages(data)) == 1  # one sheet, as on paper
    assert world.va1.real_name in text.replace(" ", "")


def test_a_name_outside_the_common_characters_is_drawn_too(world):
    world.va1.real_name = "王䶮"  # U+4DAE, not in GB 2312
    world.va1.save()
    certificate = certificates.certificate_issue(
        volunteer=world.va1,
        issuer_org=world.a,
        actor=world.staff_a,
        period_start=world.yesterday,
        period_end=world.today,
    )
    text, fonts, _data = _pdf(certificate)
    assert "王䶮" in text.replace(" ", "")
    assert all("+NotoSansSC" in name and embedded for name, embedded in fonts.items()), fonts
    assert len(fonts) == 3, fonts  # regular, bold, and the one cut for the rare character


# --- Public verification --------------------------------------------------------------------------


def test_verify_genuine_forged_and_unknown(world, client):
    certificate = certificates.certificate_issue(
        volunteer=world.va1,
        issuer_org=world.a,
        actor=world.staff_a,
        period_start=world.yesterday,
        period_end=world.today,
    )
    response = client.get(f"/verify/{certificate.number}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert certificate.holder_name_masked in page
    assert world.va1.real_name not in page
    assert world.va1.volunteer_number not in page and world.va1.id_number_masked not in page
    assert response.context["hours"] == 4.0 and world.a.name in page
    assert response.context["result"] == "genuine"

    forged = client.get(f"/verify/{alter_last(certificate.number)}/")
    assert (forged.status_code, forged.context["result"]) == (404, "forged")
    assert client.get("/verify/not-a-number/").context["result"] == "forged"

    unknown_number = certificates.certificate_number_new(year=2025)
    unknown = client.get(f"/verify/{unknown_number}/")
    assert (unknown.status_code, unknown.context["result"]) == (404, "not_found")

    lower = client.get(f"/verify/{certificate.number.lower()}/")
    assert lower.context["result"] == "genuine"
    typed = client.get("/verify/", {"number": f"  {certificate.number} "})
    assert typed.status_code == 302 and typed["Location"] == f"/verify/{certificate.number}/"
    assert client.get("/verify/").status_code == 200


def test_verify_page_in_english(world, client):
    certificate = certificates.certificate_issue(
        volunteer=world.va1,
        issuer_org=world.a,
        actor=world.staff_a,
        period_start=world.yesterday,
        period_end=world.today,
    )
    page = client.get(f"/verify/{certificate.number}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This certificate is genuine." in page


def test_anonymous_cannot_issue_or_download(world, client):
    assert client.get("/api/v1/me/certificate.pdf").status_code == 401
    assert client.post("/api/v1/certificates/", {}).status_code == 401
    assert UserFactory().is_authenticated


@pytest.mark.parametrize("typed", ["a/b", "../..", "x" * 300, "²①"])
def test_verify_a_typed_number_that_is_no_path_segment_is_answered_in_place(db, client, typed):
    response = client.get("/verify/", {"number": typed})
    assert response.status_code == 404
    assert response.context["result"] == "forged"
    assert response.context["number"] == typed.upper()[:40]
