"""Writing a review run: results.json, report.html, figures and CSV tables.

Everything is computed before the folder is touched; the files are written into a new
folder beside the target that then takes its place, so a failed run never leaves half
an output, and an existing folder is replaced only when asked (``force``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..exceptions import MetaReviewError

_OURS = ("results.json", "report.html")


class OutputExistsError(MetaReviewError):
    """The output folder exists and overwriting it was not asked for."""


def check_target(out: Path, force: bool) -> None:
    """Stop before any work when ``out`` exists and may not be replaced."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputExistsError(f"{out} exists and is not a folder; choose another output with -o OUT")
    entries = list(out.iterdir())
    if not entries:
        return
    if not force:
        raise OutputExistsError(f"output folder {out} already exists; use --force to replace it, or -o OUT to "
                                f"write elsewhere")
    if not any((out / f).exists() for f in _OURS):
        raise OutputExistsError(f"{out} exists and does not hold a previous run's output (no results.json or "
                                f"report.html); refusing to replace it even with --force")


def _umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_output(out: Path, files: dict[str, bytes], force: bool) -> list[Path]:
    """Write ``files`` (relative path -> bytes) as the folder ``out``; return the paths written."""
    check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        # mkdtemp makes the folder readable by its owner only; the output folder gets the
        # permissions of any folder the user makes (0o777 less the umask)
        tmp.chmod(0o777 & ~_umask())
        for rel, data in sorted(files.items()):
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / rel for rel in sorted(files)]
