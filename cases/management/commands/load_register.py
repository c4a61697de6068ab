from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.services.fixtures import FIXTURES_DIR, FixtureError, load_register, register_is_empty


class Command(BaseCommand):
    help = ("Load the demo register (every fact of fixtures/*.yaml with its source passages) in "
            "one transaction. Records someone else changed last are reported, never overwritten.")

    def add_arguments(self, parser):
        parser.add_argument("--fixtures", type=Path, default=FIXTURES_DIR,
                            help="Folder of fixture files (default: fixtures/).")
        parser.add_argument("--if-empty", action="store_true",
                            help="Load only into a database without register records (what "
                                 "`make run` does: demo data never lands in a used register).")

    def handle(self, *args, fixtures, if_empty, **options):
        if if_empty and not register_is_empty():
            self.stdout.write("The register holds records: demo data not loaded "
                              "(`make demo` loads it anyway, leaving others' changes alone).")
            return
        try:
            result = load_register(directory=fixtures,
                                   progress=lambda line: self.stdout.write(f"  {line}"))
        except FixtureError as exc:
            raise CommandError(f"Nothing loaded: {exc}") from exc
        for label, counts in (("created", result.created), ("updated", result.updated)):
            if counts:
                summary = ", ".join(f"{n} {model}" for model, n in sorted(counts.items()))
                self.stdout.write(f"{label}: {summary}")
        for conflict in result.conflicts:
            self.stdout.write(self.style.WARNING(f"conflict: {conflict}"))
        unchanged = sum(result.unchanged.values())
        left = f", {len(result.conflicts)} changed by others left as they are" \
            if result.conflicts else ""
        self.stdout.write(self.style.SUCCESS(
            f"Register loaded: {result.changes} changes, {unchanged} records unchanged{left}."))
