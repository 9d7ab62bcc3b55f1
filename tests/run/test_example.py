"""``metareview example mrgfus DIR``: the example and the tutorial's files come from package data, and the
package's copies are the files of the repository the tests and the documentation use."""

from __future__ import annotations

from pathlib import Path

import pytest

from metareview.base.exceptions import SettingsError
from metareview.cli import main
from metareview.run.examples import EXAMPLE_FILES, copy_example

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "metareview" / "data"

# Where each packaged file comes from in the repository.
SOURCES = {
    "examples/mrgfus-bone-metastases/README.md": "examples/mrgfus-bone-metastases/README.md",
    "examples/mrgfus-bone-metastases/review.toml": "examples/mrgfus-bone-metastases/review.toml",
    "examples/mrgfus-bone-metastases/table2.csv": "examples/mrgfus-bone-metastases/table2.csv",
    "examples/mrgfus-bone-metastases/table2.columns.toml": "examples/mrgfus-bone-metastases/table2.columns.toml",
    "examples/mrgfus-bone-metastases/prisma.toml": "examples/mrgfus-bone-metastases/prisma.toml",
    "mrgfus_treatment_response.csv": "src/metareview/data/mrgfus_treatment_response.csv",
    "tutorial/pubmed.nbib": "tests/data/exports/pubmed.nbib",
    "tutorial/embase.ris": "tests/data/exports/embase.ris",
    "tutorial/zotero.bib": "tests/data/exports/zotero.bib",
    "tutorial/endnote.xml": "tests/data/exports/endnote.xml",
    "tutorial/zotero-csl.json": "tests/data/exports/zotero-csl.json",
    "tutorial/endnote-unicode.ris": "tests/data/exports/endnote-unicode.ris",
    "tutorial/rayyan.csv": "tests/data/exports/rayyan.csv",
    "tutorial/covidence.csv": "tests/data/exports/covidence.csv",
    "tutorial/screening-ann.csv": "docs/tutorial/screening-ann.csv",
    "tutorial/screening-bob.csv": "docs/tutorial/screening-bob.csv",
    "tutorial/extraction_form.toml": "docs/tutorial/extraction_form.toml",
    "tutorial/extraction-ann.csv": "docs/tutorial/extraction-ann.csv",
    "tutorial/extraction-bob.csv": "docs/tutorial/extraction-bob.csv",
}


def test_packaged_copies_match_their_sources():
    packaged = set(EXAMPLE_FILES["mrgfus"].values())
    assert packaged == set(SOURCES), "every packaged example file needs its source listed here"
    drifted = [rel for rel, source in SOURCES.items()
               if (DATA / rel).read_bytes() != (ROOT / source).read_bytes()]
    assert not drifted, f"copy the sources into src/metareview/data again: {drifted}"


def test_every_tutorial_file_is_packaged():
    """The files the tutorial's first half reads are all in the example."""
    for folder, target in (("docs/tutorial", "sheets"), ):
        for path in (ROOT / folder).iterdir():
            assert f"{target}/{path.name}" in EXAMPLE_FILES["mrgfus"], path


def test_example_command_copies_and_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "mrgfus"
    assert main(["example", "mrgfus", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"Wrote {len(EXAMPLE_FILES['mrgfus'])} files" in out and "exports/pubmed.nbib" in out
    for rel, source in EXAMPLE_FILES["mrgfus"].items():
        assert (target / rel).read_bytes() == (DATA / source).read_bytes(), rel
    (target / "table2.csv").write_text("edited by the user")
    assert main(["example", "mrgfus", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (target / "table2.csv").read_text() == "edited by the user"
    assert main(["example", "mrgfus", str(target), "--force"]) == 0
    assert (target / "table2.csv").read_bytes() == (DATA / "examples/mrgfus-bone-metastases/table2.csv").read_bytes()


def test_example_errors(tmp_path, capsys):
    assert main(["example", "nosuch", str(tmp_path / "x")]) == 2
    assert "bundled examples: mrgfus" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["example", "mrgfus", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err
    with pytest.raises(SettingsError, match="input of this command"):
        copy_example("mrgfus", DATA / "tutorial", force=True)


def test_example_runs_as_copied(tmp_path):
    """The copied plan runs where it was copied (its data paths are relative to it)."""
    from metareview.run.plan import load_plan

    copy_example("mrgfus", tmp_path)
    plan = load_plan(tmp_path)
    assert all(s.file.is_file() and tmp_path in s.file.parents for s in plan.data.values())
