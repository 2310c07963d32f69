"""``manage.py changepassword`` revokes the account's API tokens with the old password, as the
page and the admin do; a change that does not happen revokes nothing."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW = "Zhiyuan-2026-strong"


def _typed(monkeypatch, *answers):
    """What the operator types at the prompts (getpass reads the terminal, which a test has not)."""
    typed = iter(answers)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))


def test_a_new_password_from_the_command_revokes_the_accounts_tokens(monkeypatch, capsys):
    user = UserFactory(username="ops-user")
    Token.objects.create(user=user)
    _typed(monkeypatch, NEW, NEW)
    call_command("changepassword", "ops-user")
    assert not Token.objects.filter(user=user).exists()
    assert user.__class__.objects.get(pk=user.pk).check_password(NEW)
    assert "1 API token(s) revoked" in capsys.readouterr().out


def test_a_change_given_up_after_three_mismatches_keeps_password_and_tokens(monkeypatch):
    user = UserFactory(username="ops-user2")
    token = Token.objects.create(user=user)
    before = user.__class__.objects.get(pk=user.pk).password
    _typed(monkeypatch, NEW, "x1", NEW, "x2", NEW, "x3")
    with pytest.raises(CommandError):
        call_command("changepassword", "ops-user2")
    assert Token.objects.filter(pk=token.pk).exists()
    assert user.__class__.objects.get(pk=user.pk).password == before
