from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunitiesConfig(AppConfig):
    name = "communities"
    verbose_name = _("Communities and shifts")

    def ready(self) -> None:
        from communities import checks, tasks  # noqa: F401  (registers the system checks and the tasks)
