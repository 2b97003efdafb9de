"""Command line: ``python -m benchmarks [--profile P] [--only SECTION ...] [--output PATH]``.

Runs the benchmarks (all of them, or those ``--only`` names), prints the summary table (Markdown)
and writes the results, measured in this one run, to the JSON file the performance page reads.
"""

from __future__ import annotations

import argparse

from benchmarks.measurements import SECTIONS, run_benchmarks
from benchmarks.results import HEADERS, default_path, save_results, summary_rows
from lib.config import PROFILES
from lib.report import markdown_table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--profile", choices=PROFILES, help="sizes (default: $BOOK_PROFILE)")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION")
    parser.add_argument("--output", default=str(default_path()), help="JSON file to write")
    args = parser.parse_args(argv)
    results = run_benchmarks(args.profile, args.only or SECTIONS)
    path = save_results(results, args.output)
    print(markdown_table(HEADERS, summary_rows(results)))
    print(f"\nResults written to {path}")


if __name__ == "__main__":
    main()
