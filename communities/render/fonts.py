"""The Chinese font embedded in our PDFs (certificates, posters): Noto Sans SC, SIL Open Font
License, from the ``justmytype-intl-cjk`` package.

The package ships the variable TrueType font (17 MB, every weight). ReportLab embeds TrueType
outlines only, at the font's default weight (Thin), so the weights we use are cut once per
machine with fontTools: the characters of GB 2312 (the 6,763 common hanzi, enough for almost
every name) plus ASCII and Chinese punctuation, at Regular (400) and Bold (700), written to
``var/fonts/`` (about 2 MB each; 10 to 40 seconds, under a file lock, atomically). A character
outside that set (a rare hanzi in a name) is drawn from a font cut for it alone (``markup``,
about 2 seconds the first time in a process). ReportLab then embeds, in each PDF, only the glyphs
that PDF uses, so any viewer shows the same letters (``pdffonts``: ``emb yes``, ``sub yes``).
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import threading
from functools import cache
from importlib.resources import files
from pathlib import Path

from django.conf import settings
from reportlab.graphics.shapes import STATE_DEFAULTS
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

logger = logging.getLogger(__name__)

REGULAR = "NotoSansSC"
BOLD = "NotoSansSC-Bold"
WEIGHTS = {REGULAR: 400, BOLD: 700}
_SOURCE = "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"
_lock = threading.Lock()


def _variable_font_path() -> str:
    return str(files("justmytype_intl_cjk") / _SOURCE)


@cache
def common_characters() -> str:
    """GB 2312 (levels 1 and 2, symbols), printable ASCII and the full-width punctuation."""
    chars = {chr(code) for code in range(0x20, 0x7F)}
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    chars |= set("—–·…“”‘’《》〈〉【】〔〕（）：；，。、？！￥％＋－＝／")
    return "".join(sorted(chars))


def _cut(text: str, weight: int, postscript_name: str | None = None) -> bytes:
    """A static TrueType font of ``text``'s characters at ``weight``, from the variable font."""
    from fontTools import subset
    from fontTools.ttLib import TTFont as FontToolsFont
    from fontTools.varLib import instancer

    font = FontToolsFont(_variable_font_path(), lazy=True)
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    static = instancer.instantiateVariableFont(font, {"wght": weight})
    style = "Bold" if weight >= 700 else "Regular"
    for record in static["name"].names:
        if record.nameID in (4, 6):  # full name, PostScript name: not the variable font's "Thin"
            # Unique per cut: a PDF keeps one font per PostScript name.
            record.string = (
                f"Noto Sans SC {style}" if record.nameID == 4 else (postscript_name or f"NotoSansSC-{style}")
            )
        elif record.nameID == 2:
            record.string = style
    out = io.BytesIO()
    static.save(out)
    return out.getvalue()


def _cache_dir() -> Path:
    return Path(settings.BASE_DIR) / "var" / "fonts"


def _common_font_file(name: str) -> Path:
    """``var/fonts/<name>.ttf``, cut on first use; one process cuts it while the others wait."""
    path = _cache_dir() / f"{name}-gb2312.ttf"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            logger.info("Cutting the %s font for PDFs into %s (once per machine)", name, path)
            data = _cut(common_characters(), WEIGHTS[name])
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_bytes(data)
            os.replace(temporary, path)
    return path


@cache
def _common_charset() -> frozenset[str]:
    return frozenset(common_characters())


def font_file(*, bold: bool = False) -> Path:
    """The cut TrueType file itself (GB 2312 at Regular or Bold), for drawing with Pillow: a
    call's PNG poster (communities/render/posters.py)."""
    return _common_font_file(BOLD if bold else REGULAR)


def register() -> tuple[str, str]:
    """Register the regular and bold fonts; returns their names.

    Drawings (QR codes, the seal) start in the regular one too; documents pass it as their
    ``initialFontName``, else each page starts in Helvetica, a font the file does not carry.
    """
    with _lock:
        for name in (REGULAR, BOLD):
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, str(_common_font_file(name))))
        STATE_DEFAULTS["fontName"] = REGULAR  # drawings (QR codes, the seal) start in it too
    return REGULAR, BOLD


def _extra_font(chars: str, weight: int) -> str:
    """A font of just ``chars`` (outside the common set) at ``weight``, cut once per machine into
    ``var/fonts/`` and registered once per process."""
    key = "-".join(f"{ord(char):x}" for char in chars)[:100]
    name = f"{REGULAR}-{weight}-{key}"
    with _lock:
        if name not in pdfmetrics.getRegisteredFontNames():
            path = _cache_dir() / f"{name}.ttf"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                temporary = path.with_suffix(f".{os.getpid()}.tmp")
                temporary.write_bytes(_cut(chars, weight, postscript_name=name))
                os.replace(temporary, path)
            pdfmetrics.registerFont(TTFont(name, str(path)))
    return name


def markup(text: str, *, bold: bool = False) -> str:
    """``text`` escaped for a ReportLab paragraph, with any character outside the common set
    (a rare hanzi in a name) drawn from a font cut for it alone."""
    from xml.sax.saxutils import escape

    common = _common_charset()
    out, run = [], []

    def flush() -> None:
        if run:
            face = _extra_font("".join(sorted(set(run))), WEIGHTS[BOLD if bold else REGULAR])
            out.append(f'<font face="{face}">{escape("".join(run))}</font>')
            run.clear()

    for char in text:
        if char in common or char.isspace() or not char.isprintable():
            flush()
            out.append(escape(char))
        else:
            run.append(char)
    flush()
    return "".join(out)
