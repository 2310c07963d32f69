"""A recruitment call's printable poster (招募令): PNG for WeChat groups, PDF for notice boards.

Both carry the call's title, organisation, deadline and a QR code of its short link, in Chinese
(posters go up in China whatever language the staff member reads), in Noto Sans SC (SIL OFL),
the font our PDFs embed (communities/render/fonts.py): the PDF embeds the glyphs it uses, the
PNG is drawn by Pillow from the same cut TrueType file. ``POSTER_FONT`` (a path) overrides the
PNG's font. A character outside GB 2312 (rare in a title) shows as the cut font's empty glyph.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import qrcode
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from communities.render import fonts

RED = (192, 39, 28)
INK = (29, 36, 48)
GREY = (107, 115, 128)
# 150 dpi A4 portrait: prints sharp, small enough to share in a chat.
WIDTH, HEIGHT = 1240, 1754
MARGIN = 100


def poster_font_path() -> str | None:
    configured = getattr(settings, "POSTER_FONT", "")
    if configured:
        return configured if Path(configured).exists() else None
    return str(fonts.font_file(bold=True))


@lru_cache(maxsize=16)
def _font(size: int, path: str | None):
    from PIL import ImageFont

    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def poster_lines(call) -> dict:
    """The poster's words, in the programme's language (Chinese by default)."""
    with translation.override(settings.LANGUAGE_CODE):
        deadline = timezone.localtime(call.deadline)
        return {
            "heading": _("Recruitment call"),
            "title": call.title,
            "organization": call.organization.name,
            "deadline": _("Apply by %(date)s") % {"date": f"{deadline:%Y年%-m月%-d日 %H:%M}"},
            "target": _("Recruiting %(count)s volunteers") % {"count": call.target_count},
            "scan": _("Scan the code to apply"),
        }


def _wrap(draw, text: str, font, width: int) -> list[str]:
    """Break ``text`` to fit ``width`` pixels, between any two characters (Chinese has no spaces)."""
    lines, line = [], ""
    for char in text:
        if char == "\n":
            lines.append(line)
            line = ""
            continue
        if draw.textlength(line + char, font=font) > width and line:
            lines.append(line)
            line = char
        else:
            line += char
    if line:
        lines.append(line)
    return lines


def _qr_image(url: str, size: int):
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10)
    code.add_data(url)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    return image.resize((size, size), resample=0)


def poster_png(call, url: str) -> bytes:
    from PIL import Image, ImageDraw

    words = poster_lines(call)
    path = poster_font_path()
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 260), fill=RED)
    heading = _font(110, path)
    draw.text((WIDTH / 2, 130), words["heading"], font=heading, fill="white", anchor="mm")
    y = 330
    title_font = _font(72, path)
    for line in _wrap(draw, words["title"], title_font, WIDTH - 2 * MARGIN)[:3]:
        draw.text((WIDTH / 2, y), line, font=title_font, fill=INK, anchor="mt")
        y += 92
    y += 10
    small = _font(40, path)
    for key in ("organization", "target", "deadline"):
        draw.text((WIDTH / 2, y), words[key], font=small, fill=RED if key == "deadline" else GREY, anchor="mt")
        y += 62
    qr_size = 700
    top = max(y + 30, HEIGHT - qr_size - 260)
    image.paste(_qr_image(url, qr_size), ((WIDTH - qr_size) // 2, top))
    draw.text((WIDTH / 2, top + qr_size + 40), words["scan"], font=_font(52, path), fill=INK, anchor="mt")
    draw.text((WIDTH / 2, top + qr_size + 120), url, font=_font(30, path), fill=GREY, anchor="mt")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def poster_pdf(call, url: str) -> bytes:
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    regular, bold = fonts.register()
    words = poster_lines(call)
    page_width, page_height = A4
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, initialFontName=regular)
    pdf.setTitle(words["title"])
    pdf.setFillColorRGB(*(c / 255 for c in RED))
    pdf.rect(0, page_height - 45 * mm, page_width, 45 * mm, stroke=0, fill=1)
    pdf.setFillColorRGB(1, 1, 1)
    pdf.setFont(bold, 40)
    pdf.drawCentredString(page_width / 2, page_height - 29 * mm, words["heading"])
    pdf.setFillColorRGB(*(c / 255 for c in INK))
    pdf.setFont(bold, 26)
    y = page_height - 65 * mm
    for line in _pdf_wrap(words["title"], bold, 26, page_width - 40 * mm)[:3]:
        pdf.drawCentredString(page_width / 2, y, line)
        y -= 12 * mm
    pdf.setFont(regular, 15)
    for key in ("organization", "target", "deadline"):
        pdf.setFillColorRGB(*(c / 255 for c in (RED if key == "deadline" else GREY)))
        pdf.drawCentredString(page_width / 2, y, words[key])
        y -= 9 * mm
    size = 110 * mm
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, (page_width - size) / 2, 40 * mm)
    pdf.setFillColorRGB(*(c / 255 for c in INK))
    pdf.setFont(bold, 20)
    pdf.drawCentredString(page_width / 2, 30 * mm, words["scan"])
    pdf.setFont(regular, 11)
    pdf.setFillColorRGB(*(c / 255 for c in GREY))
    pdf.drawCentredString(page_width / 2, 20 * mm, url)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _pdf_wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, line = [], ""
    for char in text:
        if stringWidth(line + char, font, size) > width and line:
            lines.append(line)
            line = char
        else:
            line += char
    if line:
        lines.append(line)
    return lines
