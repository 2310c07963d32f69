"""API token authentication: DRF's ``TokenAuthentication`` with its lookup as one written-out query.

DRF composes and compiles ``Token.objects.select_related("user").get(key=...)`` on every request:
0.8 ms of CPU, a fifth of a sign-up's (docs/performance.md). The same query written out once, with
the token and its user built from the row, costs a fraction of that. Same answers: the token's
user and the token, "Invalid token." for an unknown key, "User inactive or deleted." for an
inactive user (both 401 ``authentication_failed``).
"""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from config.prepared import Columns, column, table


@functools.cache
def _lookup(alias: str) -> tuple[str, Columns, Columns]:
    tokens, users = Columns.of(Token, "t", alias), Columns.of(get_user_model(), "u", alias)
    user_model = get_user_model()
    sql = (
        f"SELECT {tokens.sql}, {users.sql} FROM {table(Token, alias)} t "  # noqa: S608 - quoted names only
        f"JOIN {table(user_model, alias)} u ON u.{connections[alias].ops.quote_name(user_model._meta.pk.column)} = "
        f"t.{column(Token, 'user', alias)} WHERE t.{column(Token, 'key', alias)} = %s"
    )
    return sql, tokens, users


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        alias = router.db_for_read(Token)
        sql, tokens, users = _lookup(alias)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = users.build(row, tokens.width, db=alias)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = tokens.build(row, db=alias)
        token.user = user
        return user, token
