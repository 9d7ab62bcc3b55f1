"""The options' plain values are read as typer reads them (cli/_values.py): the same value of the same type, or
typer's own conversion and message; a declaration with more than a type is left to typer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import pytest
import typer
import typer.main

from metareview.cli import _values
from metareview.cli._values import PlainValues, plain_values

pytestmark = pytest.mark.skipif(not _values._typer_reads_through_adapters(),
                                reason="a typer that reads values through click's types needs no pydantic")

click = pytest.importorskip("typer._click")

INTS = ["7", "-3", "+4", "007", "0", "1_000", " 7", "7 ", "7.0", "1e3", "0x10", "", "٣",
        "9" * 18, "9" * 19, "99999999999999999999999", "9" * 5000, 7, 0, -2, True, 7.0, 7.5, None]
FLOATS = ["0.95", "1e-3", ".5", "5.", "1E400", "1e-400", "-0", "+1.5", "1_0.5", "nan", "inf", " 1", "1.5 ", "0x1p3",
          "١.٥", "1." + "9" * 30, "1." + "9" * 60, "e5", ".", "-", "", 7, 0.95, True, None]
TEXTS = ["", "PLO", "a b", "-", "éü", "--x", 5, 0.5, None]


def _app(seen: dict) -> typer.Typer:
    """A command with one option of each kind metareview declares, and three declarations beyond a type;
    the values it receives go into ``seen``."""
    app = typer.Typer()

    @app.command()
    def cmd(
        data: Path = typer.Argument(..., help="a path"),
        ids: Optional[List[int]] = typer.Argument(None, help="whole numbers"),
        text: Optional[str] = typer.Option(None, "--text"),
        whole: Optional[int] = typer.Option(None, "--whole"),
        number: float = typer.Option(0.95, "--number"),
        flag: bool = typer.Option(False, "--flag"),
        maybe: Optional[bool] = typer.Option(None, "--maybe/--no-maybe"),
        out: Optional[Path] = typer.Option(None, "--out"),
        texts: Optional[List[str]] = typer.Option(None, "--texts"),
        wholes: List[int] = typer.Option([], "--wholes"),
        numbers: Optional[List[float]] = typer.Option(None, "--numbers"),
        bounded: float = typer.Option(0.5, "--bounded", min=0, max=1),
        parsed: str = typer.Option("x", "--parsed", parser=str.upper),
        existing: Optional[Path] = typer.Option(None, "--existing", exists=True),
    ) -> None:
        seen.update({k: v for k, v in locals().items() if k != "seen"})

    return app


def _command():
    command = typer.main.get_command(_app({}))
    ctx = command.context_class(command, info_name="cmd")
    return command, ctx, {p.name: p for p in command.get_params(ctx)}


def _read(conversion, value, param, ctx):
    try:
        out = conversion.coerce(value, param=param, ctx=ctx)
    except click.exceptions.BadParameter as exc:
        return ("error", exc.format_message())
    return (type(out), [(type(x), x) for x in out] if isinstance(out, (list, tuple)) else out)


def _same(a, b) -> bool:
    # nan read from "nan" is nan on both sides
    return a == b or repr(a) == repr(b)


def _compare(name, values):
    from typer._coercion import build_runtime_param

    _, ctx, params = _command()
    param = params[name]
    ours = _values._reader(param)
    assert isinstance(ours, PlainValues), name
    theirs = build_runtime_param(param.type_descriptor)
    for value in values:
        assert _same(_read(ours, value, param, ctx), _read(theirs, value, param, ctx)), (name, value)


@pytest.mark.parametrize("name, values", [("whole", INTS), ("number", FLOATS), ("text", TEXTS)])
def test_one_value_reads_as_typer_reads_it(name, values):
    _compare(name, values)


@pytest.mark.parametrize("name, values", [
    ("texts", [(), ("A",), ("A", "B"), ["A", "b c"], ("A", 5), "A", None]),
    ("wholes", [(), ("1", "2"), ("1", "x"), ("1", " 2"), (1, 2), None]),
    ("numbers", [("0.5",), ("0.5", "1e-3"), ("0.5", "x"), ("1_0",), None]),
    ("ids", [(), ("1", "2"), ("1", "x"), ("1", "2.0"), None]),
])
def test_repeated_values_read_as_typer_reads_them(name, values):
    _compare(name, values)


def test_paths_read_as_typer_reads_them(tmp_path, monkeypatch):
    readable = tmp_path / "table.csv"
    readable.write_text("a\n1\n")
    values = [str(readable), str(readable) + "/", str(tmp_path), str(tmp_path / "missing.csv"), "rel/x.csv", "",
              "-", "~/x", readable, None]
    _compare("data", values)
    _compare("out", values)
    # a file that exists and cannot be read: typer's refusal, in typer's words
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    _compare("data", [str(readable), str(tmp_path / "missing.csv")])
    _, ctx, params = _command()
    with pytest.raises(click.exceptions.BadParameter, match="is not readable"):
        _values._reader(params["data"]).coerce(str(readable), param=params["data"], ctx=ctx)


def test_plain_values_do_not_build_typer_s_conversion(tmp_path):
    """The point of the reader: a default, a number in decimals, text and a readable path are read without
    typer's pydantic adapter; the first value that is not plain builds it."""
    _, ctx, params = _command()
    readers = {name: _values._reader(params[name]) for name in ("data", "text", "whole", "number", "texts")}
    for name, value in [("data", str(tmp_path)), ("text", "PLO"), ("text", None), ("whole", "7"),
                        ("number", 0.95), ("number", "0.9"), ("texts", ("A", "B"))]:
        readers[name].coerce(value, param=params[name], ctx=ctx)
    assert all(reader._typer is None for reader in readers.values())
    assert readers["whole"].coerce("7.0", param=params["whole"], ctx=ctx) == 7
    assert readers["whole"]._typer is not None and readers["number"]._typer is None


def test_declarations_beyond_a_type_are_left_to_typer():
    command, ctx, params = _command()
    for name in ("bounded", "parsed", "existing"):
        assert _values._reader(params[name]) is None, name
    plain_values(command, ctx)
    assert params["bounded"]._runtime_param is None and params["existing"]._runtime_param is None
    assert isinstance(params["number"]._runtime_param, PlainValues)
    # typer's checks still apply where typer reads
    with pytest.raises(click.exceptions.BadParameter):
        params["bounded"].process_value(ctx, "2")
    assert params["parsed"].process_value(ctx, "abc") == "ABC"


@pytest.mark.parametrize("given", [
    ["--text", "PLO", "--whole", "3", "--number", "0.9", "--flag", "--no-maybe", "--texts", "A", "--texts", "B",
     "--wholes", "1", "--numbers", "2.5", "--bounded", "0.25", "--parsed", "q", "--out", "o.csv", "4", "5"],
    [],  # every default
])
def test_a_command_line_reads_the_same_values(given, tmp_path):
    """Through click's parsing and typer's callback: the command receives what typer alone gives it."""
    table = tmp_path / "t.csv"
    table.write_text("a\n")
    args = [str(table), *given]

    def received(plain: bool):
        seen: dict = {}
        command = typer.main.get_command(_app(seen))
        if plain:
            plain_values(command)
        command.main(args=args, standalone_mode=False)
        return {k: (type(v), v) for k, v in seen.items()}

    assert received(True) == received(False)


def test_the_pool_command_reads_its_options_without_typer_s_adapters():
    from metareview.cli._tree import Commands

    pool = Commands()["pool"]
    ctx = pool.context_class(pool, info_name="pool")
    kinds = {p.name: type(p._runtime_param).__name__ for p in pool.get_params(ctx) if hasattr(p, "_runtime_param")}
    assert set(kinds.values()) == {"PlainValues"}, kinds
