"""``metareview --help`` (and ``metareview`` alone) is printed without typer (cli/_root_help.py): the page must
be, byte for byte, the one typer prints, at every width, so that the copied listing cannot drift from the
commands' declarations."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

from metareview import cli
from metareview.cli import _root_help, _tree, main

SCRIPT = os.path.join(os.path.dirname(sys.executable), "metareview")
#: runs the command line with the page left to typer, as before it was printed without it
BY_TYPER = ("import sys\nfrom metareview.cli import _root_help, main\n_root_help.answers = lambda args: False\n"
            "sys.exit(main(sys.argv[1:]))")
ARGS = [["--help"], []]


def printed(args, capsys, *, by_typer=False):
    """What ``main(args)`` returns and prints on standard output and error; ``by_typer``: with the page
    left to typer, as before it was printed without it."""
    with pytest.MonkeyPatch.context() as patch:
        if by_typer:
            patch.setattr(_root_help, "answers", lambda args: False)
        code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def typer_rows():
    """The options and the commands the root's help lists, as typer builds them."""
    root = cli.command()
    ctx = root.context_class(root, info_name="metareview")
    options = [param.get_help_record(ctx) for param in root.get_params(ctx)]
    commands = [(name, cmd.get_short_help_str()) for name, cmd in root.commands.listing().items() if not cmd.hidden]
    return [row for row in options if row is not None], commands


def test_the_listing_is_the_one_typer_builds():
    options, commands = typer_rows()
    assert options == [("--version", cli.VERSION_HELP), *_root_help.OPTIONS]
    assert list(_root_help.COMMANDS) == commands, (
        "the commands of `metareview --help` changed: copy these rows into cli/_root_help.COMMANDS:\n"
        + "\n".join(f"    {row!r}," for row in commands))


@pytest.mark.parametrize("args", ARGS)
def test_the_page_is_typer_s_at_every_width(args, capsys, monkeypatch):
    for columns in [*map(str, range(20, 251)), "", "0", "-3", "wide"]:
        monkeypatch.setenv("COLUMNS", columns)
        ours = printed(args, capsys)
        assert ours == printed(args, capsys, by_typer=True), columns
        assert ours[0] == (0 if args else 2) and ours[1].startswith("Usage: metareview [OPTIONS] COMMAND")
    monkeypatch.delenv("COLUMNS")  # not a terminal (pytest's capture): click's 80 columns
    assert printed(args, capsys) == printed(args, capsys, by_typer=True)


def test_the_page_is_plain_ascii():
    """Written as it is: click's echo would re-encode other characters for an ASCII terminal and strip
    colour codes when the output is not a terminal."""
    text = _root_help.page(cli.ROOT_HELP, cli.VERSION_HELP)
    assert text.isascii() and all(line.isprintable() for line in text.splitlines())


def _run(command, env, *, columns=None):
    """Exit code, standard output and standard error of ``command``; with ``columns``, at a terminal that
    wide."""
    if columns is None:
        done = subprocess.run(command, env=env, capture_output=True, timeout=120)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    done = subprocess.run(command, env=env, stdout=follower, stderr=subprocess.PIPE, timeout=120)
    os.close(follower)
    out = b""
    try:
        while chunk := os.read(leader, 65536):
            out += chunk
    except OSError:  # the terminal is closed once everything is read
        pass
    os.close(leader)
    return done.returncode, out, done.stderr


@pytest.mark.parametrize("extra", [{}, {"TERM": "dumb"}, {"NO_COLOR": "1"}, {"TYPER_USE_RICH": "1"},
                                   {"LANG": "de_DE.UTF-8", "LANGUAGE": "de"}, {"LINES": "5"}])
@pytest.mark.parametrize("args", ARGS)
def test_the_script_prints_typer_s_page_piped(args, extra):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | extra
    ours = _run([SCRIPT, *args], env)
    assert ours == _run([sys.executable, "-c", BY_TYPER, *args], env)
    assert ours[0] == (0 if args else 2) and ours[1].startswith(b"Usage: metareview")


@pytest.mark.parametrize("columns", [30, 52, 79, 80, 81, 200])
@pytest.mark.parametrize("args", ARGS)
def test_the_script_prints_typer_s_page_at_a_terminal(args, columns):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    ours = _run([SCRIPT, *args], env, columns=columns)
    assert ours == _run([sys.executable, "-c", BY_TYPER, *args], env, columns=columns)
    assert b"Usage: metareview" in ours[1]


@pytest.mark.parametrize("args", ARGS)
def test_typer_answers_when_completion_is_asked_for(args, capsys, monkeypatch):
    # typer's switch for naming the shell changes the completion options the page lists
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    assert not _root_help.answers(args)
    code, out, _ = printed(args, capsys)
    assert "--install-completion TEXT  Install completion for the specified shell." in out
    monkeypatch.delenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION")
    env = {**os.environ, "_METAREVIEW_COMPLETE": "complete_bash", "COMP_WORDS": "metareview po", "COMP_CWORD": "1"}
    assert _run([SCRIPT, *args], env)[1].split() == [b"pool"]


def test_only_the_root_s_help_is_answered_here():
    for args in (["-h"], ["--help", "--version"], ["pool", "--help"], ["--version"], ["--hel"], ["help"]):
        assert not _root_help.answers(args), args


def test_a_closed_pipe_ends_the_page_as_typer_does():
    """typer ends with 1 and nothing on standard error (before, ``metareview`` alone printed a traceback)."""
    for command in ([SCRIPT, "--help"], [SCRIPT], [sys.executable, "-c", BY_TYPER, "--help"]):
        read, write = os.pipe()
        os.close(read)
        done = subprocess.run(command, stdout=write, stderr=subprocess.PIPE, timeout=120)
        os.close(write)
        assert (done.returncode, done.stderr) == (1, b""), command


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs a full device")
def test_a_full_disk_is_one_line_as_typer_says_it():
    outputs = []
    for command in ([SCRIPT, "--help"], [SCRIPT], [sys.executable, "-c", BY_TYPER, "--help"]):
        with open("/dev/full", "w") as full:
            done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, timeout=120)
        outputs.append((done.returncode, done.stderr))
    assert outputs == [(2, b"error: the disk holding the output is full; free some space and try again\n")] * 3


def test_without_standard_output_the_page_goes_where_typer_sends_it():
    for args in ARGS:
        code = "import sys, os\nos.close(1)\nsys.stdout = None\n"
        ours = subprocess.run([sys.executable, "-c", code + "from metareview.cli import main\n"
                               "sys.exit(main(sys.argv[1:]))", *args], capture_output=True, timeout=120)
        theirs = subprocess.run([sys.executable, "-c", code + BY_TYPER, *args], capture_output=True, timeout=120)
        assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr), args
        assert (b"Usage: metareview" in ours.stderr) == (not args)


def test_a_command_added_or_renamed_makes_the_pages_differ(capsys, monkeypatch):
    """The comparison above sees a change of the tree: typer's page then differs from the copied one."""
    declared = _tree.declarations

    def added(app):
        @app.command(name="zzz")
        def zzz() -> None:
            """Do nothing."""
        return declared(app)

    def renamed(app):
        return {("pooled" if name == "pool" else name): info for name, info in declared(app).items()}

    for change in (added, renamed):
        monkeypatch.setattr(_tree, "declarations", change)
        assert printed(["--help"], capsys) != printed(["--help"], capsys, by_typer=True)
        with pytest.raises(AssertionError, match="copy these rows"):
            test_the_listing_is_the_one_typer_builds()
        monkeypatch.undo()


TEXTS = [
    "One paragraph that runs on for a while, long enough to be wrapped more than once at forty columns.",
    "First paragraph.\n\nSecond paragraph, with hyphenated-words and a verylongwordthatcannotfitonanylineatall.",
    "  Indented paragraph\n  continued.\n\n\b\nkept   as\n    written\n\nlast one",
    "tab\there and\ttrailing spaces   \n\n\n\nafter blank lines",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_wrapping_is_click_s(text):
    from typer._click.formatting import wrap_text

    for width in (10, 20, 37, 50, 78):
        for initial, subsequent in (("", ""), ("  ", "  "), ("Usage: metareview ", " " * 18)):
            if len(initial) >= width:  # click's wrapper never finishes an indentation wider than the line
                continue
            assert _root_help.wrap(text, width, initial, subsequent) == wrap_text(text, width, initial, subsequent)
            assert _root_help.wrap(text, width, initial, subsequent, paragraphs=True) == wrap_text(
                text, width, initial, subsequent, preserve_paragraphs=True), (width, initial)


def test_definition_lists_are_click_s():
    from typer._click.formatting import HelpFormatter

    rows = [("short", TEXTS[0]), ("a-term-longer-than-thirty-columns-wide", TEXTS[1]), ("bare", ""),
            ("x", TEXTS[2])]
    for width in (50, 60, 78):
        for some in (rows, rows[:1], rows[2:]):
            formatter = HelpFormatter(width=width)
            formatter.indent()
            formatter.write_dl(some)
            assert _root_help.definitions(some, width) == formatter.getvalue(), (width, some)
