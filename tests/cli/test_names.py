"""The same name for the same idea in every command: -o/--output, --quiet, ``wrote FILE``."""

from __future__ import annotations

from metareview.cli import command, main
from metareview.cli._help import walk


def _options():
    for path, cmd in walk(command()):
        ctx = cmd.context_class(cmd, info_name=path[-1])
        yield path, [p for p in cmd.get_params(ctx) if getattr(p, "param_type_name", "") == "option"]


def test_every_output_is_dash_o_or_double_dash_output():
    seen = 0
    for path, options in _options():
        for p in options:
            if p.name in ("output", "out") and not p.hidden:
                assert {"-o", "--output"} <= set(p.opts), (path, p.opts)
                seen += 1
    assert seen >= 15


def test_progress_is_quiet_everywhere():
    commands = 0
    for path, options in _options():
        names = {p.name: p for p in options}
        if "progress" in names:
            assert names["progress"].hidden, path
            assert "quiet" in names and {"-q", "--quiet"} <= set(names["quiet"].opts), path
            commands += 1
    assert commands >= 2


def test_run_out_is_a_hidden_alias_of_output(tmp_path, capsys):
    run = dict(walk(command()).__iter__().__next__()[1].commands)["run"]
    out = {p.name: p for p in run.params}
    assert out["out_alias"].hidden and out["out_alias"].opts == ["--out"]
    # both spellings are read: two different folders are refused before any work
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "a"), "--output", str(tmp_path / "b")]) == 2
    assert "name two output folders" in capsys.readouterr().err
    # --out alone still names the output (the error is about the missing plan, not the option)
    assert main(["run", str(tmp_path / "none"), "--out", str(tmp_path / "a")]) == 2
    assert "No such option" not in capsys.readouterr().err
