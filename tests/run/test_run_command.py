"""``metareview run`` and ``metareview init``: determinism, --force, bundled example, plan errors."""

from __future__ import annotations

import filecmp
import json
import re
from pathlib import Path

import pytest

from metareview.cli import main
from metareview.run.plan import PlanError, load_plan

from .conftest import EXAMPLE


def test_same_bytes_twice(example_run, tmp_path):
    out, _ = example_run
    again = tmp_path / "again"
    assert main(["run", str(EXAMPLE), "-o", str(again), "-q"]) == 0
    assert (again / "results.json").read_bytes() == (out / "results.json").read_bytes()
    assert (again / "report.html").read_bytes() == (out / "report.html").read_bytes()
    assert b"CreationDate" not in (again / "figures" / "prisma.pdf").read_bytes()


def test_bundled_example_is_the_repository_example():
    from metareview.run import example_path

    bundled = example_path("mrgfus")
    names = ["review.toml", "table2.csv", "table2.columns.toml", "prisma.toml", "README.md"]
    match, mismatch, errors = filecmp.cmpfiles(EXAMPLE, bundled, names, shallow=False)
    assert (mismatch, errors) == ([], []), "copy examples/mrgfus-bone-metastases to src/metareview/data/examples"


def test_existing_output_needs_force(tmp_path, capsys):
    review = tmp_path / "review"
    assert main(["init", str(review)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(review), "-o", str(out), "-q"]) == 0
    first = json.loads((out / "results.json").read_text())
    (out / "stale.txt").write_text("from an earlier run")
    capsys.readouterr()
    assert main(["run", str(review), "-o", str(out), "-q"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "stale.txt").exists()                  # nothing touched
    assert main(["run", str(review), "-o", str(out), "-q", "--force"]) == 0
    assert not (out / "stale.txt").exists()              # replaced as a whole
    assert json.loads((out / "results.json").read_text()) == first
    assert first["response"]["k"] == 8 and first["response_without_largest"]["k"] == 7


def test_force_never_deletes_a_folder_that_is_not_an_output(tmp_path, capsys):
    review = tmp_path / "review"
    main(["init", str(review)])
    keep = tmp_path / "papers"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    assert main(["run", str(review), "-o", str(keep), "-q", "--force"]) == 2
    assert "refusing" in capsys.readouterr().err
    assert (keep / "notes.txt").read_text() == "mine"


def test_init_refuses_to_overwrite(tmp_path, capsys):
    assert main(["init", str(tmp_path)]) == 0
    assert main(["init", str(tmp_path)]) == 2
    assert "review.toml already exists" in capsys.readouterr().err
    assert load_plan(tmp_path).analyses[0].name == "response"


def test_run_needs_a_folder_or_an_example(capsys):
    assert main(["run", "-q"]) == 2
    assert "--example" in capsys.readouterr().err
    assert main(["run", "--example", "nope", "-q"]) == 2
    assert "bundled examples: mrgfus" in capsys.readouterr().err


# ----------------------------------------------------------------------------- plan errors

def _plan(tmp_path: Path, text: str) -> Path:
    main(["init", str(tmp_path)])
    (tmp_path / "review.toml").write_text(text, encoding="utf-8")
    return tmp_path / "review.toml"


def _template(tmp_path: Path) -> str:
    from importlib import resources
    return (resources.files("metareview") / "data" / "templates" / "review.toml").read_text(encoding="utf-8")


def test_syntax_error_names_file_and_line(tmp_path, capsys):
    text = _template(tmp_path).replace('measure = "MD"', 'measure = "MD', 1)
    path = _plan(tmp_path, text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith('measure = "MD'))
    assert main(["run", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"review.toml:{line}" in err and "TOML syntax error" in err
    assert not (tmp_path / "output").exists()
    assert path.exists()


def test_unknown_measure_names_table_key_and_line(tmp_path):
    text = _template(tmp_path).replace('measure = "MD"', 'measure = "XYZ"')
    _plan(tmp_path, text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith('measure = "XYZ"'))
    with pytest.raises(PlanError) as exc:
        load_plan(tmp_path)
    msg = str(exc.value)
    assert f"review.toml:{line}: [analysis.pain] measure" in msg and "XYZ" in msg


def test_unknown_key_and_unknown_reference(tmp_path):
    text = _template(tmp_path).replace('title = "Pain at follow-up"',
                                       'title = "Pain at follow-up"\nmethd_tau2 = "REML"')
    _plan(tmp_path, text)
    with pytest.raises(PlanError, match=r"\[analysis.pain\] methd_tau2: unknown key 'methd_tau2'"):
        load_plan(tmp_path)
    text = _template(tmp_path).replace('sensitivity = ["without_largest"]', 'sensitivity = ["without_smallest"]')
    _plan(tmp_path, text)
    with pytest.raises(PlanError, match=r"\[analysis.response\] sensitivity: unknown sensitivity analysis "
                                        r"'without_smallest'"):
        load_plan(tmp_path)


def test_unknown_study_and_column_are_named(tmp_path, capsys):
    text = _template(tmp_path).replace('exclude = ["Hurwitz, 2014"]', 'exclude = ["Hurwits, 2014"]')
    _plan(tmp_path, text)
    assert main(["run", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "[sensitivity.without_largest] exclude" in err and "'Hurwits, 2014'" in err
    text = _template(tmp_path).replace('events = "responders_events"', 'events = "responders"')
    _plan(tmp_path, text)
    assert main(["run", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "[analysis.response] columns" in err and "responders_events" in err


def test_data_error_names_the_study(tmp_path, capsys):
    _plan(tmp_path, _template(tmp_path))
    csv = tmp_path / "studies.csv"
    csv.write_text(csv.read_text().replace("Giles,2019,9,6 (67)", "Giles,2019,9,12 (67)"))
    assert main(["run", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "studies.csv" in err and "Giles, 2019" in err


def test_example_plan_reads():
    plan = load_plan(EXAMPLE)
    assert [a.name for a in plan.analyses] == ["treatment_response", "pain_3mo", "pain_1mo", "ae_high_grade",
                                               "ae_low_grade"]
    assert plan.analysis("pain_1mo").impute[0].source == "baseline_sd"
    assert plan.sensitivity["without_paediatric"].exclude == ("Wang B., 2019",)


def test_bad_setting_in_defaults_names_its_key(tmp_path):
    text = _template(tmp_path).replace('method_tau2 = "DL"', 'method_tau2 = "XYZ"')
    _plan(tmp_path, text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith('method_tau2 = "XYZ"'))
    with pytest.raises(PlanError, match=rf"review.toml:{line}: \[defaults\] method_tau2: .*'XYZ'"):
        load_plan(tmp_path)


def test_png_resolution_from_the_plan_and_folder_permissions(tmp_path):
    import os
    import re
    import struct

    review = tmp_path / "review"
    assert main(["init", str(review)]) == 0
    plan = review / "review.toml"
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        assert main(["run", str(review), "-o", str(out), "-q"]) == 0
    finally:
        os.umask(old)
    # the folder as the user's umask makes folders, not owner-only (mkdtemp's 0o700)
    assert out.stat().st_mode & 0o777 == 0o755

    def ppm(png: Path) -> int:
        data = png.read_bytes()
        i = data.index(b"pHYs")
        return struct.unpack(">I", data[i + 4:i + 8])[0]

    pngs = sorted((out / "figures").glob("*.png"))
    assert pngs and all(round(ppm(p) * 0.0254) == 300 for p in pngs)  # the default
    text = plan.read_text()
    plan.write_text(re.sub(r"^\[review\]\n", "[review]\ndpi = 150\n", text, count=1, flags=re.M))
    assert main(["run", str(review), "-o", str(out), "-q", "--force"]) == 0
    assert all(round(ppm(p) * 0.0254) == 150 for p in sorted((out / "figures").glob("*.png")))
    plan.write_text(re.sub(r"^\[review\]\n", "[review]\ndpi = 10\n", text, count=1, flags=re.M))
    with pytest.raises(PlanError, match="dpi is the resolution of the PNG figures"):
        load_plan(review)


def test_full_precision_has_four_to_six_significant_digits():
    from metareview.run.compare import _full, verdict

    assert _full(0.786342519, 2) == "0.786343"
    assert _full(78.634251, 1) == "78.6343"
    assert _full(60.0000001, 1) == "60.00"      # one decimal more than printed, no more zeros
    assert _full(1234567.891, 0) == "1234567.9"  # never an exponent
    v = verdict("x", "-3.8 (-4.3; -3.3)", (-3.840431, -4.299462, -3.381401))
    assert v.ours_full == "-3.84043 (-4.29946; -3.3814)"      # results.json: as the paper writes it
    assert v.ours_printed == "-3.8 (-4.3; -3.4)"
    for text in (v.ours_full, v.ours_printed):
        digits = [len(re.sub(r"\D", "", t).lstrip("0")) for t in re.findall(r"[\d.]+", text)]
        assert all(d <= 6 for d in digits)


def test_report_uses_one_notation_and_true_minus_signs(example_run):
    import html
    import re

    out, _ = example_run
    page = (out / "report.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>|<style.*?</style>", "", page, flags=re.S)))
    assert "tau^2" not in text and "I^2" not in text and "tau²" not in text
    assert "τ²" in text and "I²" in text
    # every hyphen-minus before a number is inside the paper's own text, quoted verbatim
    ours = text.split("Not reproducible from the published data")[0]
    rows = [line for line in ours.splitlines() if re.search(r"(?<![\w.\-])-\d", line)]
    assert all("paper" in r.lower() or "Abstract" in r or "Results" in r for r in rows), rows[:3]
    assert "\u22123.84043 (\u22124.29946" in text              # the report typesets the minus
