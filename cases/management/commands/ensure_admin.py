import secrets

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
            "'manage.py changepassword admin'."))
