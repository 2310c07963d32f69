"""A call's poster: a PNG and a one-page PDF, in Chinese, with the call's link as a QR code."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from communities.render import posters
from tests.factories import OrganizationFactory, RecruitmentCallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def call():
    return RecruitmentCallFactory(
        organization=OrganizationFactory(name="苏州金融团工委"), title="金融青年抗疫志愿者招募令", target_count=50
    )


def test_the_words_are_chinese_whatever_the_reader_language(call, settings):
    from django.utils import translation

    with translation.override("en"):
        words = posters.poster_lines(call)
    assert words["heading"] == "招募令"
    assert words["title"] == "金融青年抗疫志愿者招募令"
    assert words["target"] == "招募志愿者 50 名"
    assert words["deadline"].startswith("报名截止：")


def test_the_png_is_a4_at_150_dpi(call):
    image = Image.open(io.BytesIO(posters.poster_png(call, "https://example.org/c/abcdefgh/")))
    assert (image.format, image.size) == ("PNG", (1240, 1754))
    # The red band at the top and a QR module (black) in the middle.
    assert image.getpixel((10, 10)) == posters.RED
    assert (0, 0, 0) in {image.getpixel((x, 1200)) for x in range(300, 940, 5)}


def test_the_pdf_is_one_page_with_the_embedded_font(call):
    pdf = posters.poster_pdf(call, "https://example.org/c/abcdefgh/")
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type /Page>") >= 1
    assert b"NotoSansSC" in pdf and b"FontFile2" in pdf  # embedded TrueType, not a reader's font


def test_a_configured_font_that_is_missing_falls_back_without_failing(call, settings):
    settings.POSTER_FONT = "/nonexistent/font.ttc"
    assert posters.poster_font_path() is None
    assert posters.poster_png(call, "https://example.org/c/x/").startswith(b"\x89PNG")
