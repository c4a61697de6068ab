from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.services.fixtures import FIXTURES_DIR, FixtureError, load_register


class Command(BaseCommand):
    help = "Load every fact of fixtures/*.yaml with its source passages, in one transaction."

    def add_arguments(self, parser):
        parser.add_argument("--fixtures", type=Path, default=FIXTURES_DIR,
                            help="Folder of fixture files (default: fixtures/).")

    def handle(self, *args, fixtures, **options):
        try:
            result = load_register(directory=fixtures,
                                   progress=lambda line: self.stdout.write(f"  {line}"))
        except FixtureError as exc:
            raise CommandError(f"Nothing loaded: {exc}") from exc
        for label, counts in (("created", result.created), ("updated", result.updated)):
            if counts:
                summary = ", ".join(f"{n} {model}" for model, n in sorted(counts.items()))
                self.stdout.write(f"{label}: {summary}")
        unchanged = sum(result.unchanged.values())
        self.stdout.write(self.style.SUCCESS(
            f"Register loaded: {result.changes} changes, {unchanged} records unchanged."))
