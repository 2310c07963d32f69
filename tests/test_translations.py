"""Both catalogues are complete: every message a person can read has a translation."""

from pathlib import Path

import polib
import pytest

LOCALE = Path(__file__).resolve().parent.parent / "locale"


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_catalogue_is_complete(language):
    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    assert len(catalogue) > 100
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []


def test_placeholders_survive_translation():
    catalogue = polib.pofile(str(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w*\}")
    for entry in catalogue:
        wanted = sorted(set(placeholder.findall(entry.msgid)) | set(placeholder.findall(entry.msgid_plural or "")))
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            assert sorted(set(placeholder.findall(text))) == wanted, entry.msgid


# The next two tests run in this order on one worker: the first leaves English active on the
# thread, as any request with Accept-Language: en does, and the second must still start in the
# default language (tests/conftest.py, default_language).
@pytest.mark.django_db
@pytest.mark.xdist_group("language-reset")
def test_a_request_in_english_leaves_english_active_on_the_thread(client):
    from django.utils import translation

    response = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code in (401, 403)
    assert response.json()["message"] == "Authentication is required."
    assert translation.get_language() == "en"


@pytest.mark.xdist_group("language-reset")
def test_the_next_test_starts_in_the_default_language(settings):
    from django.utils import translation

    assert translation.get_language() == settings.LANGUAGE_CODE
