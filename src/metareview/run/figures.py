"""The review's figures: drawn once, kept as PNG, SVG and PDF bytes until written.

Forest plots come from :mod:`metareview.plots.forest` (through ``MetaResult.forest``), the
flow diagram from :mod:`metareview.plots.prisma`.  SVG ids get a per-figure prefix so that
several figures can be inlined in one HTML page.

Each figure is laid out once and its three formats are saved from that one Figure.  A run
describes its figures as :class:`FigureJob` s and a :class:`FigureRenderer` draws them, in
worker processes when the machine has more than one core (drawing text is most of a
review run's time): the files are the same bytes either way, in the same order, with the
same warnings and the same first error.  A process drawing figures keeps the sizes, shapes
and glyph pixels of their texts for the next figure and format (``shared_text_layout`` of
``metareview.plots._text_cache``): most strings of a review's figures are drawn several times.
"""

from __future__ import annotations

import heapq
import io
import itertools
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Self

from .workers import WorkerStopped, WorkerTree

__all__ = ["FORMATS", "FigureFile", "save_figure", "inline_svg", "forest_figure", "prisma_figure"]

FORMATS = ("png", "svg", "pdf")


@dataclass(frozen=True)
class FigureFile:
    name: str                          # file stem, e.g. "treatment_response_forest"
    title: str
    caption: str
    files: dict = field(default_factory=dict)   # format -> bytes
    #: The SVG as an element of the report page, when made with the files (by the process
    #: that drew them, so that the report waits for no regular expression over the SVGs)
    svg_element: str | None = None

    def inline_svg(self) -> str:
        if self.svg_element is not None:
            return self.svg_element
        return inline_svg(self.files["svg"].decode("utf-8"), self.name)


def save_figure(fig, name: str, title: str, caption: str, dpi: int = 300) -> FigureFile:
    """PNG (at ``dpi``, the plan's ``[review] dpi``), SVG and PDF of a matplotlib figure, with
    no dates in them (same input, same bytes).

    The PNG holds the pixels ``savefig`` draws, encoded by :func:`metareview.run.png.encode_png`
    (no row filters: for figures as small as Pillow's and three times faster to write)."""
    import matplotlib
    import matplotlib.pyplot as plt

    files = {}
    meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}
    # Type 3 fonts in PDF: embedding TrueType subsets (fonttype 42) takes ~0.3 s per font and file,
    # which would put a review run far over its time budget.
    with matplotlib.rc_context({"pdf.fonttype": 3, "svg.fonttype": "path", "svg.hashsalt": name}):
        for fmt in FORMATS:
            if fmt == "png":
                pixels = _Pixels(dpi, {"Software": _SOFTWARE.format(matplotlib.__version__)})
                fig.savefig(pixels, format="rgba", dpi=dpi, facecolor="white")
                files[fmt] = pixels.png
                continue
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", metadata=meta[fmt])
            files[fmt] = buf.getvalue()
    plt.close(fig)
    return FigureFile(name=name, title=title, caption=caption, files=files,
                      svg_element=inline_svg(files["svg"].decode("utf-8"), name))


#: The ``Software`` text of the PNGs, as matplotlib's ``savefig`` writes it.
_SOFTWARE = "Matplotlib version{}, https://matplotlib.org/"


class _Pixels(io.BytesIO):
    """A file for ``savefig(format="rgba")`` that encodes the pixels as a PNG when they are
    written: Agg writes its buffer, ``(height, width, 4)``, in one call, and it is read there,
    without a copy."""

    png = b""

    def __init__(self, dpi: float, text: dict[str, str]):
        super().__init__()
        self._dpi, self._text = dpi, text

    def write(self, data) -> int:
        import numpy as np

        from .png import encode_png

        pixels = np.asarray(data)
        self.png = encode_png(pixels, self._dpi, self._text)
        return pixels.nbytes


#: An id attribute: ``\bid="([^"]+)"`` is these matches where ``\b`` holds (:func:`_id_attributes`)
_ID = re.compile(r'id="([^"]+)"')
_WORD = re.compile(r"\w")


def _id_attributes(svg: str) -> list[re.Match]:
    r"""The matches of ``\bid="([^"]+)"`` in ``svg``, in order.

    Found by the literal ``id="`` and a look at the character before it: a pattern that starts
    with ``\b`` has no literal prefix for the regular expression engine to search for, so it is
    tried at every character of the SVG (most of the time of making a figure's element)."""
    found = []
    pos = 0
    while (m := _ID.search(svg, pos)) is not None:
        start = m.start()
        if start and _WORD.match(svg, start - 1):     # a word character before: no \b here
            pos = start + 1
            continue
        found.append(m)
        pos = m.end()
    return found


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG document as an element for an HTML page: no XML prolog, ids made unique."""
    svg = re.sub(r"^\s*<\?xml[^>]*>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    attributes = _id_attributes(svg)
    ids = {m.group(1) for m in attributes}
    if ids:
        parts, end = [], 0
        for attribute in attributes:
            parts += [svg[end:attribute.start()], f'id="{prefix}-{attribute.group(1)}"']
            end = attribute.end()
        svg = "".join(parts) + svg[end:]
        svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})" if m.group(1) in ids
                     else m.group(0), svg)
        svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"' if m.group(1) in ids
                     else m.group(0), svg)
    # shrink with the page, and grow to at most 1.6 times the figure's print size (7-point
    # text is small on a screen): keep the viewBox, turn the fixed width into a maximum width
    m = re.search(r'<svg[^>]*?\swidth="([\d.]+)(pt|px)?"', svg)
    width = f"{1.6 * float(m.group(1)):.0f}{m.group(2) or 'px'}" if m else None
    svg = re.sub(r'(<svg[^>]*?)\swidth="[^"]*"', r"\1", svg, count=1)
    svg = re.sub(r'(<svg[^>]*?)\sheight="[^"]*"', r"\1", svg, count=1)
    if width:
        svg = svg.replace("<svg", f'<svg style="width:100%;max-width:{width};height:auto"', 1)
    return svg.strip()


def forest_figure(result, name: str, title: str, caption: str, options: dict | None = None,
                  dpi: int = 300) -> FigureFile:
    """The forest plot of a pooled result or a subgroup analysis (:mod:`metareview.plots.forest`)."""
    from ..plots.forest import forest

    display = forest(result, **(options or {}))
    return save_figure(display.figure_, name, title, caption, dpi)


def prisma_figure(path, name: str = "prisma", dpi: int = 300) -> FigureFile:
    """The PRISMA 2020 flow diagram of a counts file (or of a laid-out ``PrismaDiagram``)."""
    from ..plots.prisma import PrismaDiagram

    diagram = path if isinstance(path, PrismaDiagram) else PrismaDiagram.from_file(path)
    fig = diagram.plot()
    return save_figure(fig, name, "PRISMA 2020 flow diagram",
                       "Flow of records and studies (Page et al. 2021, BMJ 372:n71); boxes whose counts "
                       "the source does not give are left out.", dpi)


# ----------------------------------------------------------------------------------------------
# drawing many figures
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FigureJob:
    """One figure of a run, to be drawn by ``draw(*args)`` (a module-level function returning a
    :class:`FigureFile`; it and ``args`` cross to a worker process, so both must pickle).

    ``cost`` orders the work (the largest figures start first, so that two workers finish
    together); ``on_error`` turns a :class:`~metareview.base.exceptions.MetaReviewError` of the
    drawing into the error the run reports (it stays in the calling process).
    """

    name: str
    draw: Callable[..., FigureFile]
    args: tuple
    cost: float = 1.0
    on_error: Callable[[Exception], Exception] | None = None


class FigureRenderer:
    """Draws a run's figures: in worker processes when there is more than one core, else here.

    Made before anything else of a run: this process loads what it shares with the workers
    (:data:`SHARED_MODULES`: pandas and the analysis modules, to read the results they are
    sent) and forks the first worker, which loads what drawing needs (:data:`DRAWING_MODULES`)
    while this process reads the data and pools, then forks the other workers
    (:class:`~metareview.run.workers.WorkerTree`).  Workers are forks only where that is safe
    (Linux, and no other thread running that could hold a lock the fork would copy);
    elsewhere the figures are drawn in this process.  Close it (or use it in a ``with`` block)
    to end the workers.

    ``workers``: None for one per core available to this process, 1 to draw here.
    """

    def __init__(self, workers: int | None = None):
        self.workers = max(1, figure_workers() if workers is None else int(workers))
        self._tree: WorkerTree | None = None
        self._jobs: list[FigureJob] = []
        self._futures: list[Future | None] = []
        # jobs not yet given to a worker, largest first: (-cost, order, future, job)
        self._waiting: list = []
        self._idle: set[int] = set()            # workers ready for a job
        self._held: dict[int, tuple[Future, str]] = {}     # worker -> the future and name of its job
        self._alive = set(range(self.workers))
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._hello = threading.Event()         # a worker has said which matplotlib it draws with
        self._matplotlib: str | None = None
        self._leaving: WorkerTree | None = None     # released: the workers leave, close() waits for them
        if self.workers > 1 and _fork_is_safe():
            import importlib

            from ..base.collector import collector_paused

            # the fork too: the objects just loaded are frozen for the workers before any collection
            # here walks them (after a pause, the next collection would meet all of them at once)
            with collector_paused():
                for name in SHARED_MODULES:
                    importlib.import_module(name)
                self._tree = WorkerTree(self.workers, DRAWING_MODULES, _init_worker, _matplotlib_version,
                                        _draw_job, on_ready=self._ready, on_result=self._result,
                                        on_error=self._error, on_stopped=self._stopped, prepare=_prepare_worker)

    @property
    def submitted(self) -> int:
        """How many figures have been submitted and not yet collected."""
        return len(self._jobs)

    @property
    def parallel(self) -> bool:
        """Whether figures are drawn in worker processes."""
        return self._tree is not None

    def close(self) -> None:
        """End the workers (figures not yet collected are dropped, and workers still drawing one
        are stopped)."""
        self._jobs, self._futures = [], []
        with self._lock:
            waiting, self._waiting = self._waiting, []
            tree, self._tree = self._tree, None
            leaving, self._leaving = self._leaving, None
            drawing = bool(self._held)
        for _, _, future, _ in waiting:
            future.cancel()
        if tree is not None:
            tree.close(stop=drawing)
        if leaving is not None:
            leaving.close()

    def release(self) -> None:
        """No more figures for the workers: they leave now, while this process goes on (a run's report
        and files), and :meth:`close` only waits for them.  Figures submitted after this are drawn in
        this process.  Does nothing while a worker has a figure or one is waiting for a worker."""
        with self._lock:
            if self._tree is None or self._held or self._waiting:
                return
            self._leaving, self._tree = self._tree, None
        self._leaving.release()

    def matplotlib_version(self) -> str:
        """The version of matplotlib that draws the figures (told by the workers, so that this
        process need not load it)."""
        if self._tree is not None or self._leaving is not None:
            self._hello.wait()
        return self._matplotlib or _matplotlib_version()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, jobs: Sequence[FigureJob]) -> None:
        """Start drawing ``jobs`` (in worker processes; here, they wait for :meth:`collect`).

        A run submits each figure as soon as what it shows is computed, so that the workers
        draw while this process goes on with the next analysis.  Each worker has one job at a
        time and, whenever it is free, is given the largest of all those submitted and not yet
        given, so that the small figures come last and the workers finish at about the same
        time (longest processing time first: Graham 1969, SIAM J Appl Math 17:416).
        """
        jobs = list(jobs)
        self._jobs.extend(jobs)
        if self._tree is None:
            self._futures.extend([None] * len(jobs))
            return
        futures: list[Future] = [Future() for _ in jobs]
        with self._lock:
            for job, future in zip(jobs, futures):
                heapq.heappush(self._waiting, (-job.cost, next(self._order), future, job))
        self._futures.extend(futures)
        self._give()

    def _give(self) -> None:
        """Give the largest waiting jobs to the workers that are free (called here and, as
        workers start and finish, by the thread that receives their results)."""
        while True:
            with self._lock:
                if not self._waiting or not self._idle or self._tree is None:
                    return
                _, _, future, job = heapq.heappop(self._waiting)
                if not future.set_running_or_notify_cancel():
                    continue            # cancelled: an earlier figure failed
                worker = min(self._idle)
                self._idle.discard(worker)
                self._held[worker] = (future, job.name)
                tree = self._tree
            try:
                tree.give(worker, (job.draw, job.args))
            except Exception as exc:  # noqa: BLE001 - a job that does not pickle fails, as it would here
                with self._lock:
                    self._held.pop(worker, None)
                    self._idle.add(worker)
                future.set_exception(exc)

    # what the workers report (on the thread that receives their results)
    def _ready(self, worker: int, version: str) -> None:
        with self._lock:
            self._idle.add(worker)
            self._matplotlib = self._matplotlib or version
        self._hello.set()
        self._give()

    def _result(self, worker: int, outcome: tuple) -> None:
        with self._lock:
            future, _ = self._held.pop(worker)
            self._idle.add(worker)
        future.set_result(outcome)
        self._give()

    def _error(self, worker: int, exc: BaseException) -> None:
        with self._lock:
            future, _ = self._held.pop(worker, (None, ""))
            if future is not None:
                self._idle.add(worker)
        if future is not None:
            future.set_exception(exc)
            self._give()

    def _stopped(self, worker: int, exc: BaseException) -> None:
        """A worker has ended: its figure fails, and so does every figure waiting once no worker
        is left."""
        with self._lock:
            self._idle.discard(worker)
            self._alive.discard(worker)
            failed = []
            if worker in self._held:
                future, name = self._held.pop(worker)
                failed.append(future)
                if isinstance(exc, WorkerStopped):
                    exc = WorkerStopped(f"{exc} ({name})")
            if not self._alive:
                failed += [future for _, _, future, _ in self._waiting]
                self._waiting = []
        for future in failed:
            if not future.cancelled():
                future.set_exception(exc)
        if not self._alive:
            self._hello.set()

    def collect(self, progress: Callable[[int, int, str], None] | None = None) -> list[FigureFile]:
        """The figures of every job submitted since the last call, in the order submitted.

        ``progress(done, total, name)`` is called as each figure is finished (at once for
        those the workers have already drawn).  Warnings of the drawing are re-issued here
        in the order of the jobs, and the error raised is the one of the first job that
        failed, as when the figures are drawn one after the other.
        """
        jobs, futures = self._jobs, self._futures
        self._jobs, self._futures = [], []
        total = len(jobs)
        figures: list[FigureFile | None] = [None] * total
        outcomes: dict[int, tuple] = {}
        registry: dict = {}             # one warning per text and place, as warnings.warn does
        finished = 0
        upto = 0

        def settle(upto: int) -> int:
            """Re-issue warnings and raise errors of the jobs finished in order, from ``upto`` on."""
            while upto < total and upto in outcomes:
                figure, caught, error = outcomes.pop(upto)
                for message, category, filename, lineno in caught:
                    warnings.warn_explicit(message, category, filename, lineno, registry=registry)
                if error is not None:
                    on_error = jobs[upto].on_error
                    raise (on_error(error) if on_error is not None else error) from None
                figures[upto] = figure
                upto += 1
            return upto

        def finish(i: int, outcome: tuple) -> None:
            nonlocal finished
            outcomes[i] = outcome
            finished += 1
            if outcome[2] is None and progress is not None:
                progress(finished, total, jobs[i].name)

        pending = {future: i for i, future in enumerate(futures) if future is not None}
        try:
            for i, job in enumerate(jobs):
                if futures[i] is None:      # drawn here, in order
                    finish(i, _draw_job(job.draw, job.args))
                    upto = settle(upto)
            if pending:
                from concurrent.futures import FIRST_COMPLETED, wait

            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=pending.__getitem__):
                    i = pending.pop(future)
                    finish(i, future.result())
                upto = settle(upto)
        finally:
            for future in pending:
                future.cancel()
        return figures  # type: ignore[return-value]

    def render(self, jobs: Sequence[FigureJob],
               progress: Callable[[int, int, str], None] | None = None) -> list[FigureFile]:
        """Draw ``jobs`` and return their figures in the order of ``jobs`` (:meth:`submit`, then
        :meth:`collect`; jobs submitted before and not yet collected come first)."""
        self.submit(jobs)
        return self.collect(progress)


#: What the workers share with this process, loaded here before the first worker is forked: to
#: read the results they are sent (forest plots of pooled results and subgroup analyses).
SHARED_MODULES = ("pandas", "metareview.api.result", "metareview.api.meta", "metareview.analyses.subgroups",
                  "metareview.analyses.sensitivity", "metareview.run.certainty")

#: What drawing needs and this process does not: loaded once, by the first worker, while this
#: process reads the data and pools (the other workers are forked from it once it has them).
DRAWING_MODULES = ("matplotlib.pyplot", "matplotlib.backends.backend_agg", "matplotlib.backends.backend_svg",
                   "matplotlib.backends.backend_pdf", "PIL.PngImagePlugin", "metareview.plots.forest",
                   "metareview.plots.prisma", "metareview.plots.rob", "metareview.plots._text_cache",
                   "metareview.run.png")


def figure_workers() -> int:
    """The cores this process may use: how many workers draw figures by default."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def _draw_job(draw: Callable[..., FigureFile], args: tuple) -> tuple[FigureFile | None, list, Exception | None]:
    """Run one job, keeping its warnings (to be re-issued by the caller) and its error.

    The job sees matplotlib's settings as loaded from its configuration, not whatever the
    calling program changed since: a worker process and this one draw the same bytes.
    """
    import matplotlib

    from ..base.exceptions import MetaReviewError
    from ..plots._text_cache import shared_text_layout

    with warnings.catch_warnings(record=True) as caught, matplotlib.rc_context():
        # what rc_context(settings) does (its argument's type lists only the settings it knows by name)
        matplotlib.rcParams.update({k: v for k, v in matplotlib.rcParamsOrig.items() if k != "backend"})
        with shared_text_layout():
            warnings.simplefilter("always")
            try:
                figure, error = draw(*args), None
            except MetaReviewError as exc:
                figure, error = None, exc
    return figure, [(str(w.message), w.category, w.filename, w.lineno) for w in caught], error


def _fork_is_safe() -> bool:
    """Linux, and this process runs no other thread (a fork copies the locks other threads
    hold, and a worker that then writes to stderr would wait for ever)."""
    import threading

    return sys.platform.startswith("linux") and threading.active_count() == 1


def _prepare_worker() -> None:
    """Before a worker loads the drawing: what matplotlib imports and the figures never use is
    loaded on first use (:mod:`metareview.base.lazy_imports`; a worker is a process of ours), and
    the artist classes' ``set`` gets no signature and docstring (:mod:`metareview.plots._artist_docs`)."""
    from ..base.lazy_imports import defer_imports
    from ..plots._artist_docs import defer_set_docs

    defer_imports()
    defer_set_docs()


def _init_worker() -> None:
    """A worker draws off screen, whatever backend the calling process uses, and its collector
    waits for :data:`WORKER_YOUNG_OBJECTS` new objects before a young-generation collection."""
    import gc

    import matplotlib

    matplotlib.use("Agg")
    gc.set_threshold(WORKER_YOUNG_OBJECTS, *gc.get_threshold()[1:])


#: A worker's young-generation threshold (Python's default is 700).  Drawing a figure creates
#: tens of thousands of short-lived objects (artists, paths, transforms, text layouts), most of
#: them freed by their reference counts before a larger threshold is reached; at 700 a worker
#: ran about 90 collections walking objects that were about to go anyway (measured: 0.03-0.06
#: CPU s of collections per worker, 0.01-0.02 s at 10,000).  The figures' reference cycles are
#: still collected, a little later.
WORKER_YOUNG_OBJECTS = 10_000


def _matplotlib_version() -> str:
    import matplotlib

    return matplotlib.__version__
