"""Mask mobile and ID numbers in the rejection reasons of answers anonymised before the retention
sweep did it itself (communities/services/privacy._application_anonymise)."""

from django.db import migrations


def mask(apps, schema_editor):
    from config.logging import redact

    CallApplication = apps.get_model("volunteers", "CallApplication")
    changed = []
    for application in CallApplication.objects.filter(anonymised_at__isnull=False).exclude(reject_reason="").only(
        "pk", "reject_reason"
    ):
        masked = redact(application.reject_reason)
        if masked != application.reject_reason:
            application.reject_reason = masked
            changed.append(application)
    CallApplication.objects.bulk_update(changed, ["reject_reason"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0013_organization_padded_path"),
    ]

    operations = [migrations.RunPython(mask, migrations.RunPython.noop)]
