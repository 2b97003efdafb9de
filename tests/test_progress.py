"""Progress of long experiments: lines on the terminal that runs the kernel, a bar in the cell.

The lines go to the kernel process's own stderr, which a book build inherits from the terminal
that started it. The last test reads the log of such a build: ``make html`` writes the terminal's
text to ``book/_build/html-build.log``; CI (``BOOK_CHECKS_REQUIRED=1``) builds from empty results
and requires the lines of both long experiments there.
"""

import os
import re
import time
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

from lib.progress import Progress, duration

LOG = Path(__file__).resolve().parents[1] / "book" / "_build" / "html-build.log"
LINE = r"\[{}\] (\d+)/(\d+) (?:runs|stacks), \d+ (?:min \d+ )?s"


def test_duration_reads_as_minutes_and_seconds():
    assert [duration(s) for s in (0.4, 42, 60, 190.4)] == ["0 s", "42 s", "1 min 0 s", "3 min 10 s"]


def test_lines_count_stored_runs_and_estimate_the_rest(capfd):
    with Progress("optimizers", 6, done=2, quiet_seconds=0, bar=False) as progress:
        time.sleep(0.2)
        progress.update()  # one trained in about 0.2 s: three left, about 0.6 s
        progress.update(3)
    lines = capfd.readouterr().err.splitlines()
    first = re.fullmatch(LINE.format("optimizers") + r", about (\d+) s left", lines[0])
    assert first and first.groups()[:2] == ("3", "6") and int(first.group(3)) <= 2
    assert re.fullmatch(LINE.format("optimizers"), lines[1])  # done: no estimate
    assert len(lines) == 2


def test_an_interruption_says_what_is_stored_and_that_the_next_build_resumes(capfd):
    with pytest.raises(KeyboardInterrupt), Progress("gan", 5, done=1, bar=False) as progress:
        progress.update()
        raise KeyboardInterrupt
    assert "[gan] interrupted: 2/5 runs are stored; the next build" in capfd.readouterr().err


def test_a_short_experiment_prints_nothing(capfd):
    with Progress("gan", 3) as progress:
        progress.update(3)
    assert "[gan]" not in capfd.readouterr().err


def test_a_kernel_prints_the_lines_to_its_own_terminal(capfd):
    """A kernel started as a book build starts it: its stderr is the parent's."""
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        code = "from lib.progress import Progress\nwith Progress('gan', 2, quiet_seconds=0) as p:\n"
        reply = client.execute_interactive(code + "    p.update(2)\n", timeout=120)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok"
    assert re.search(LINE.format("gan"), capfd.readouterr().err)


def test_the_book_build_printed_both_experiments_progress():
    if not LOG.exists():
        if os.environ.get("BOOK_CHECKS_REQUIRED") == "1":
            pytest.fail(f"no build log at {LOG}: run `make html` first")
        pytest.skip("the book has not been built with `make html`")
    text = LOG.read_text(errors="replace")
    for chapter in ("optimizers", "gan"):
        counts = [tuple(map(int, m)) for m in re.findall(LINE.format(chapter), text)]
        if not counts and os.environ.get("BOOK_CHECKS_REQUIRED") != "1":
            pytest.skip(f"the last build trained no [{chapter}] run (all were stored)")
        assert counts, f"no [{chapter}] progress line in {LOG.name}"
        assert all(0 < done <= total for done, total in counts)


def test_the_bar_goes_to_stderr_which_the_pages_leave_out(capsys):
    with Progress("gan", 2, quiet_seconds=60) as progress:
        progress.update(2)
    out, err = capsys.readouterr()
    assert out == "" and "2/2" in err
