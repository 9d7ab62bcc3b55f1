"""The help of ``metareview`` itself (``metareview --help``, and ``metareview`` alone), printed without typer.

Importing typer was most of the time ``metareview --help`` took (its main module, the click it vendors,
``inspect``, ``subprocess``: about half of what is metareview's own), and listing the commands imports
every ``cmd_*`` module.  This page is the one typer prints, laid out here by the rules of click's plain
help formatter (``HelpFormatter``: the usage line, the paragraphs wrapped and indented, the two-column
lists of options and commands, at the terminal's width up to 80 columns) from a copy of the listing.
click itself cannot do the layout: typer vendors it as ``typer._click``, whose import imports typer.

``tests/cli/test_root_help.py`` fails when this page and typer's differ, at every width from 20 to 250
columns, piped or at a terminal: a command added, renamed, hidden or described anew is copied into
:data:`COMMANDS` (the test prints the rows typer lists).  Every other command line, shell completion
(``_METAREVIEW_COMPLETE``) included, goes through typer.
"""

from __future__ import annotations

import os
import textwrap

#: What the usage line shows after the program's name (typer's group: options, then a command).
USAGE = "[OPTIONS] COMMAND [ARGS]..."

#: The options typer and click add to the root after ``--version``, with their help.
OPTIONS = (
    ("--install-completion", "Install completion for the current shell."),
    ("--show-completion", "Show completion for the current shell, to copy it or customize the installation."),
    ("--help", "Show this message and exit."),
)

#: The commands as typer lists them (``_tree.Commands.listing``): name and short help, in its order
#: (commands, then groups, by module name), hidden ones left out.
COMMANDS = (
    ("batch", "Pool every analysis of DATA and write one row of pooled results per analysis."),
    ("check", "Check a table: events <= n, printed % vs counts, totals, duplicates, SDs and scales."),
    ("example", "Copy an example review (plan, data table, PRISMA counts, search exports, screening and "
                "extraction sheets) into DIR, to follow the tutorial from any folder."),
    ("grade", "GRADE one outcome: the five domains (suggested from the numbers or rated by you) and the "
              "certainty."),
    ("init", "Write a commented review.toml and an example data table to DIR; `metareview run DIR` runs them."),
    ("forest", "Forest plot of DATA: studies, weights, common and random effects, heterogeneity."),
    ("funnel", "Funnel plot of DATA: estimates against standard errors with a pseudo 95% CI region."),
    ("pool", "Pool the studies of DATA: common and random effects, heterogeneity, study table."),
    ("prisma", "Draw the PRISMA 2020 flow diagram of COUNTS; boxes without counts are left out."),
    ("run", "Run every analysis of the plan and write report.html, results.json, figures and tables."),
    ("serve", "Serve the project to the review team in the browser (sign in with accounts from "
              "'review user add')."),
    ("convert", "Convert what a paper reports (CI, SE, t, p, median/IQR/range, subgroups) into means and SDs."),
    ("review", "The review project: import, de-duplicate, screen, extract, adjudicate, count."),
    ("rob", "Risk of bias: the assessment tools and robvis-style figures."),
)

#: The variables under which typer answers otherwise: shell completion, and typer's own switch that
#: turns the completion options into ones that name a shell.
_TYPER_VARIABLES = ("_METAREVIEW_COMPLETE", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION")


def answers(args: list[str]) -> bool:
    """Whether ``args`` ask for this page, in an environment where typer would print it."""
    return args in ([], ["--help"]) and not any(os.environ.get(name) for name in _TYPER_VARIABLES)


def page(about: str, version_help: str) -> str:
    """The help page (without its final newline), for the root's help text ``about`` and the help of
    its ``--version``."""
    import shutil
    from gettext import gettext  # the headings are the ones click translates

    width = max(min(shutil.get_terminal_size().columns, 80) - 2, 50)  # click's HelpFormatter
    prefix = "Usage: metareview "  # the arguments always fit beside it: the width is 50 or more
    parts = [wrap(USAGE, width, prefix, " " * len(prefix)), "\n",
             "\n", wrap(about, width, "  ", "  ", paragraphs=True), "\n",
             "\n", f"{gettext('Options')}:\n", definitions([("--version", version_help), *OPTIONS], width),
             "\n", f"{gettext('Commands')}:\n", definitions(COMMANDS, width)]
    return "".join(parts).rstrip("\n")


class _Wrapper(textwrap.TextWrapper):
    """click's wrapper: a word longer than a line is cut where the line ends."""

    def _handle_long_word(self, reversed_chunks, cur_line, cur_len, width):
        space_left = max(width - cur_len, 1)
        cur_line.append(reversed_chunks[-1][:space_left])
        reversed_chunks[-1] = reversed_chunks[-1][space_left:]


def wrap(text: str, width: int, initial: str = "", subsequent: str = "", *, paragraphs: bool = False) -> str:
    """``text`` wrapped as click wraps it: with ``paragraphs``, each paragraph (lines up to an empty one)
    joined and filled at its first line's indentation, a paragraph opened by a line ``\\b`` kept as
    written."""
    wrapper = _Wrapper(width, initial_indent=initial, subsequent_indent=subsequent, replace_whitespace=False)
    text = text.expandtabs()
    if not paragraphs:
        return wrapper.fill(text)
    blocks: list[tuple[int, bool, str]] = []
    lines: list[str] = []
    indent = None
    for line in [*text.splitlines(), ""]:
        if line:
            if indent is None:
                indent = len(line) - len(line.lstrip())
                line = line.lstrip()
            lines.append(line)
        elif lines:
            raw = lines[0].strip() == "\b"
            blocks.append((indent or 0, raw, "\n".join(lines[1:]) if raw else " ".join(lines)))
            lines, indent = [], None
    out = []
    for extra, raw, block in blocks:
        wrapper.initial_indent, wrapper.subsequent_indent = initial + " " * extra, subsequent + " " * extra
        if raw:
            out.append("\n".join((wrapper.subsequent_indent if i else wrapper.initial_indent) + line
                                 for i, line in enumerate(block.splitlines())))
        else:
            out.append(wrapper.fill(block))
    return "\n\n".join(out)


def definitions(rows, width: int, indent: int = 2, col_max: int = 30, col_spacing: int = 2) -> str:
    """Rows of (term, description) as click's definition list: the terms in a column up to ``col_max``
    wide (a longer term puts its description on the next line), the descriptions wrapped beside them."""
    first_col = min(max(len(term) for term, _ in rows), col_max) + col_spacing
    out = []
    for term, description in rows:
        out.append(" " * indent + term)
        if not description:
            out.append("\n")
            continue
        if len(term) <= first_col - col_spacing:
            out.append(" " * (first_col - len(term)))
        else:
            out.append("\n" + " " * (first_col + indent))
        lines = wrap(description, max(width - first_col - 2, 10), paragraphs=True).splitlines() or [""]
        out.append(lines[0] + "\n")
        out.extend(" " * (first_col + indent) + line + "\n" for line in lines[1:])
    return "".join(out)
