"""Compile the translation catalogues (``locale/*/LC_MESSAGES/*.po`` → ``.mo``).

Pure Python (polib), so a machine without GNU gettext can build them. ``make run`` and
``make test`` run it; compiled files are build output and are not kept in git.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def compile_catalogues(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        catalogue = polib.pofile(str(po_path))
        catalogue.save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


def main() -> int:
    written = compile_catalogues()
    for path in written:
        print(f"compiled {path.relative_to(LOCALE_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
