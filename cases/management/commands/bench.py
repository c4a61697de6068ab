import os

from django.core.management.base import BaseCommand

from cases import bench


class Command(BaseCommand):
    help = ("Run the benchmark scenarios on the current database (a generated register) and "
            "print, or with --write record, the table in BENCHMARKS.md.")

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=50, help="Samples per scenario.")
        parser.add_argument("--http-seconds", type=int, default=30,
                            help="Length of the wrk run; 0 skips the HTTP part.")
        parser.add_argument("--write", action="store_true", help="Update BENCHMARKS.md.")
        parser.add_argument("--generated-in", type=int, default=None, metavar="SECONDS",
                            help="How long generate_register took, for the report.")

    def handle(self, *args, repeat, http_seconds, write, generated_in, **options):
        runner = bench.Bench(repeat=repeat)
        results = runner.run()
        http = None
        if http_seconds:
            self.stdout.write("HTTP load with wrk ...")
            http = bench.http_load(bench.case_list_path(runner), seconds=http_seconds,
                                   database_url=os.environ["DATABASE_URL"])
        text = bench.report(results, http, http_seconds, generated_in=generated_in)
        self.stdout.write(text)
        if write:
            bench.write_report(text)
            self.stdout.write(self.style.SUCCESS("BENCHMARKS.md updated."))
