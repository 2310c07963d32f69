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
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


@functools.cache
def _lookup() -> tuple[str, list[str], list[str], list[tuple[int, list, object]]]:
    """The query (quoted names only), the attribute names of the token's and the user's columns,
    and the converters the ORM would apply to them."""
    quote = connection.ops.quote_name
    user_model = get_user_model()
    user_fields = list(user_model._meta.concrete_fields)
    token_fields = list(Token._meta.concrete_fields)
    columns = [f"t.{quote(field.column)}" for field in token_fields]
    columns += [f"u.{quote(field.column)}" for field in user_fields]
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Token._meta.db_table)} t "  # noqa: S608 - quoted names only
        f"JOIN {quote(user_model._meta.db_table)} u ON u.{quote(user_model._meta.pk.column)} = "
        f"t.{quote(Token._meta.get_field('user').column)} WHERE t.{quote(Token._meta.get_field('key').column)} = %s"
    )
    converters = []
    for index, field in enumerate(token_fields + user_fields):
        column = field.get_col(field.model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, found, column))
    return (
        sql,
        [field.attname for field in token_fields],
        [field.attname for field in user_fields],
        converters,
    )


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        sql, token_fields, user_fields, converters = _lookup()
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if converters:
            row = list(row)
            for index, functions, column in converters:
                for convert in functions:
                    row[index] = convert(row[index], column, connection)
        split = len(token_fields)
        user = get_user_model().from_db(connection.alias, user_fields, row[split:])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db(connection.alias, token_fields, row[:split])
        token.user = user
        return user, token
