"""Command line: ``python -m benchmarks [--profile full|quick] [--only SECTION ...]
[--threads N] [--record NAME=SECONDS ...] [--time-command NAME=COMMAND ...] [--output PATH]``.

With no option every benchmark runs. ``--record`` and ``--time-command`` alone only add wall
times to the stored results (no benchmark reruns unless ``--only`` asks for it). The results are
merged into the JSON file and the whole table is printed.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.measurements import SECTIONS, run_benchmarks
from benchmarks.results import (
    HEADERS,
    default_path,
    format_table,
    load_results,
    merge_results,
    recorded,
    save_results,
    summary_rows,
    timed,
)
from lib.config import PROFILES


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="sizes to use (default: $BOOK_PROFILE, else full)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        metavar="SECTION",
        help=f"run only this benchmark (repeatable): {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="torch threads while measuring (default: the profile's, one)",
    )
    parser.add_argument(
        "--record",
        action="append",
        default=[],
        metavar="NAME=SECONDS",
        help="store a wall time measured elsewhere, e.g. make_test=312",
    )
    parser.add_argument(
        "--time-command",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="run COMMAND in a shell, store its wall time under NAME",
    )
    parser.add_argument(
        "--output",
        default=str(default_path()),
        help="JSON file to merge the results into (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        wall_times = dict(recorded(text) for text in args.record)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    wall_times.update(timed(text) for text in args.time_command)
    only_wall_times = bool(args.record or args.time_command) and not args.only
    sections = [] if only_wall_times else (args.only or SECTIONS)
    overrides = {} if args.threads is None else {"threads": args.threads}
    results = merge_results(load_results(args.output), {"wall_times": wall_times})
    path = save_results(results, args.output)
    for section in sections:  # saved one by one: a failing section keeps the others' figures
        results = merge_results(
            results, run_benchmarks(args.profile, [section], not args.no_progress, **overrides)
        )
        save_results(results, args.output)
    print(format_table(HEADERS, summary_rows(results)))
    print(f"\nResults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
