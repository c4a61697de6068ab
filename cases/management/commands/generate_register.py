import time

from django.core.management.base import BaseCommand
from django.db import connection

from cases.services.synthetic import Generator


class Command(BaseCommand):
    help = ("Add a synthetic register for benchmarks: --cases N cases, each with a document, "
            "and motions, referrals, decisions, activities and links; repeatable from --seed.")

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, required=True, help="How many cases.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument("--municipalities", type=int, default=30,
                            help="How many synthetic municipalities (default 30).")

    def handle(self, *args, cases, seed, municipalities, **options):
        started = time.monotonic()
        generator = Generator(seed=seed, progress=lambda line: self.stdout.write(f"  {line}"))
        counts = generator.generate(cases=cases, municipalities=municipalities)
        # As after any bulk load: planner statistics for the new rows, and the visibility map
        # that lets index-only scans skip the table (autovacuum would get there, later).
        self.stdout.write("  VACUUM (ANALYZE) ...")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        self.stdout.write(self.style.SUCCESS(
            f"Generated {counts} in {time.monotonic() - started:.0f} s."))
