import os
import time

from django.core.management.base import BaseCommand

from cases import bench, bench_matrix


class Command(BaseCommand):
    help = ("Run the benchmark scenarios and the matrix of every door (cases.bench_matrix) on "
            "the current database (a generated register) and print, or with --write record, "
            "the tables in BENCHMARKS.md.")

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=50, help="Samples per scenario.")
        parser.add_argument("--samples", type=int, default=5,
                            help="Samples per matrix row (after one captured warm-up).")
        parser.add_argument("--no-matrix", action="store_true", help="Scenarios only.")
        parser.add_argument("--http-seconds", type=int, default=30,
                            help="Length of the wrk run; 0 skips the HTTP part.")
        parser.add_argument("--write", action="store_true", help="Update BENCHMARKS.md.")
        parser.add_argument("--generated-in", type=int, default=None, metavar="SECONDS",
                            help="How long generate_register took, for the report.")

    def handle(self, *args, repeat, samples, no_matrix, http_seconds, write, generated_in,
               **options):
        runner = bench.Bench(repeat=repeat)
        results = runner.run()
        http = None
        if http_seconds:
            self.stdout.write("HTTP load with wrk ...")
            http = bench.http_load(bench.case_list_path(runner), seconds=http_seconds,
                                   database_url=os.environ["DATABASE_URL"])
        text = bench.report(results, http, http_seconds, generated_in=generated_in)
        if not no_matrix:
            started = time.perf_counter()
            matrix = bench_matrix.Matrix(samples=samples,
                                         progress=lambda what: self.stderr.write(what))
            rows = matrix.run()
            text += "\n\n" + bench_matrix.report(rows, samples=samples,
                                                 seconds=time.perf_counter() - started)
        self.stdout.write(text)
        if write:
            bench.write_report(text)
            self.stdout.write(self.style.SUCCESS("BENCHMARKS.md updated."))
