"""pytest runs the book in its quick profile (nbval kernels inherit the environment)."""

import os

os.environ.setdefault("BOOK_PROFILE", "quick")

collect_ignore_glob = ["book/_build/*", "book/_build/**"]
