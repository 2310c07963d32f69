"""``manage.py changepassword``: Django's command (the prompts, the validators, three tries), with
the API tokens of the account revoked in the same transaction, as every other password change
does (``volunteers.services.user_password_set``; docs/privacy.md)."""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword
from django.db import transaction

from volunteers.services import user_api_tokens_revoke


class Command(changepassword.Command):
    help = "Change a user's password; the account's API tokens are revoked with the old one."

    def handle(self, *args, **options):
        user_model = get_user_model()
        username = options["username"] or getpass.getuser()
        with transaction.atomic(using=options["database"]):
            changed = super().handle(*args, **options)  # raises CommandError when it changes nothing
            user = user_model._default_manager.using(options["database"]).get(**{user_model.USERNAME_FIELD: username})
            revoked = user_api_tokens_revoke(user=user)
        return f"{changed}; {revoked} API token(s) revoked" if revoked else changed
