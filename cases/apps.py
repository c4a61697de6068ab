from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Case register")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from caseregister import timestamps

        from . import signals  # noqa: F401  (connects the search index)
        from .api.limits import create_cache_table

        timestamps.install()
        post_migrate.connect(create_cache_table, sender=self)
