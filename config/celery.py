import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("volunteer_mobilisation")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_named(name: str):
    """The registered task called ``name``: services enqueue through it, so no service imports a
    tasks module (tasks import their services inside the task body; the apps import their
    ``tasks`` module when ready, so every task is registered in every process)."""
    return app.tasks[name]
