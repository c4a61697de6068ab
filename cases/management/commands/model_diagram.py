from django.core.management.base import BaseCommand, CommandError

from cases import diagram


class Command(BaseCommand):
    help = "Print the data-model diagram, write it into models_docs/README.md, or check it."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--write", action="store_true", help="Update models_docs/README.md.")
        group.add_argument("--check", action="store_true",
                           help="Fail when models_docs/README.md is stale.")

    def handle(self, *args, write, check, **options):
        if write:
            changed = diagram.write()
            self.stdout.write("models_docs/README.md " + ("updated" if changed else "is current"))
        elif check:
            if diagram.current() != diagram.render():
                raise CommandError("models_docs/README.md is stale: run `make diagram`.")
            self.stdout.write("models_docs/README.md is current")
        else:
            self.stdout.write(diagram.render())
