from django.core.management.base import BaseCommand

from cases.search import reindex_all


class Command(BaseCommand):
    help = "Rebuild the search index of every searchable record (after bulk loads)."

    def handle(self, *args, **options):
        count = reindex_all(progress=lambda line: self.stdout.write(f"  {line}"))
        self.stdout.write(self.style.SUCCESS(f"{count} records indexed."))
