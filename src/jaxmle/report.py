"""Study layer for experiments: run settings, progress, and report writing (``jaxmle.report``).

An experiment is a script in ``experiments/`` with a module docstring (first line: what it
does), an ``OPTIONS`` list of :class:`Option` and a ``run(ctx, **options) -> dict`` function
that computes with the public jaxmle API and writes its results through a :class:`Report`.
The ``jaxmle`` command (:mod:`jaxmle.cli`) and the script's own ``__main__`` (via
:func:`script_main`) run the same ``run``.

This module does I/O (Markdown, JSON, CSV, PNG) and is not imported by ``import jaxmle``;
the engine and the models never import it.
The progress display (:class:`Progress`) and the helper process that draws PNGs in the
background are in :mod:`jaxmle._report_progress` and :mod:`jaxmle._report_plots`.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import datetime as _dt
import io
import json
import math
import os
import pathlib
import platform
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from . import _cache
from ._io import atomic_write_text
from ._report_plots import _PlotWorker
from ._report_progress import Progress, progress_line
from ._runs import (  # the run-folder life cycle, part of this module's API
    _SETTINGS,
    Interrupted,
    OptionError,
    ResumeError,
    check_resume,
    interrupted_runs,
    prepare_checkpoints,
    recover,
    run_settings,
    run_study,
    settings_difference,
    staged,
    studies,
    validate_options,
    write_index,
)

__all__ = [
    "Context",
    "Interrupted",
    "Option",
    "OptionError",
    "Progress",
    "Report",
    "ResumeError",
    "check_resume",
    "environment",
    "fmt",
    "interrupted_runs",
    "prepare_checkpoints",
    "progress_line",
    "recover",
    "run_settings",
    "run_study",
    "script_main",
    "settings_difference",
    "staged",
    "studies",
    "validate_options",
    "write_index",
]


class Option(NamedTuple):
    """An experiment-specific command-line option, ``--name`` (underscores become hyphens).

    Attributes:
        name: Python keyword passed to ``run`` (e.g. ``"steps"`` for ``--steps``).
        type: ``int``, ``float``, ``str`` or ``bool`` (``bool`` gives ``--x/--no-x``).
        default: value when the option is not given; ``None`` lets the experiment pick (often
            depending on ``--quick``).
        help: one line for ``--help``.
    """

    name: str
    type: type
    default: Any
    help: str


def _dist_version(dist: str) -> str:
    """The installed version of a distribution (``"unknown"`` when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover - source tree without installation
        return "unknown"


def environment(seed: int | None = None) -> dict[str, Any]:
    """The software and hardware a result was measured on (for reports and JSON).

    Args:
        seed: the experiment's base seed, recorded alongside.

    Returns:
        A JSON-serialisable dict: versions, devices, default float dtype, seed, CPU count,
        platform, command line and UTC time.
    """
    import jax
    import optax

    devices = jax.devices()
    return {
        "jaxmle": _dist_version("jaxmle"),
        "jax": jax.__version__,
        "jaxlib": _dist_version("jaxlib"),
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind if devices else None,
        "x64": bool(jax.config.jax_enable_x64),
        "dtype": "float64" if jax.config.jax_enable_x64 else "float32",
        "seed": seed,
        "command": " ".join([pathlib.Path(sys.argv[0]).name, *sys.argv[1:]]),
        "utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@dataclass
class Context:
    """Settings of one experiment run, shared by the CLI and the scripts.

    Attributes:
        out: the experiment's output folder (created on first write).
        quick: a small, fast version of the study (for tests and smoke runs).
        seed: base seed; every random choice derives its key from it via :meth:`key`.
        plots: write PNG plots (needs matplotlib).
        progress: show progress bars / stage lines on stderr.
        name: the experiment's name.
        checkpoint_dir: where this run's checkpoints live (``OUT/.checkpoints/NAME``, set by
            :func:`run_study`), or None when checkpointing is off.
        background_plots: draw the PNGs in a helper process while the study computes on
            (:class:`_PlotWorker`); :func:`run_experiment` waits for them before it returns.
            Off in the ``jaxmle`` command and the scripts: on a 2-core machine a warm
            ``jaxmle run all --quick`` took ~4 s more CPU with it (the helper's import of
            matplotlib, the figures pickled there and back) and was no faster, with one
            study at a time or two.
    """

    out: pathlib.Path
    quick: bool = False
    seed: int = 0
    plots: bool = True
    progress: bool = True
    name: str = "experiment"
    checkpoint_dir: pathlib.Path | None = None
    background_plots: bool = False
    _t0: float = field(default_factory=time.perf_counter, repr=False)
    _labels: set = field(default_factory=set, repr=False)

    def key(self, *path: int) -> Any:
        """A ``jax.random`` key for a named random choice: ``fold_in(key(seed), *path)``."""
        import jax

        k = jax.random.key(self.seed)
        for p in path:
            k = jax.random.fold_in(k, p)
        return k

    def log(self, message: str) -> None:
        """A stage line on stderr (when progress is on)."""
        if self.progress:
            dt = time.perf_counter() - self._t0
            print(f"  [{self.name} {dt:6.1f} s] {message}", file=sys.stderr, flush=True)

    def bar(self, desc: str, total: int, unit: str = "step") -> Progress:
        """A :class:`Progress` for a long computation (pass it as ``progress=``)."""
        return Progress(f"{self.name}: {desc}", total, enabled=self.progress, unit=unit)

    def checkpoint(self, label: str) -> pathlib.Path | None:
        """The checkpoint folder for one long computation, for its ``checkpoint=`` argument.

        It lies outside the (staged) output folder, so it survives a killed run; the run that
        completes deletes it.

        Args:
            label: a name for the computation, distinct within the experiment (``"task1"``).

        Returns:
            ``OUT/.checkpoints/NAME/label``, or None when checkpointing is off.

        Raises:
            ValueError: for a label that is not a plain name, or one used twice.

        Example:
            >>> Context(out=pathlib.Path("r/x")).checkpoint("task1") is None
            True
        """
        if not label or label != pathlib.Path(label).name or label.startswith(".") or (
                label == _SETTINGS):  # fmt: skip
            raise ValueError(f"checkpoint label {label!r} must be a plain name")
        if label in self._labels:
            raise ValueError(f"checkpoint label {label!r} used twice in {self.name}")
        self._labels.add(label)
        return None if self.checkpoint_dir is None else self.checkpoint_dir / label

    @property
    def x64(self) -> bool:
        """Whether float64 is enabled (set by the entry point, never by jaxmle itself)."""
        import jax

        return bool(jax.config.jax_enable_x64)


def fmt(v: Any, digits: int = 6) -> str:
    """Formats a number (or array) for a Markdown table: ``digits`` significant digits.

    Args:
        v: number, bool, string, None or array-like.
        digits: significant digits for floats.

    Returns:
        The text.
    """
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return str(int(v))
    arr = np.asarray(v)
    if arr.ndim > 0:
        return "(" + ", ".join(fmt(x, digits) for x in arr.ravel()) + ")"
    x = float(arr)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "−inf"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e6):
        return f"{x:.{max(digits - 1, 1)}e}"
    return f"{x:.{digits}g}"


def _jsonable(o: Any) -> Any:
    if isinstance(o, Mapping):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    if hasattr(o, "__array__"):
        a = np.asarray(o)
        return a.item() if a.ndim == 0 else a.tolist()
    if isinstance(o, float) and not math.isfinite(o):
        return None if math.isnan(o) else ("inf" if o > 0 else "-inf")
    if isinstance(o, pathlib.Path):
        return str(o)
    return o


def _finite_json(o: Any) -> Any:
    # json.dumps writes NaN/Infinity, which is not JSON: map them to null / "inf".
    if isinstance(o, dict):
        return {k: _finite_json(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_finite_json(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None if math.isnan(o) else ("inf" if o > 0 else "-inf")
    return o


class Report:
    """Builds one experiment's ``report.md`` and writes its artefacts beside it.

    Args:
        ctx: the run's :class:`Context` (output folder, seed, plot switch).
        title: the report's heading.
        question: the source notebook's question(s), quoted at the top of the report.
        source: where the study comes from (e.g. ``"notebook 000"``).
    """

    def __init__(self, ctx: Context, title: str, question: str, source: str = ""):
        self.ctx, self.title, self.question, self.source = ctx, title, question, source
        self.lines: list[str] = []
        self.files: list[str] = []
        self.plots: list[str] = []
        self.results: dict[str, Any] = {}
        ctx.out.mkdir(parents=True, exist_ok=True)

    # -- text --------------------------------------------------------------------------

    def section(self, heading: str) -> None:
        """Starts a ``##`` section."""
        self.lines += ["", f"## {heading}", ""]

    def text(self, *paragraphs: str) -> None:
        """Adds Markdown paragraphs."""
        for p in paragraphs:
            self.lines += [p, ""]

    def bullets(self, items: Iterable[str]) -> None:
        """Adds a bullet list."""
        self.lines += [f"- {item}" for item in items] + [""]

    def table(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
              digits: int = 6, align: Mapping[str, str] | None = None) -> None:  # fmt: skip
        """Adds a Markdown table, one row per mapping (values formatted by :func:`fmt`).

        Args:
            rows: the rows.
            columns: column order (default: keys of the first row).
            digits: significant digits for floats.
            align: per-column ``"l"`` or ``"r"`` (default: numbers right, text left).
        """
        if not rows:
            self.lines += ["(no rows)", ""]
            return
        cols = list(columns or rows[0].keys())
        align = dict(align or {})

        def is_num(c):
            v = rows[0].get(c)
            return isinstance(v, int | float | np.number) and not isinstance(v, bool)

        marks = ["---:" if align.get(c, "r" if is_num(c) else "l") == "r" else "---" for c in cols]
        # A "|" in a header would split the column in two (|1 − λn/5|): escaped like cells.
        self.lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cols) + " |")
        self.lines.append("| " + " | ".join(marks) + " |")
        for r in rows:
            cells = [fmt(r.get(c), digits).replace("|", "\\|") for c in cols]
            self.lines.append("| " + " | ".join(cells) + " |")
        self.lines.append("")

    # -- artefacts ---------------------------------------------------------------------

    def json(self, name: str, obj: Any) -> pathlib.Path:
        """Writes ``name.json`` (arrays become lists; NaN becomes null) and links it."""
        path = self.ctx.out / f"{name}.json"
        atomic_write_text(path, json.dumps(_finite_json(_jsonable(obj)), indent=2) + "\n")
        self.files.append(path.name)
        return path

    def csv(self, name: str, rows: Sequence[Mapping[str, Any]]) -> pathlib.Path:
        """Writes ``name.csv`` (one row per mapping; the union of keys as columns)."""
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: _jsonable(v) for k, v in r.items()})
        path = self.ctx.out / f"{name}.csv"
        atomic_write_text(path, buf.getvalue())
        self.files.append(path.name)
        return path

    def figure(self, name: str, make: Callable[[], Any], caption: str = "") -> pathlib.Path | None:
        """Renders ``make()`` (a matplotlib Figure) to ``name.png`` and links it in the report.

        Skipped, with a note in the report, when plots are off or matplotlib is missing. With
        ``ctx.background_plots`` the PNG is drawn in a helper process and is on disk when
        :func:`run_experiment` returns (not yet when this returns).

        Args:
            name: file stem.
            make: builds and returns the figure (called only when plotting).
            caption: text under the image.

        Returns:
            The PNG's path, or None when skipped.
        """
        if not self.ctx.plots:
            return None
        try:
            from . import plot
        except ImportError:  # pragma: no cover - plot itself imports nothing optional
            return None
        try:
            fig = make()
        except plot.MissingMatplotlibError as err:
            self.ctx.plots = False
            self.text(f"_(plots skipped: {err})_")
            return None
        path = self.ctx.out / f"{name}.png"
        worker = _plot_worker() if self.ctx.background_plots else None
        if worker is None or not worker.submit(fig, path):
            plot.save(fig, path)
        self.plots.append(path.name)
        self.lines += [f"![{caption or name}]({path.name})", ""]
        if caption:
            self.lines += [f"*{caption}*", ""]
        return path

    def write(self, results: Mapping[str, Any], options: Mapping[str, Any] | None = None,
              seconds: float | None = None) -> pathlib.Path:  # fmt: skip
        """Writes ``results.json`` (key numbers, options, environment) and ``report.md``.

        Args:
            results: the experiment's key numbers (what the tests assert).
            options: the options the experiment ran with.
            seconds: wall time of the run (default: since the run started).

        Returns:
            The path of ``report.md``.
        """
        if seconds is None:
            seconds = time.perf_counter() - self.ctx._t0
        env = environment(self.ctx.seed)
        self.results = dict(results)
        # The index (write_index) reads title, quick, options, wall_s and environment.
        meta = {"experiment": self.ctx.name, "title": self.title, "quick": self.ctx.quick,
                "options": options or {}, "wall_s": seconds, "environment": env}  # fmt: skip
        self.json("results", {**meta, "results": self.results})
        head = [f"# {self.title}", ""]
        if self.source:
            head += [f"Source: {self.source}. Experiment `{self.ctx.name}`"
                     + (" (quick mode: a smaller, faster version)" if self.ctx.quick else "")
                     + ".", ""]  # fmt: skip
        head += ["**Question.** " + self.question, ""]
        tail = ["", "## Files and environment", ""]
        files = sorted(set(self.files))
        tail += ["Data: " + ", ".join(f"[{f}]({f})" for f in files) + ".", ""]
        if self.plots:
            tail += ["Plots: " + ", ".join(f"[{p}]({p})" for p in self.plots) + ".", ""]
        opts = ", ".join(f"{k}={v}" for k, v in (options or {}).items()) or "defaults"
        tail += [
            f"Options: {opts}. Random seed {self.ctx.seed}" + (f"; wall time {seconds:.1f} s." if
                                                         seconds is not None else "."),
            "",
            f"jax {env['jax']}, optax {env['optax']}, numpy {env['numpy']}, jaxmle "
            f"{env['jaxmle']}, Python {env['python']}; backend {env['backend']} "
            f"({', '.join(env['devices'])}), default dtype **{env['dtype']}**, "
            f"{env['cpu_count']} CPUs; {env['utc']}.",
        ]  # fmt: skip
        path = self.ctx.out / "report.md"
        text = "\n".join(head + self.lines + tail)
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
        atomic_write_text(path, text.rstrip() + "\n")
        return path


# ------------------------------------------------------------------------------------------
# Plots drawn beside the computation (opt-in, Context.background_plots): a helper process
# draws the figures on another core while the study computes on. Measured on 2 cores it no
# longer pays for the jaxmle command (see Context), which runs studies side by side instead.
# (The helper itself: jaxmle._report_plots._PlotWorker.)

_worker: _PlotWorker | None = None


def _plot_worker() -> _PlotWorker | None:
    """The process's :class:`_PlotWorker` (started at the first call; None without matplotlib)."""
    global _worker
    if _worker is None:
        try:
            import matplotlib  # noqa: F401 - the helper needs it too
        except ImportError:
            return None
        _worker = _PlotWorker()
        atexit.register(_worker.close)
    return _worker


# ------------------------------------------------------------------------------------------
# Running one experiment (shared by the CLI and the scripts' ``__main__``).


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options every experiment takes: ``--out --quick --seed --x64 --plots ...``."""
    parser.add_argument("--out", default="results", metavar="DIR",
                        help="results folder; each experiment writes DIR/NAME/ "
                        "(default: results)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="small, fast version of each study (seconds; used by the tests); "
                        "the jaxmle command also compiles for compile speed (XLA optimisation "
                        "level 0, no MLIR fusion emitters on CPU)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="base random seed (default: 0)")  # fmt: skip
    parser.add_argument("--x64", action=argparse.BooleanOptionalAction, default=True,
                        help="float64 computations (default: on); --no-x64 runs in "
                        "float32")  # fmt: skip
    parser.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True,
                        help="write PNG plots (needs matplotlib; default: on)")  # fmt: skip
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars / stage lines on stderr (default: on a "
                        "terminal)")  # fmt: skip
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=None,
                        help="continue an interrupted run from its checkpoints in "
                        "DIR/.checkpoints/NAME (default: when its settings match; --resume "
                        "fails if they differ, --no-resume starts over)")  # fmt: skip
    parser.add_argument("--compilation-cache", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="keep compiled XLA programs on disk so that later runs skip "
                        "compiling them (jaxmle.enable_compilation_cache; folder "
                        "$JAXMLE_CACHE_DIR, default ~/.cache/jaxmle/xla; default: on unless "
                        "JAXMLE_NO_COMPILATION_CACHE=1)")  # fmt: skip


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """Adds an experiment's :class:`Option` list to a parser."""
    for o in options:
        flag = "--" + o.name.replace("_", "-")
        if o.type is bool:
            parser.add_argument(flag, dest=o.name, action=argparse.BooleanOptionalAction,
                                default=o.default, help=o.help)  # fmt: skip
        else:
            parser.add_argument(flag, dest=o.name, type=o.type, default=o.default,
                                metavar=o.type.__name__.upper(), help=o.help)  # fmt: skip


def run_experiment(module: Any, ctx: Context, options: Mapping[str, Any] | None = None) -> dict:
    """Runs an experiment module's ``run(ctx, **options)`` and times it.

    Args:
        module: the loaded experiment script (has ``run`` and optionally ``OPTIONS``).
        ctx: the run's context.
        options: values for the experiment's options (missing ones take their defaults).

    Returns:
        The dict ``run`` returned (the key numbers), with ``"wall_s"`` added (which includes
        waiting for the PNGs drawn in the background).
    """
    opts = {o.name: o.default for o in getattr(module, "OPTIONS", [])}
    opts.update(options or {})
    t0 = time.perf_counter()
    ctx._t0 = t0
    try:
        results = module.run(ctx, **opts)
    except BaseException:
        # Its folder is about to be removed: no PNG may land in it afterwards.
        if _worker is not None:
            _worker.wait(cancel=True)
        raise
    if _worker is not None:
        _worker.wait()  # every PNG on disk before the folder is swapped in
    results = dict(results or {})
    results["wall_s"] = time.perf_counter() - t0
    return results


def _enable_x64(on: bool) -> None:
    import jax

    jax.config.update("jax_enable_x64", bool(on))


def script_main(module_name: str) -> None:
    """The ``__main__`` of an experiment script: ``python experiments/NAME.py [options]``.

    Parses the common options and the script's ``OPTIONS``, enables float64 unless
    ``--no-x64`` and the persistent compilation cache unless ``--no-compilation-cache`` or
    ``JAXMLE_NO_COMPILATION_CACHE=1`` (both before any computation), runs it with
    :func:`run_study` (staged, with checkpoints), rebuilds ``OUT/index.md`` and
    ``OUT/index.html`` (:func:`write_index`) and prints where the report and the page went.

    Args:
        module_name: pass ``__name__`` from the script (its module must be loaded).
    """
    module = sys.modules[module_name]
    path = pathlib.Path(module.__file__)
    name = getattr(module, "NAME", path.stem.replace("_", "-"))
    doc = (module.__doc__ or "").strip().splitlines()
    parser = argparse.ArgumentParser(prog=path.name, description=doc[0] if doc else None,
                                     allow_abbrev=False)  # fmt: skip
    add_common_arguments(parser)
    add_options(parser, getattr(module, "OPTIONS", []))
    args = vars(parser.parse_args())
    _enable_x64(args.pop("x64"))
    _cache.enable_default(args.pop("compilation_cache"))
    common = {k: args.pop(k) for k in ("out", "quick", "seed", "plots", "progress", "resume")}
    progress = sys.stderr.isatty() if common["progress"] is None else common["progress"]
    out = pathlib.Path(common["out"])
    ctx = Context(out=out / name, quick=common["quick"], seed=common["seed"],
                  plots=common["plots"], progress=progress, name=name)  # fmt: skip
    try:
        validate_options(module, args)  # before anything on disk changes
    except OptionError as err:
        parser.exit(2, f"{path.name}: error: {err}\n")
    try:
        res = run_study(module, ctx, args, resume=common["resume"])
    except (OptionError, ResumeError) as err:
        parser.exit(2, f"{path.name}: error: {err}\n")
    finally:
        write_index(out, _script_order(path.parent))
    print(f"{name}: wrote {ctx.out / 'report.md'} ({res['wall_s']:.1f} s); every study on one "
          f"page: {out / 'index.html'}")  # fmt: skip


def _script_order(folder: pathlib.Path) -> list[str]:
    """The experiments' run order, as ``jaxmle list`` shows it (read without running them)."""
    from .cli import discover

    return list(discover(folder))
