import os
import secrets
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Create a first superuser 'admin' with a generated password when no superuser "
            "exists; the password is printed once and never stored in clear.")

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An administrator account already exists.")
            return
        password = secrets.token_urlsafe(16)
        User.objects.create_superuser(username="admin", email="", password=password)
        self.stdout.write(self.style.WARNING(
            f"Created administrator 'admin' with password: {password}\n"
            "It is shown only this once: keep it, or change it with "
            f"'{change_password_command()}'."))


def change_password_command() -> str:
    """The command that changes the password, as it runs from here: with this Python (the
    project's environment; ``./manage.py`` would find the system's, without Django) and on
    this database (``EMBEDDED_DB=1`` when ``make run`` serves the embedded one)."""
    python = Path(sys.executable)
    try:
        python = python.relative_to(Path.cwd())
    except ValueError:
        pass
    embedded = "EMBEDDED_DB=1 " if os.environ.get("EMBEDDED_DB") and not os.environ.get(
        "DATABASE_URL") else ""
    return f"{embedded}{python} manage.py changepassword admin"
