"""System checks of the communities app (``manage.py check --deploy`` runs the deploy ones)."""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Tags, register

DEVELOPMENT_SMS_BACKENDS = ("config.sms.backends.FileSmsBackend", "config.sms.backends.ConsoleSmsBackend")


@register(Tags.compatibility, deploy=True)
def sms_backend_check(app_configs=None, **kwargs) -> list[Error]:
    """Production with the file or console backend writes every text to a file and calls it sent.

    Refused unless ``SMS_ALLOW_DEVELOPMENT_BACKEND=true`` says it is meant (a staging server,
    a programme that texts no one).
    """
    conf = settings.NOTIFICATIONS
    if conf["SMS_BACKEND"] not in DEVELOPMENT_SMS_BACKENDS or conf.get("SMS_ALLOW_DEVELOPMENT_BACKEND"):
        return []
    return [
        Error(
            f"NOTIFICATIONS['SMS_BACKEND'] is {conf['SMS_BACKEND']}, which sends no text to anyone: "
            "every message is written to a file or the console and marked sent.",
            hint="Set NOTIFY_SMS_BACKEND to config.sms.providers.AliyunSmsBackend or "
            "config.sms.providers.TencentSmsBackend (docs/deployment.md, SMS), or "
            "SMS_ALLOW_DEVELOPMENT_BACKEND=true if no text should leave this server.",
            id="communities.E001",
        )
    ]


_PROVIDER_SETTINGS = {
    "config.sms.providers.AliyunSmsBackend": ("aliyun", ("ACCESS_KEY_ID", "ACCESS_KEY_SECRET")),
    "config.sms.providers.TencentSmsBackend": ("tencent", ("SECRET_ID", "SECRET_KEY", "SDK_APP_ID")),
}


@register(Tags.compatibility, deploy=True)
def sms_provider_check(app_configs=None, **kwargs) -> list[Error]:
    """A Chinese provider needs its credentials, the approved signature and a template per kind."""
    conf = settings.NOTIFICATIONS
    if conf["SMS_BACKEND"] not in _PROVIDER_SETTINGS:
        return []
    provider, keys = _PROVIDER_SETTINGS[conf["SMS_BACKEND"]]
    missing = [f"SMS_{provider.upper()}['{key}']" for key in keys if not conf[f"SMS_{provider.upper()}"].get(key)]
    if not conf.get("SMS_SIGN_NAME"):
        missing.append("SMS_SIGN_NAME")
    unmapped = [kind for kind, template in conf["SMS_TEMPLATES"].items() if not template.get(provider)]
    if unmapped:
        missing.append(f"NOTIFY_SMS_{provider.upper()}_TEMPLATES for {', '.join(unmapped)}")
    if not missing:
        return []
    return [
        Error(
            f"The {provider} SMS backend is missing: {'; '.join(missing)}.",
            hint="docs/deployment.md, SMS; config/deploy/env.example lists the variables.",
            id="communities.E002",
        )
    ]


@register(Tags.compatibility, deploy=True)
def site_url_check(app_configs=None, **kwargs) -> list[Error]:
    """Texts carry links built from ``SITE_URL`` (a call-out's ``/m/<id>/``): it must be the public
    HTTPS address, not the development default."""
    url = urlparse(settings.SITE_URL)
    if url.scheme == "https" and url.hostname and url.hostname not in ("localhost", "127.0.0.1"):
        return []
    return [
        Error(
            f"SITE_URL is {settings.SITE_URL!r}: the links texted to volunteers would not reach the site.",
            hint="Set SITE_URL to the site's public address, e.g. https://volunteers.example.org "
            "(the domain of the call-out SMS template: docs/sms-templates.md).",
            id="communities.E003",
        )
    ]
