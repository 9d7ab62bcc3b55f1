"""The figures of a review run: every format written, the same bytes whether drawn in worker
processes or one after the other, warnings and the first error as in a serial run, progress."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from metareview.base.exceptions import MetaReviewWarning, SettingsError
from metareview.cli import main
from metareview.run import run_review
from metareview.run.figures import FORMATS, FigureFile, FigureJob, FigureRenderer
from metareview.run.plan import PlanError

from .conftest import EXAMPLE

needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forks on Linux only")
REPO = EXAMPLE.parents[1]


def _again_in_a_new_process(request, fresh: bool = False) -> bool:
    """Run this test again in a new interpreter when threads that other tests left running keep
    this process from forking workers (the run then draws in-process, which would test nothing
    new), or when ``fresh``; True when it did and passed there."""
    if (threading.active_count() == 1 and not fresh) or os.environ.get("METAREVIEW_TEST_AGAIN"):
        return False
    done = subprocess.run([sys.executable, "-m", "pytest", request.node.nodeid, "-q", "-p", "no:cacheprovider"],
                          cwd=REPO, env=dict(os.environ, METAREVIEW_TEST_AGAIN="1"), capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    return True


def _assert_parallel() -> None:
    with FigureRenderer(2) as renderer:
        assert renderer.parallel, "two workers on Linux with no other thread running are forks"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


#: The example run with two workers, in a new interpreter (no thread of other tests running).
PARALLEL = """
import sys
from metareview.run import run_review
from metareview.run.figures import FigureRenderer
with FigureRenderer(2) as renderer:
    assert renderer.parallel, "two workers on Linux with no other thread running are forks"
run_review(sys.argv[1], sys.argv[2], workers=2)
"""


@pytest.fixture(scope="module")
def serial_and_parallel(tmp_path_factory):
    """The example drawn in this process and by two worker processes."""
    base = tmp_path_factory.mktemp("figures")
    serial = run_review(EXAMPLE, base / "serial", workers=1)
    done = subprocess.run([sys.executable, "-c", PARALLEL, str(EXAMPLE), str(base / "parallel")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return _files(serial.out), _files(base / "parallel")


@needs_fork
def test_parallel_run_writes_the_same_files(serial_and_parallel):
    serial, parallel = serial_and_parallel
    assert sorted(serial) == sorted(parallel)
    # the Word table's zip members carry the time they were written; everything else is equal
    differ = [name for name in serial if serial[name] != parallel[name] and not name.endswith(".docx")]
    assert differ == []


@needs_fork
def test_every_figure_in_every_format(serial_and_parallel):
    _, files = serial_and_parallel
    listed = json.loads(files["results.json"])["figures"]
    on_disk = sorted(name for name in files if name.startswith("figures/"))
    assert listed == on_disk
    stems = {name.rsplit(".", 1)[0] for name in on_disk}
    assert len(stems) == 8        # 7 forest plots and the PRISMA diagram
    for stem in stems:
        assert files[f"{stem}.png"].startswith(b"\x89PNG\r\n\x1a\n")
        assert ET.fromstring(files[f"{stem}.svg"]).tag.endswith("svg")
        pdf = files[f"{stem}.pdf"]
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        assert b"/Type /Page" in pdf


# ----------------------------------------------------------------------------------------------
# the renderer, with jobs that take their time, warn and fail
# ----------------------------------------------------------------------------------------------
def slow_figure(name: str, delay: float, warn: str | None = None, fail: str | None = None) -> FigureFile:
    """A stand-in for a figure: waits, may warn, may fail as a drawing fails."""
    time.sleep(delay)
    if warn:
        warnings.warn(warn, MetaReviewWarning, stacklevel=1)
    if fail:
        raise SettingsError(fail)
    return FigureFile(name, name, "", {fmt: f"{name}.{fmt}".encode() for fmt in FORMATS})


def _jobs(*specs) -> list[FigureJob]:
    return [FigureJob(f"f{i}", slow_figure, (f"f{i}", *spec), cost=float(i)) for i, spec in enumerate(specs)]


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=needs_fork)])
def test_figures_in_order_with_their_warnings_in_order(workers, request):
    if workers > 1:
        if _again_in_a_new_process(request):
            return
        _assert_parallel()
    # the last job (started first: highest cost) finishes first in the parallel case
    jobs = _jobs((0.3, "first warning"), (0.2, "second warning"), (0.0, "third warning"))
    seen = []
    with FigureRenderer(workers) as renderer, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figures = renderer.render(jobs, lambda done, total, name: seen.append((done, total)))
    assert [f.name for f in figures] == ["f0", "f1", "f2"]
    assert figures[1].files["svg"] == b"f1.svg"
    assert [str(w.message) for w in caught] == ["first warning", "second warning", "third warning"]
    assert all(w.category is MetaReviewWarning for w in caught)
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=needs_fork)])
def test_the_first_failing_figure_is_the_error(workers, request):
    if workers > 1:
        if _again_in_a_new_process(request):
            return
        _assert_parallel()
    # job 0 fails late, job 2 fails at once: the error is job 0's, as in a serial run
    jobs = _jobs((0.4, None, "first failure"), (0.0,), (0.0, None, "later failure"))
    jobs[0] = FigureJob("f0", slow_figure, jobs[0].args, on_error=lambda exc: PlanError(f"forest plot: {exc}"))
    with FigureRenderer(workers) as renderer, pytest.raises(PlanError, match="forest plot: first failure"):
        renderer.render(jobs)


def marked_figure(name: str, mark: str) -> FigureFile:
    """A stand-in for a figure that leaves a file behind when it is drawn."""
    Path(mark).write_text(name, encoding="utf-8")
    return FigureFile(name, name, "", {fmt: name.encode() for fmt in FORMATS})


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=needs_fork)])
def test_figures_submitted_in_steps_come_back_in_the_order_submitted(workers, request, tmp_path):
    if workers > 1:
        if _again_in_a_new_process(request):
            return
        _assert_parallel()
    first = [FigureJob("a", marked_figure, ("a", str(tmp_path / "a"))),
             FigureJob("b", slow_figure, ("b", 0.0, "warning of b"), cost=9.0)]
    later = [FigureJob("c", slow_figure, ("c", 0.2, "warning of c")),
             FigureJob("d", slow_figure, ("d", 0.0, "warning of d"), cost=9.0)]
    seen = []
    with FigureRenderer(workers) as renderer, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        renderer.submit(first)
        deadline = time.monotonic() + 30
        while workers > 1 and not (tmp_path / "a").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        # workers draw what is submitted at once; here nothing is drawn before it is collected
        assert (tmp_path / "a").exists() == (workers > 1)
        renderer.submit(later)
        assert renderer.submitted == 4
        figures = renderer.collect(lambda done, total, name: seen.append((done, total)))
        assert renderer.submitted == 0
        assert renderer.collect() == []
    assert [f.name for f in figures] == ["a", "b", "c", "d"]
    assert [str(w.message) for w in caught] == ["warning of b", "warning of c", "warning of d"]
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def timed_figure(name: str, delay: float, log: str) -> FigureFile:
    """A stand-in for a figure that notes when it started and waits."""
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"{time.monotonic()!r} {name}\n")
    time.sleep(delay)
    return FigureFile(name, name, "", {})


def _wait_for_workers(renderer: FigureRenderer) -> None:
    """Until every worker has loaded the drawing and is waiting for a job."""
    deadline = time.monotonic() + 60
    while len(renderer._idle) < renderer.workers and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(renderer._idle) == renderer.workers


@needs_fork
def test_the_largest_figure_waiting_is_drawn_next_whenever_it_was_submitted(request, tmp_path):
    """Figures submitted while the workers are busy wait, and each worker free takes the largest
    of them (the small ones come last); a worker has one figure at a time."""
    if _again_in_a_new_process(request):
        return
    log = str(tmp_path / "started")
    with FigureRenderer(2) as renderer:
        assert renderer.parallel
        _wait_for_workers(renderer)
        renderer.submit([FigureJob(n, timed_figure, (n, delay, log), cost=1.0)
                         for n, delay in (("a", 0.6), ("b", 0.9), ("c", 0.6))])
        for name, cost in (("small", 1.0), ("large", 50.0), ("middle", 9.0), ("tiny", 0.5)):
            renderer.submit([FigureJob(name, timed_figure, (name, 0.05, log), cost=cost)])
        figures = renderer.collect()
    assert [f.name for f in figures] == ["a", "b", "c", "small", "large", "middle", "tiny"]
    lines = Path(log).read_text(encoding="utf-8").splitlines()
    started = [name for _, name in sorted((float(t), n) for t, n in (line.split() for line in lines))]
    # a and b at once; c (submitted before the others, as large as small) waits for the larger
    assert sorted(started[:2]) == ["a", "b"]
    assert started[2:] == ["large", "middle", "c", "small", "tiny"]


def frozen_objects(name: str) -> FigureFile:
    """A stand-in for a figure that tells how many objects its process's collector leaves alone."""
    import gc

    return FigureFile(name, str(gc.get_freeze_count()), f"{gc.isenabled()} {gc.get_threshold()[0]}", {})


@needs_fork
def test_workers_inherit_a_frozen_heap_and_this_process_keeps_collecting(request):
    import gc

    from metareview.run.figures import WORKER_YOUNG_OBJECTS

    # (a command run here before may have frozen its imports)
    if _again_in_a_new_process(request, fresh=gc.get_freeze_count() > 0):
        return
    assert gc.isenabled() and gc.get_freeze_count() == 0
    threshold = gc.get_threshold()
    with FigureRenderer(2) as renderer:
        assert renderer.parallel
        assert gc.isenabled() and gc.get_freeze_count() == 0
        figures = renderer.render([FigureJob(f"f{i}", frozen_objects, (f"f{i}",)) for i in range(2)])
    # the modules and everything else loaded before the fork: tens of thousands of objects
    assert all(int(f.title) > 10_000 for f in figures)
    # the workers collect (the fork was made with this process's collector paused), less often
    assert [f.caption for f in figures] == [f"True {WORKER_YOUNG_OBJECTS}"] * 2
    assert gc.isenabled() and gc.get_freeze_count() == 0 and gc.get_threshold() == threshold


@needs_fork
def test_the_command_line_forks_its_first_worker_without_walking_its_imports(tmp_path):
    """numpy, scipy, pandas and the run's modules are imported with the collector paused and frozen
    before the first worker is forked: no collection of this process walks them first (before:
    about 90 collections, 0.09 CPU s on the run's serial start)."""
    code = ("import gc, os, sys\nfrom metareview.cli import main\ncounts = []\nfork = os.fork\n"
            "gc.callbacks.append(lambda phase, info: phase == 'start' and counts.append(1))\n"
            "def first_fork():\n    sys.stdout.write(f'COLLECTIONS {len(counts)}\\n')\n"
            "    os.fork = fork\n    return fork()\n"
            "os.fork = first_fork\n"
            f"assert main(['run', {str(EXAMPLE)!r}, '-o', {str(tmp_path / 'out')!r}, '-q']) == 0\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("COLLECTIONS")]
    assert int(line.split()[1]) < 10


@needs_fork
def test_the_command_line_forks_its_first_worker_before_loading_rich(tmp_path):
    """What the first worker inherits is on the path of every figure: rich (the progress lines, which
    workers never show) is loaded by the run's first step, after the fork; the steps are shown as before."""
    code = ("import os, sys\nfrom metareview.cli import main\nfork = os.fork\n"
            "def first_fork():\n    sys.stdout.write(f'RICH {\"rich.console\" in sys.modules}\\n')\n"
            "    os.fork = fork\n    return fork()\n"
            "os.fork = first_fork\n"
            f"assert main(['run', {str(EXAMPLE)!r}, '-o', {str(tmp_path / 'out')!r}]) == 0\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("RICH")]
    assert line.split()[1] == "False"
    assert "✓ Reading the analysis plan" in done.stderr and "Report: " in done.stderr
    assert "figures as PNG, SVG and PDF" in done.stderr


@needs_fork
def test_a_drawing_error_reads_the_same_from_a_worker(tmp_path, request):
    if _again_in_a_new_process(request):
        return
    _assert_parallel()
    text = (EXAMPLE / "review.toml").read_text(encoding="utf-8")
    text = text.replace("forest = { percent = true }", "forest = { percent = true, width = 1.0 }", 1)
    review = tmp_path / "review"
    review.mkdir()
    for f in EXAMPLE.iterdir():
        if f.is_file():
            (review / f.name).write_bytes(f.read_bytes())
    (review / "review.toml").write_text(text, encoding="utf-8")
    messages = []
    for workers in (1, 2):
        with pytest.raises(PlanError) as info:
            run_review(review, tmp_path / f"out{workers}", workers=workers)
        messages.append(str(info.value))
        assert not (tmp_path / f"out{workers}").exists()
    assert messages[0] == messages[1]
    assert "[analysis.treatment_response] forest: forest plot: the table does not fit in 1.0 in" in messages[0]


def test_progress_per_figure_and_quiet(tmp_path, capsys):
    from rich.console import Console

    from metareview.run.progress import Steps

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=200, highlight=False)
    run_review(EXAMPLE, tmp_path / "shown", steps=Steps(console))
    text = buffer.getvalue()
    assert "8 figures as PNG, SVG and PDF: figure 1/8 (" in text
    assert "8 figures as PNG, SVG and PDF: figure 8/8 (" in text
    assert "✓\x1b[0m 8 figures as PNG, SVG and PDF" in text
    assert main(["run", str(EXAMPLE), "-o", str(tmp_path / "quiet"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "wrote" in err and "figure 1/8" not in err and "PNG, SVG and PDF" not in err


# ----------------------------------------------------------------------------------------------
# PNG files: the pixels savefig draws, encoded without row filters
# ----------------------------------------------------------------------------------------------
def test_png_encoder_round_trips_pixels_resolution_and_text():
    import numpy as np
    from PIL import Image

    from metareview.run.png import encode_png

    rng = np.random.default_rng(18)
    pixels = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    png = encode_png(pixels, 300, {"Software": "metareview test"})
    image = Image.open(io.BytesIO(png))
    image.load()                                 # checks every chunk's CRC and the zlib stream
    assert (image.size, image.mode) == ((5, 7), "RGBA")
    assert np.array_equal(np.asarray(image), pixels)
    assert image.info["dpi"] == pytest.approx((300, 300), abs=1e-3)
    assert image.info["Software"] == "metareview test"
    with pytest.raises(ValueError, match="not 8-bit RGBA"):
        encode_png(pixels[..., :3], 300)


def test_png_rows_compressed_block_by_block_are_the_stream_of_all_rows_at_once(monkeypatch):
    """The rows go to zlib a block at a time (no copy of a figure's pixels): the same bytes as
    compressing one buffer of every row, whatever the block size and with a last block cut short."""
    import zlib

    import numpy as np
    from PIL import Image

    from metareview.run import png as encoder

    rng = np.random.default_rng(5)
    pixels = np.full((37, 11, 4), 255, dtype=np.uint8)
    pixels[::3, 2:9] = rng.integers(0, 256, size=(13, 7, 4), dtype=np.uint8)
    rows = np.concatenate([np.zeros((37, 1), np.uint8), pixels.reshape(37, 44)], axis=1)
    whole = zlib.compress(rows.tobytes(), 3)
    for block in (100, 45 * 5, 1 << 18):        # 2 rows (19 blocks), 5 rows (the last of 2), all at once
        monkeypatch.setattr(encoder, "_BLOCK", block)
        png = encoder.encode_png(pixels[::-1][::-1], 96)          # a view, as Agg's buffer is read
        assert whole in png
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), pixels)


def test_saved_png_has_the_pixels_and_metadata_of_savefig():
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from metareview.run.figures import save_figure

    matplotlib.use("Agg")
    fig, ax = plt.subplots(figsize=(2.13, 1.37))     # fractional pixels at 150 dpi
    ax.plot([0, 1], [1, 0])
    ax.text(0.2, 0.5, "Study 1 (2019)  0.42 [0.31; 0.55]", fontsize=7)
    reference = io.BytesIO()
    fig.savefig(reference, format="png", dpi=150, facecolor="white")
    png = save_figure(fig, "check", "", "", dpi=150).files["png"]
    ours, theirs = Image.open(io.BytesIO(png)), Image.open(io.BytesIO(reference.getvalue()))
    assert (ours.size, ours.mode, ours.info["dpi"]) == (theirs.size, theirs.mode, theirs.info["dpi"])
    assert ours.info["Software"] == theirs.info["Software"]
    assert np.array_equal(np.asarray(ours), np.asarray(theirs))


def test_a_run_submits_each_figure_as_soon_as_it_is_computed(monkeypatch, tmp_path):
    """The PRISMA diagram before the data are read, each analysis's forest plots before the next
    analysis runs, the tables while the figures are drawn; collected once."""
    from metareview.run import analyses, data, figures

    log: list = []

    class Collected(Exception):
        pass

    def submit(self, jobs):
        log.append([job.name for job in jobs])

    def collect(self, progress=None):
        log.append("collect")
        raise Collected

    real_load, real_run = data.load_data, analyses.run_analysis
    monkeypatch.setattr(figures.FigureRenderer, "submit", submit)
    monkeypatch.setattr(figures.FigureRenderer, "collect", collect)
    monkeypatch.setattr(data, "load_data", lambda plan: log.append("data") or real_load(plan))
    monkeypatch.setattr(analyses, "run_analysis", lambda table, plan: log.append("analysis") or real_run(table, plan))
    with pytest.raises(Collected):
        run_review(EXAMPLE, tmp_path / "out", workers=1)
    assert log[:3] == [["prisma"], "data", "analysis"]
    assert log[3] == ["treatment_response_forest", "treatment_response_without_paediatric_forest",
                      "treatment_response_subgroups_fus_system"]
    assert log[4] == "analysis" and log[-1] == "collect"
    assert log.count("analysis") == 5 and log.count("collect") == 1
    assert not (tmp_path / "out").exists()


def test_a_forest_plot_costs_its_rows_times_its_study_data_columns_plus_one(monkeypatch, tmp_path):
    """The pain plots (18 studies, five data columns) take longer than the proportions' (20-27
    studies, two data columns): they are given to the workers first."""
    from metareview.run import figures

    costs: dict = {}

    class Collected(Exception):
        pass

    def collect(self, progress=None):
        raise Collected

    monkeypatch.setattr(figures.FigureRenderer, "submit",
                        lambda self, jobs: costs.update({job.name: job.cost for job in jobs}))
    monkeypatch.setattr(figures.FigureRenderer, "collect", collect)
    with pytest.raises(Collected):
        run_review(EXAMPLE, tmp_path / "out", workers=1)
    assert costs["pain_3mo_forest"] == (18 + 4) * 6
    assert costs["ae_high_grade_forest"] == (27 + 4) * 3
    ranked = sorted(costs, key=costs.get, reverse=True)
    assert ranked[:3] == ["pain_3mo_forest", "pain_1mo_forest", "treatment_response_subgroups_fus_system"]
    assert ranked[-1] == "prisma"


def test_inline_svg_prefixes_whole_id_attributes_and_their_references():
    """Ids are attributes named ``id`` (a word boundary before: not ``xid``), found wherever they
    start, also inside the value of an attribute that is not one; references to other names are
    left as they are."""
    from metareview.run.figures import inline_svg

    svg = ('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<!-- Study 1 -->\n'
           '<svg width="100pt" height="50pt"><g id="a" xid="b"><use xlink:href="#a"/><use xlink:href="#b"/>'
           '<path clip-path="url(#a)" d="M0"/><path style="fill:url(#b)"/>'
           '<text data="x id="c" zid="d">é id="e"</text></g></svg>')
    assert inline_svg(svg, "f") == (
        '<svg style="width:100%;max-width:160pt;height:auto"><g id="f-a" xid="b"><use xlink:href="#f-a"/>'
        '<use xlink:href="#b"/><path clip-path="url(#f-a)" d="M0"/><path style="fill:url(#b)"/>'
        '<text data="x id="f-c" zid="d">é id="f-e"</text></g></svg>')
    assert inline_svg('id="a"', "f") == 'id="f-a"' and inline_svg('éid="a"', "f") == 'éid="a"'


def test_a_saved_figure_carries_its_svg_element_for_the_report():
    """Made where the figure is drawn (a worker), equal to the element made from the SVG later."""
    import matplotlib
    import matplotlib.pyplot as plt

    from metareview.run.figures import inline_svg, save_figure

    matplotlib.use("Agg")
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.text(0.2, 0.5, "Study 1 (2019)", fontsize=7)
    figure = save_figure(fig, "check", "", "", dpi=72)
    assert figure.svg_element == inline_svg(figure.files["svg"].decode("utf-8"), "check")
    assert figure.svg_element.startswith("<svg") and 'id="check-' in figure.svg_element
    assert FigureFile("check", "", "", figure.files).inline_svg() == figure.inline_svg()


# ----------------------------------------------------------------------------------------------
# the worker tree: the drawing loaded once, by the first worker; a worker that ends
# ----------------------------------------------------------------------------------------------
def family(name: str, delay: float) -> FigureFile:
    """A stand-in for a figure that tells its process and its parent, and whether it has matplotlib."""
    time.sleep(delay)
    return FigureFile(name, f"{os.getpid()} {os.getppid()} {'matplotlib.pyplot' in sys.modules}", "", {})


@needs_fork
def test_the_first_worker_loads_the_drawing_and_forks_the_second(request):
    """The first worker is forked from this process, the second from the first once it has
    loaded matplotlib (that this process then need not load it: the next test)."""
    if _again_in_a_new_process(request):
        return
    with FigureRenderer(2) as renderer:
        assert renderer.parallel
        _wait_for_workers(renderer)
        figures = renderer.render([FigureJob(n, family, (n, 0.3)) for n in ("a", "b")])
        version = renderer.matplotlib_version()
    pids = [tuple(f.title.split()) for f in figures]
    assert all(loaded == "True" for _, _, loaded in pids)
    (first,) = [pid for pid, parent, _ in pids if parent == str(os.getpid())]
    (second,) = [pid for pid, parent, _ in pids if parent == first]
    assert first != second
    import matplotlib
    assert version == matplotlib.__version__


@needs_fork
def test_released_workers_leave_at_once_and_later_figures_are_drawn_here(request):
    """After the last figure a run releases the workers: they end while it makes the report (close then
    has nothing to wait for); a figure submitted after that is drawn in this process, the same figure."""
    if _again_in_a_new_process(request):
        return
    with FigureRenderer(2) as renderer:
        assert renderer.parallel
        figures = renderer.render([FigureJob(n, family, (n, 0.1)) for n in ("a", "b")])
        pids = [int(f.title.split()[0]) for f in figures]
        renderer.release()
        assert not renderer.parallel
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not any(_alive(pid) for pid in pids), "released workers end without being closed"
        import matplotlib
        assert renderer.matplotlib_version() == matplotlib.__version__
        later = renderer.render(_jobs((0.0, "drawn here")))
        assert [f.files["svg"] for f in later] == [b"f0.svg"]
        renderer.release()          # nothing left to release
    assert renderer._leaving is None and renderer._tree is None


@needs_fork
def test_workers_are_not_released_while_a_figure_waits_or_is_drawn(request):
    if _again_in_a_new_process(request):
        return
    with FigureRenderer(2) as renderer:
        renderer.submit(_jobs((0.3,), (0.3,), (0.3,)))
        renderer.release()
        assert renderer.parallel
        assert [f.name for f in renderer.collect()] == ["f0", "f1", "f2"]
        renderer.release()
        assert not renderer.parallel


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a worker that has ended but is not yet waited for is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def figure_with_text(name: str) -> FigureFile:
    """A figure with text saved in every format, that tells whether ``fontTools.subset`` (imported by
    matplotlib's PDF writer, used only for TrueType fonts) ran in the process that drew it."""
    import matplotlib.pyplot as plt

    from metareview.run.figures import save_figure

    fig = plt.figure(figsize=(2, 1))
    fig.text(0.1, 0.5, "Study 12 (45.3%)")
    saved = save_figure(fig, name, "", "", dpi=50)
    module = sys.modules.get("fontTools.subset")
    return FigureFile(name, type(module).__name__, "", saved.files)


@needs_fork
def test_workers_write_pdfs_without_running_what_they_do_not_use(request):
    """A worker defers the modules of base/lazy_imports.py before loading the drawing (a process of
    ours: the caller's own imports are left alone)."""
    deferring = [f for f in sys.meta_path if type(f).__name__ == "_Deferring"]    # the command line's, if run here
    if _again_in_a_new_process(request, fresh="fontTools.subset" in sys.modules or bool(deferring)):
        return
    with FigureRenderer(2) as renderer:
        assert renderer.parallel
        figures = renderer.render([FigureJob(n, figure_with_text, (n,)) for n in ("a", "b")])
    assert [f.title for f in figures] == ["_LazyModule", "_LazyModule"]
    assert all(f.files["pdf"].startswith(b"%PDF") and b"/Type3" in f.files["pdf"] for f in figures)
    assert not any(type(finder).__name__ == "_Deferring" for finder in sys.meta_path)


@needs_fork
def test_a_parallel_run_leaves_matplotlib_to_the_workers(tmp_path):
    code = ("import sys; from metareview.run import run_review; "
            "run_review(sys.argv[1], sys.argv[2], workers=2); "
            "print('matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(EXAMPLE), str(tmp_path / "out")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]
    import matplotlib
    doc = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert doc["software"]["matplotlib"] == matplotlib.__version__


def killed_figure(name: str) -> FigureFile:
    """A figure whose process is killed while drawing it (as by the out-of-memory killer)."""
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)
    raise AssertionError("not reached")


@needs_fork
def test_a_killed_worker_fails_its_figure_and_the_run_does_not_hang(request):
    from metareview.run.workers import WorkerStopped

    if _again_in_a_new_process(request):
        return
    started = time.monotonic()
    with FigureRenderer(2) as renderer:
        assert renderer.parallel
        jobs = [FigureJob("small", slow_figure, ("small", 0.0)), FigureJob("doomed", killed_figure, ("doomed",)),
                FigureJob("long", slow_figure, ("long", 30.0), cost=0.5)]
        with pytest.raises(WorkerStopped, match=r"figure worker \d \(process \d+\) ended before it finished "
                                                r"its figure \(doomed\)"):
            renderer.render(jobs)
    # the worker drawing "long" was stopped, not waited for
    assert time.monotonic() - started < 20


def lost_figure(name: str) -> FigureFile:
    """A figure that fails as a bug would (not a MetaReviewError)."""
    raise KeyError(f"no column {name}")


@needs_fork
def test_an_unexpected_error_in_a_worker_is_raised_here_with_its_traceback(request):
    from metareview.run.workers import WorkerTraceback

    if _again_in_a_new_process(request):
        return
    with FigureRenderer(2) as renderer:
        assert renderer.parallel
        with pytest.raises(KeyError, match="no column x") as info:
            renderer.render([FigureJob("x", lost_figure, ("x",))])
    assert isinstance(info.value.__cause__, WorkerTraceback)
    assert "in lost_figure" in str(info.value.__cause__)


@needs_fork
def test_a_worker_that_cannot_load_the_drawing_fails_the_figures(request, monkeypatch):
    from metareview.run import figures

    if _again_in_a_new_process(request):
        return
    monkeypatch.setattr(figures, "DRAWING_MODULES", (*figures.DRAWING_MODULES, "metareview.no_such_module"))
    with FigureRenderer(2) as renderer:
        assert renderer.parallel
        with pytest.raises(ModuleNotFoundError, match="metareview.no_such_module"):
            renderer.render([FigureJob("a", slow_figure, ("a", 0.0)), FigureJob("b", slow_figure, ("b", 0.0))])


def killed_forest(*args) -> FigureFile:
    return killed_figure("forest")


@needs_fork
def test_a_figure_that_does_not_pickle_fails_and_the_others_are_drawn(request):
    if _again_in_a_new_process(request):
        return
    with FigureRenderer(2) as renderer:
        assert renderer.parallel
        with pytest.raises(Exception, match="pickle"):
            renderer.render([FigureJob("a", slow_figure, ("a", 0.0)),
                             FigureJob("b", slow_figure, (lambda: None, 0.0))])
        figures = renderer.render([FigureJob("c", slow_figure, ("c", 0.0))])
    assert [f.name for f in figures] == ["c"]


@needs_fork
def test_a_killed_worker_is_one_line_and_exit_code_3_on_the_command_line(tmp_path):
    """As any unexpected error: one line naming it and where its traceback was saved."""
    code = ("import sys, os\n"
            "from metareview.run import figures\n"
            "from tests.run.test_figures import killed_forest\n"
            "figures.forest_figure = killed_forest\n"
            "from metareview.cli import main\n"
            "sys.exit(main(['run', sys.argv[1], '-o', sys.argv[2]]))\n")
    done = subprocess.run([sys.executable, "-c", code, str(EXAMPLE), str(tmp_path / "out")], cwd=REPO,
                          env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache")),
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 3, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "WorkerStopped: figure worker" in last and "ended before it finished its figure" in last
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def sleeping_forest(*args) -> FigureFile:
    """A forest plot that takes its time (long enough to be interrupted)."""
    time.sleep(60)
    raise AssertionError("not reached")


@needs_fork
def test_ctrl_c_while_the_workers_draw_ends_the_run_with_one_line_and_130(tmp_path):
    """Ctrl-C reaches the whole process group: the workers ignore it and are stopped by the run,
    which says "interrupted" (exit code 130), writes nothing and leaves no worker behind."""
    import signal

    code = ("import sys\n"
            "from metareview.run import figures\n"
            "from tests.run.test_figures import sleeping_forest\n"
            "figures.forest_figure = sleeping_forest\n"
            "from metareview.cli import main\n"
            "sys.exit(main(['run', sys.argv[1], '-o', sys.argv[2]]))\n")
    run = subprocess.Popen([sys.executable, "-c", code, str(EXAMPLE), str(tmp_path / "out")], cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_group(run.pid)) < 3:     # the run and its two workers
        time.sleep(0.05)
    assert len(_group(run.pid)) == 3
    time.sleep(0.5)
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 130, err
    assert err.strip().splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [p for p in _group(run.pid) if not p[1].startswith("Z")]:
        time.sleep(0.05)
    assert [p for p in _group(run.pid) if not p[1].startswith("Z")] == []


def _group(pgid: int) -> list[tuple[str, str]]:
    """The processes of a process group: (pid, state)."""
    out = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return [tuple(line.split()[:2]) for line in out.splitlines() if line.strip()]  # type: ignore[misc]
