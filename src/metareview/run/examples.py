"""Bundled example reviews, copied into a folder of the user's: ``metareview example mrgfus DIR``.

An example is a whole review to work through from an installed package, without a
clone of the repository: the analysis plan with the paper's data table and PRISMA
counts (what ``metareview run --example`` runs), and the tutorial's material, the
search exports, the two reviewers' screening and extraction sheets and the
extraction form, with the reference-manager and screening-tool exports of the
how-to guides (Zotero, EndNote, Rayyan, Covidence).  Everything is package data; :data:`EXAMPLE_FILES` lists where each
file lands in the folder and where it lives in the package.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ..base.exceptions import SettingsError

__all__ = ["EXAMPLE_FILES", "copy_example"]

#: Per example: file in the user's folder -> file under ``metareview/data``.
EXAMPLE_FILES: dict[str, dict[str, str]] = {
    "mrgfus": {
        "README.md": "examples/mrgfus-bone-metastases/README.md",
        "review.toml": "examples/mrgfus-bone-metastases/review.toml",
        "table2.csv": "examples/mrgfus-bone-metastases/table2.csv",
        "table2.columns.toml": "examples/mrgfus-bone-metastases/table2.columns.toml",
        "prisma.toml": "examples/mrgfus-bone-metastases/prisma.toml",
        "treatment_response.csv": "mrgfus_treatment_response.csv",
        "exports/pubmed.nbib": "tutorial/pubmed.nbib",
        "exports/embase.ris": "tutorial/embase.ris",
        "exports/zotero.bib": "tutorial/zotero.bib",
        "exports/endnote.xml": "tutorial/endnote.xml",
        "exports/zotero-csl.json": "tutorial/zotero-csl.json",
        "exports/endnote-unicode.ris": "tutorial/endnote-unicode.ris",
        "exports/rayyan.csv": "tutorial/rayyan.csv",
        "exports/covidence.csv": "tutorial/covidence.csv",
        "sheets/screening-ann.csv": "tutorial/screening-ann.csv",
        "sheets/screening-bob.csv": "tutorial/screening-bob.csv",
        "sheets/extraction_form.toml": "tutorial/extraction_form.toml",
        "sheets/extraction-ann.csv": "tutorial/extraction-ann.csv",
        "sheets/extraction-bob.csv": "tutorial/extraction-bob.csv",
    },
}


def copy_example(name: str, directory: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Copy the example ``name`` into ``directory`` (created if needed); return the files written.

    Files that exist are left alone and the copy refused unless ``force``; nothing is
    written until every source has been read.
    """
    from ..base.outputs import check_output, write_file

    if name not in EXAMPLE_FILES:
        raise SettingsError(f"unknown example {name!r}; bundled examples: {', '.join(EXAMPLE_FILES)}")
    directory = Path(directory)
    data = resources.files("metareview") / "data"
    source = Path(str(data))
    if Path(os.path.realpath(directory)).is_relative_to(os.path.realpath(source)):
        raise SettingsError(f"{directory} lies inside metareview's own data folder, an input of this command; "
                            "choose another folder")
    if directory.exists() and not directory.is_dir():
        raise SettingsError(f"{directory} exists and is not a folder; choose another folder")
    files = EXAMPLE_FILES[name]
    existing = [rel for rel in files if (directory / rel).exists()]
    if existing and not force:
        raise SettingsError(f"{directory / existing[0]} already exists ({len(existing)} of the example's files "
                            f"do); use --force to overwrite them, or choose an empty folder")
    contents = {rel: (data / name).read_bytes() for rel, name in files.items()}
    written = []
    for rel, content in contents.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        check_output(path, [source])
        write_file(path, content, inputs=[source])
        written.append(path)
    return written
