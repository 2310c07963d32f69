"""Zero-pad the ids in organizations' materialised paths, so ordering by path keeps siblings in id order."""

from django.db import migrations

DIGITS = 10


def _rewrite(apps, segment):
    Organization = apps.get_model("volunteers", "Organization")
    rows = list(Organization.objects.order_by("depth", "pk").values_list("pk", "parent_id"))
    paths: dict[int, str] = {}
    changed = []
    for pk, parent_id in rows:
        paths[pk] = f"{paths[parent_id] if parent_id else '/'}{segment(pk)}/"
        changed.append(Organization(pk=pk, path=paths[pk]))
    Organization.objects.bulk_update(changed, ["path"], batch_size=1000)


def pad(apps, schema_editor):
    _rewrite(apps, lambda pk: f"{pk:0{DIGITS}d}")


def unpad(apps, schema_editor):
    _rewrite(apps, str)


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0012_call_application_retention"),
    ]

    operations = [migrations.RunPython(pad, unpad)]
