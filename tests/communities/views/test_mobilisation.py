"""The call-out composer: the preview shows the SMS exactly as sent, and warns when it is cut."""

from __future__ import annotations

import pytest

from tests.factories import CommunityFactory, UserFactory, VolunteerFactory

pytestmark = pytest.mark.django_db

LONG = "明早8点在金鸡湖社区东门集合，带好身份证和口罩，领取防护服后分组到各封控点执勤，中午统一送餐。"


@pytest.fixture
def composer(client, settings):
    settings.SITE_URL = "https://zyz.example.cn"
    settings.NOTIFICATIONS = {
        **settings.NOTIFICATIONS,
        "SMS_BACKEND": "config.sms.providers.AliyunSmsBackend",
        "SMS_SIGN_NAME": "金鸡湖志愿",
    }
    community = CommunityFactory()
    for _ in range(2):
        VolunteerFactory(deployed_community=community, status="active")
    client.force_login(UserFactory(is_superuser=True))
    client.community = community
    return client


def preview(client, *, message: str, language: str, by_sms: bool = True):
    data = {"audience": "community", "community": client.community.pk, "subject": "集合通知", "message": message}
    if by_sms:
        data["by_sms"] = "on"
    return client.post("/broadcasts/", {**data, "action": "preview"}, HTTP_ACCEPT_LANGUAGE=language)


@pytest.mark.parametrize(
    "language, warning",
    [
        ("zh-hans", "标题和内容超出短信变量的长度限制"),
        ("en", "The subject and message are too long for one text"),
    ],
)
def test_the_preview_shows_the_exact_text_and_warns_when_it_is_cut(composer, language, warning):
    page = preview(composer, message=LONG, language=language)
    assert page.status_code == 200
    shown = page.context["preview"]
    # The texts go out in the SMS language (NOTIFICATIONS["LANGUAGE"], Chinese) whatever the page's.
    assert shown["sms_text"] == (
        "志愿服务通知：集合通知：明早8点在金鸡湖社区东门集合，带好身份证和口罩，领取防护服… 详情：https://zyz.example.cn/m/1/"
    )
    html = page.content.decode()
    assert f'data-testid="broadcast-sms-text" lang="zh-hans">{shown["sms_text"]}</blockquote>' in html
    assert warning in html
    # The link costs characters: with the 35 of the summary this text is billed as two parts.
    assert ("80 characters with the signature" if language == "en" else "含签名共 80 字") in html
    assert (shown["sms_characters"], shown["parts_per_text"], shown["texts"]) == (80, 2, 2)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_text_that_fits_is_shown_without_a_warning(composer, language):
    page = preview(composer, message="明早8点东门集合", language=language)
    html = page.content.decode()
    assert "志愿服务通知：集合通知：明早8点东门集合 详情：https://zyz.example.cn/m/1/" in html
    assert 'data-testid="broadcast-sms-cut"' not in html


def test_without_sms_the_preview_shows_no_text(composer):
    page = preview(composer, message=LONG, language="zh-hans", by_sms=False)
    assert 'data-testid="broadcast-sms-text"' not in page.content.decode()
    assert page.context["preview"]["texts"] == 0
