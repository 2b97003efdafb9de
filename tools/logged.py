"""Run a build command with its whole output kept in a log file and the terminal kept readable:
``python -m tools.logged LOG -- COMMAND ...`` (the Makefile's book targets).

The terminal shows what a person waits for or must act on: the experiments' progress lines
(``[optimizers] 12/54 runs, …``), the pages being executed, warnings and errors, and the build's
last word. The rest (the kernel's start-up notices, LaTeX's pages of log) goes to ``LOG`` only.
When the command fails, the failing notebook cell with its traceback and the log's last lines
follow. The exit
status is the command's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import deque
from pathlib import Path

SHOWN = re.compile(
    r"^\[[\w-]+\] \d+/\d+ "  # progress lines of lib/progress.py
    r"|^\[[\w-]+\] interrupted"
    r"|Executed notebook|book inputs changed"
    r"|WARNING(?!.*Kernel is running over TCP)|ERROR|Error|Traceback"
    r"|build succeeded|build finished|Finished generating|[Oo]utput written on|^build check"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TAIL_LINES = 30  # of the log, printed when the command fails
CELL_ERROR = "An error occurred while executing the following cell"  # nbclient's words
CELL_LINES = 80  # of the failing cell and its traceback, printed before the tail


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m tools.logged LOG -- COMMAND [ARGS ...]", file=sys.stderr)
        return 2
    log = Path(argv[0])
    log.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(
            argv[2:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        try:
            for line in process.stdout:
                out.write(line)
                out.flush()
                plain = ANSI.sub("", line)
                tail.append(plain)
                if SHOWN.search(plain):
                    print(plain, end="", flush=True)
        except KeyboardInterrupt:  # Ctrl-C reached the command too; let it stop
            process.wait()
            print(f"--- interrupted; the output so far is in {log}", file=sys.stderr)
            return 130
        status = process.wait()
    if status:
        text = log.read_text(encoding="utf-8", errors="replace")
        cell = text.find(CELL_ERROR)
        if cell >= 0:  # a notebook's failing cell and its traceback, before Sphinx's own
            lines = ANSI.sub("", text[cell:]).splitlines()[:CELL_LINES]
            print(f"--- a cell failed (from {log}):", *lines, sep="\n", file=sys.stderr)
        print(f"--- failed (exit {status}); the last lines of {log}:", file=sys.stderr)
        print("".join(tail), end="", file=sys.stderr)
    else:
        print(f"(full output in {log})")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
