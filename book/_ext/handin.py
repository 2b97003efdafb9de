"""Sphinx extension: the PDF shows no hidden code and breaks no listing, and the hand-in builds
without part two.

* ``hide-input`` puts a cell's code behind a toggle in the HTML pages. A PDF has no toggle and
  would print the code in full, so in LaTeX the input of such a cell is dropped (its output,
  a figure, stays).
* A code block that fits on a page is not split across two (the graded listings read whole).
* The hand-in (``make submission``) builds the graded chapters alone from ``_toc_handin.yml``.
  Their links into the book's second part, the pages named in :data:`SECOND_PART`, then have no
  target: where such a page is not part of the build, a reference to it or to one of its labels
  (labels on those pages start with the page's name, ``minimax-beyond...``) is printed as its
  text (or, for a bare label, as "the book's second part") instead of failing the build. In the
  full book they are links, checked as usual.
* The hand-in leaves out the sections written for readers of the book rather than its graders,
  titled as in :data:`HANDIN_OMITS` (exercises, a pointer to part two); references to them are
  printed as their text.
* ``$AUTHOR`` (``make submission AUTHOR="Name Surname"``, or any build), when set, replaces
  ``author`` of ``_config.yml`` on the PDF's title page and in its metadata, and in the HTML
  pages. It changes no page's content, so no page is read again.
"""

import os

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import texescape

SECOND_PART = ("minimax_beyond", "gan_beyond", "performance")  # and the appendix page
HANDIN_OMITS = ("Try it", "Beyond the homework")  # section titles the graders' PDF leaves out
LONGEST_WHOLE = 45  # lines of the longest code block kept on one page of the PDFs


def _is_handin(env) -> bool:
    return not any(page in env.found_docs for page in SECOND_PART)


class OmitFromHandin(SphinxTransform):
    """In the hand-in, remove the sections titled as in :data:`HANDIN_OMITS`."""

    default_priority = 500  # after docutils moved labels onto their sections (260)

    def apply(self, **kwargs):
        if not _is_handin(self.env):
            return
        for section in list(self.document.findall(nodes.section)):
            if section[0].astext() in HANDIN_OMITS:
                self.env.handin_omitted = getattr(self.env, "handin_omitted", set())
                self.env.handin_omitted.update(section["names"])
                section.parent.remove(section)


class KeepListingsWhole(SphinxPostTransform):
    """In LaTeX, set each code block of at most :data:`LONGEST_WHOLE` lines in an unbreakable box,
    so that it moves whole to the next page rather than split across two."""

    default_priority = 200
    formats = ("latex",)

    def run(self, **kwargs):
        for block in list(self.document.findall(nodes.literal_block)):
            if block.astext().count("\n") < LONGEST_WHOLE:
                parent, index = block.parent, block.parent.index(block)
                start = "\\par\\noindent\\begin{minipage}{\\linewidth}"
                parent.insert(index, nodes.raw("", start, format="latex"))
                parent.insert(index + 2, nodes.raw("", "\\end{minipage}\\par", format="latex"))


class DropHiddenInput(SphinxPostTransform):
    """In LaTeX, remove the source of code cells tagged ``hide-input``."""

    default_priority = 199  # where myst-nb wraps hidden inputs for HTML
    formats = ("latex",)

    def run(self, **kwargs):
        for cell in list(self.document.findall(nodes.container)):
            if cell.get("nb_element") != "cell_code" or cell.get("hide_mode") != "input":
                continue
            for child in list(cell.children):
                if child.get("nb_element") == "cell_code_source":
                    cell.remove(child)


def _text_for_second_part(app, env, node, contnode):
    if node.get("reftarget") in getattr(env, "handin_omitted", ()):
        return contnode
    target = str(node.get("reftarget", "")).lstrip("/").replace("-", "_")
    for page in SECOND_PART:
        if target.startswith(page) and page not in env.found_docs:
            if node.get("refexplicit"):
                return contnode
            # a reference by label alone would print the label: name the place instead
            where = "the book's appendix" if page == "performance" else "the book's second part"
            return nodes.inline(where, where)
    return None  # any other missing reference fails as usual


def _author() -> str:
    return os.environ.get("AUTHOR", "").strip()


def _latex_author(app):
    # Sphinx fills latex_documents from `author`; the tuple's fourth item is the title page's
    # author and the PDF's metadata (`pdfauthor`). At builder-inited the root page is known.
    config = app.config
    if _author():
        texescape.init()  # idempotent; the LaTeX builder calls it later
        author = texescape.escape(_author(), config.latex_engine)
        config.latex_documents = [(*d[:3], author, *d[4:]) for d in config.latex_documents]


def _html_author(app, pagename, templatename, context, doctree):
    if _author():
        context["author"] = _author()


def setup(app):
    app.connect("builder-inited", _latex_author)
    app.connect("html-page-context", _html_author)
    app.add_post_transform(DropHiddenInput)
    app.add_post_transform(KeepListingsWhole)
    app.add_transform(OmitFromHandin)
    app.connect("missing-reference", _text_for_second_part)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
