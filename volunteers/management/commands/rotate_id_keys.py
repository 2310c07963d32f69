"""``manage.py rotate_id_keys``: re-encrypt every stored ID number with the newest key.

Procedure (docs/privacy.md): put the new key first in ``ID_NUMBER_KEYS`` (keep the old ones after
it), deploy, run this command, then remove the old keys. Rows already encrypted with the newest
key are left alone, so the command can be interrupted and run again.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from volunteers import crypto
from volunteers.models import Volunteer


class Command(BaseCommand):
    help = "Re-encrypt every volunteer's ID number with the first key of ID_NUMBER_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options):
        if not settings.ID_NUMBER_KEYS:
            raise CommandError("ID_NUMBER_KEYS is empty.")
        newest = Fernet(settings.ID_NUMBER_KEYS[0].encode())
        total = Volunteer.objects.count()
        self.stdout.write(f"{total} volunteer(s); {len(settings.ID_NUMBER_KEYS)} key(s) configured.")
        done = rotated = 0
        last_pk = 0
        while True:
            with transaction.atomic():
                batch = list(
                    Volunteer.objects.select_for_update()
                    .filter(pk__gt=last_pk)
                    .order_by("pk")
                    .only("pk", "id_number_encrypted")[:batch_size]
                )
                if not batch:
                    break
                changed = []
                for volunteer in batch:
                    if _under_key(newest, volunteer.id_number_encrypted):
                        continue
                    try:
                        volunteer.id_number_encrypted = crypto.rotate(volunteer.id_number_encrypted)
                    except InvalidToken:
                        raise CommandError(
                            f"Volunteer {volunteer.pk}: no configured key decrypts the ID number; "
                            "keep the old key in ID_NUMBER_KEYS until the rotation has finished."
                        ) from None
                    changed.append(volunteer)
                Volunteer.objects.bulk_update(changed, ["id_number_encrypted"])
            last_pk = batch[-1].pk
            done += len(batch)
            rotated += len(changed)
            self.stdout.write(f"{done}/{total} checked, {rotated} re-encrypted")
        self.stdout.write(
            self.style.SUCCESS(f"Done: {rotated} re-encrypted, {done - rotated} already on the newest key.")
        )


def _under_key(key: Fernet, token: str) -> bool:
    try:
        key.decrypt(token.encode())
    except InvalidToken:
        return False
    return True
