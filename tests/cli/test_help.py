"""The command line's habits: --version, python -m, conventional help, choices in help and completion."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from metareview import __version__
from metareview.cli import _help, command, main
from metareview.cli._help import choices_of, walk


def _params():
    for path, cmd in walk(command()):
        ctx = cmd.context_class(cmd, info_name=path[-1])
        for param in cmd.get_params(ctx):
            yield path, cmd, ctx, param


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"metareview {__version__}\n"


def test_python_m_metareview_without_heavy_imports():
    code = ("import sys, runpy; sys.argv = ['metareview', '--version']\n"
            "try:\n    runpy.run_module('metareview', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "heavy = [m for m in ('numpy', 'scipy', 'pandas', 'matplotlib') if m in sys.modules]\n"
            "print('heavy:', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == f"metareview {__version__}\nheavy: []\n"


def test_every_option_has_help_and_a_conventional_metavar():
    bad = []
    for path, cmd, ctx, param in _params():
        where = " ".join([*path, *param.opts])
        if not (param.help or "").strip():
            bad.append(f"{where}: no help")
        metavar = param.metavar
        if metavar is None or metavar.startswith(("<", "{")) or "list[" in metavar:
            bad.append(f"{where}: metavar {metavar!r}")
        shown = param.display_type_rich(ctx) if hasattr(param, "display_type_rich") else None
        if shown and shown.startswith(("<", "{")):
            bad.append(f"{where}: shows {shown!r}")
    assert not bad, "\n".join(bad)


def test_usage_lines_name_arguments_in_capitals():
    for path, cmd, ctx, _param in _params():
        usage = " ".join(cmd.collect_usage_pieces(ctx))
        assert "{" not in usage and "<" not in usage, (path, usage)


def test_help_lists_the_choices(capsys):
    assert main(["pool", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for code in ("REML", "HSk", "GENQ", "wald|hk", "SMCRH", "ZPCOR", "revman5", "--model-glmm MODEL"):
        assert code in out
    glmm = out[out.index("--model-glmm"):out.index("--model-glmm") + 700]
    assert all(code in glmm for code in ("UM.FS", "UM.RS", "CM.AL", "CM.EL"))
    assert "<str>" not in out and "<bool>" not in out and "{data}" not in out.lower()


def test_choices_are_the_registries():
    from metareview.base.presets import PRESETS
    from metareview.effectsizes.measures import MEASURES
    from metareview.pooling.glmm import GLMM_OR_MODELS
    from metareview.pooling.inverse_variance import ADHOC_HAKN, PREDICTION, RANDOM_CI
    from metareview.pooling.settings import METHODS
    from metareview.pooling.tau2 import TAU2_METHODS
    from metareview.review.project import SOURCE_KINDS, STAGES

    assert _help.TAU2 == TAU2_METHODS
    assert _help.MEASURES == tuple(MEASURES)  # the same codes in the table's order
    assert _help.METHODS == METHODS and _help.MODELS_GLMM == GLMM_OR_MODELS
    assert _help.RANDOM_CI == RANDOM_CI and _help.PREDICTION == PREDICTION and _help.ADHOC_HAKN == ADHOC_HAKN
    assert set(_help.PRESETS) == set(PRESETS)
    assert _help.STAGES == STAGES and set(_help.SOURCE_KINDS) == set(SOURCE_KINDS)


def test_every_fixed_choice_option_is_dressed():
    named = {"--method-tau2", "--method", "--model-glmm", "--random-ci", "--prediction", "--layout", "--measure",
             "--stage", "--role", "--type", "--format", "--preset"}
    seen = set()
    for path, _cmd, _ctx, param in _params():
        for flag in set(param.opts) & named:
            if path[1:] == ["serve"] or (flag == "--type" and path[-1] != "plot"):
                continue
            assert choices_of(path, param), (path, flag)
            seen.add(flag)
    assert seen == named


@pytest.mark.parametrize("words, cword, expected", [
    ("metareview pool d.csv --method-tau2 RE", 4, ["REML"]),
    ("metareview pool d.csv --method-tau2 hs", 4, ["HS", "HSk"]),
    ("metareview review decide 1 --stage ", 5, ["title_abstract", "full_text"]),
    ("metareview forest d.csv --layout ", 4, ["meta", "revman5", "jama"]),
])
def test_shell_completion_lists_the_choices(words, cword, expected):
    env = {**os.environ, "_METAREVIEW_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    script = os.path.join(os.path.dirname(sys.executable), "metareview")
    out = subprocess.run([script], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == expected


def test_completion_script_as_documented():
    env = {**os.environ, "_METAREVIEW_COMPLETE": "source_bash"}
    script = os.path.join(os.path.dirname(sys.executable), "metareview")
    out = subprocess.run([script], env=env, capture_output=True, text=True, check=True).stdout
    assert "_metareview_completion" in out and "complete_bash" in out


def test_commands_that_pool_share_one_options_table():
    """pool, forest, funnel, grade and batch declare the pooling options once (cli/cmd_pool.POOL_OPTIONS):
    the same flags, help and defaults everywhere; batch takes the ones it honours."""
    import typer.main

    from metareview.cli import app
    from metareview.cli.cmd_pool import BATCH_POOL_OPTIONS, POOL_OPTIONS

    group = typer.main.get_command(app)
    declared = {name: info for name, (_, info) in POOL_OPTIONS.items()}
    for cmd, names in (("pool", POOL_OPTIONS), ("forest", POOL_OPTIONS), ("funnel", POOL_OPTIONS),
                       ("batch", BATCH_POOL_OPTIONS)):
        params = {p.name: p for p in group.commands[cmd].params}
        for name in names:
            assert name in params, (cmd, name)
            assert params[name].default == declared[name].default, (cmd, name)
            assert params[name].help == declared[name].help, (cmd, name)
    batch_params = {p.name for p in group.commands["batch"].params}
    assert not ({"study_ci", "exclude", "method", "rob"} & batch_params)


def test_batch_takes_the_pool_defaults(tmp_path):
    import pandas as pd

    from metareview.cli import main

    table = tmp_path / "t.csv"
    pd.DataFrame({"analysis": ["a"] * 3, "study": ["A", "B", "C"], "events_e": [0, 3, 5], "n_e": [10, 12, 15],
                  "events_c": [0, 6, 8], "n_c": [10, 12, 14]}).to_csv(table, index=False)
    for extra, k in (([], 2), (["--allstudies"], 3)):
        out = tmp_path / f"o{len(extra)}.csv"
        assert main(["batch", str(table), "-o", str(out), "--quiet", *extra]) == 0
        row = pd.read_csv(out).iloc[0]
        assert row["k"] == k and row["method_tau2"] == "DL" and row["measure"] == "OR"


def _listing(args: list[str], capsys) -> dict[str, str]:
    """The commands listed by ``metareview ARGS --help``: name -> description, its wrapped lines joined."""
    assert main([*args, "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed: dict[str, str] = {}
    name = None
    for line in lines[lines.index("Commands:") + 1:]:
        if not line.strip():
            break
        first, _, rest = line.strip().partition(" ")
        if line.startswith("  ") and not line.startswith("   "):  # a new entry: two spaces, the name
            name, listed[first] = first, rest.strip()
        else:  # a wrapped line (click's wrapper may break after a hyphen: "robvis-" / "style")
            listed[name] += ("" if listed[name].endswith("-") else " ") + line.strip()
    return listed


def _first_sentence(text: str) -> str:
    """Up to the first full stop followed by a capital, in the first paragraph (written here apart from
    ``_help.first_sentence``, so that the two must agree)."""
    words = " ".join(text.split("\n\n")[0].split()).split(" ")
    for i, word in enumerate(words[:-1]):
        if word.endswith((".", "!", "?")) and words[i + 1][:1].isupper():
            return " ".join(words[:i + 1])
    return " ".join(words)


def test_every_listing_shows_each_command_s_whole_first_sentence(capsys, monkeypatch):
    """click's plain formatter cuts a description to the width left beside the names ("Pool every analysis
    of DATA and write one row of pooled..."): every command's short help is its whole first sentence."""
    monkeypatch.setenv("COLUMNS", "80")
    tree = command()
    groups = [path for path, cmd in walk(tree) if hasattr(cmd, "list_commands")]
    assert ["metareview"] in groups and ["metareview", "review", "rob"] in groups and len(groups) >= 7
    for path in groups:
        listed = _listing(path[1:], capsys)
        own = {p[-1]: cmd for p, cmd in walk(tree) if p[:-1] == path}
        assert list(listed) == list(own), path
        for name, cmd in own.items():
            expected = _first_sentence(cmd.help)
            assert listed[name] == expected, (path, name)
            assert expected.endswith(".") and not listed[name].endswith("..."), (path, name)


def test_help_is_plain_text():
    """No rich panels (typer's rich formatter takes longer to import than the rest of --help): every
    command of the tree is printed by click's formatter."""
    import importlib

    import typer

    from metareview.cli._tree import PACKAGE, cmd_modules

    for path, cmd in walk(command()):
        assert cmd.rich_markup_mode is None, path
    for name in cmd_modules():  # the groups' own applications too, as typer would build them alone
        module = importlib.import_module(f"{PACKAGE}.{name}")
        for app in (v for v in vars(module).values() if isinstance(v, typer.Typer)):
            assert app.rich_markup_mode is None, name
    for args in (["--help"], ["pool", "--help"], ["review", "--help"]):
        out = subprocess.run([sys.executable, "-m", "metareview", *args], capture_output=True, text=True,
                             check=True).stdout
        assert out.startswith(" ".join(["Usage: metareview", *args[:-1], "[OPTIONS]"]))
        assert not set(out) & set("╭╰│─"), args


@pytest.mark.parametrize("args, message", [
    (["pool", "data.csv", "--no-such-option"], "Error: No such option: --no-such-option"),
    (["pool"], "Error: Missing argument 'DATA'."),
    (["review", "scren"], "Error: No such command 'scren'. Did you mean 'screen'?"),
])
def test_usage_errors_are_one_error_line_and_exit_2(args, message, capsys):
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert err[0].startswith(f"Usage: metareview {' '.join(args[:1])}") and err[-1] == message
    assert sum(line.startswith("Error:") for line in err) == 1 and "Traceback" not in captured.err


def test_a_group_without_a_command_prints_its_help_on_standard_output(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith("Usage: metareview [OPTIONS] COMMAND") and "pool " in captured.out
    assert captured.err == ""
