from django.core.management.base import CommandError
from django.core.management.commands import migrate

from caseregister.db_roles import as_owner, grant_runtime_privileges


class Command(migrate.Command):
    """Django's migrate, run as the owner role (``DATABASE_OWNER_URL``) when one is configured,
    then granting the runtime role (``DATABASE_URL``) its rights: the application's own role
    may not change the schema, so a plain ``manage.py migrate`` must not need it to."""

    help = migrate.Command.help + (" Runs as the owner role (DATABASE_OWNER_URL) when one is "
                                   "set, then grants the runtime role (DATABASE_URL) its rights.")

    def handle(self, *args, **options):
        with as_owner(options["database"]) as connection:
            super().handle(*args, **options)
            if not options.get("plan") and not options.get("check_unapplied"):
                try:
                    grant_runtime_privileges(connection)
                except RuntimeError as exc:
                    raise CommandError(str(exc)) from exc
