"""The on-disk life cycle of a study's output folder (re-exported by ``jaxmle.report``).

A run of experiment NAME into the results folder OUT uses these paths::

    OUT/NAME/                  the last completed run (report.md, results.json, artefacts)
    OUT/.NAME.staging-<pid>/   what the running process <pid> writes, until it completes
    OUT/.NAME.old-<pid>/       the previous OUT/NAME, only during the swap
    OUT/.checkpoints/NAME/     the run's checkpoints, with the settings.json they depend on
    OUT/index.md               every study in OUT, rebuilt from their results.json
    OUT/index.html             the same index and every report, plots inline, as one page

:func:`run_study` repairs what killed runs left (:func:`recover`), resumes from or resets the
checkpoints (:func:`prepare_checkpoints`), runs into the staging folder and, when the run
completes, swaps it in with two renames (:func:`staged`) and deletes the checkpoints.

What an unfinished run leaves:

- an exception or Ctrl-C: ``OUT/NAME`` untouched and the staging folder removed; the
  checkpoints stay when there are any (for ``--resume``).
- a kill while running: the staging folder too, which :func:`write_index` lists as interrupted
  and the next run of NAME discards.
- a kill between the two renames: no ``OUT/NAME`` but a complete ``.NAME.old-<pid>``, which the
  next run of NAME restores.

A leftover folder is a live run's (and left alone) while process <pid> is alive and started
before the folder last changed (start times from ``/proc`` where there is one, else the pid
alone), so a reused pid is not taken for a running study.

This module sits below :mod:`jaxmle.report`, which imports it; it imports the report layer
only inside the functions that run an experiment or serialise its options.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from . import _checkpoint, _html
from ._errors import InputError
from ._io import _fsync_dir, atomic_write_text

if TYPE_CHECKING:
    from .report import Context

__all__ = [
    "Interrupted",
    "OptionError",
    "ResumeError",
    "check_resume",
    "interrupted_runs",
    "prepare_checkpoints",
    "recover",
    "run_settings",
    "run_study",
    "settings_difference",
    "staged",
    "studies",
    "validate_options",
    "write_index",
]

# ------------------------------------------------------------------------------------------
# Output folders: a run writes into a staging folder that replaces OUT/NAME only when it
# completes, so a failed or killed run leaves the previous results whole.

_STAGING, _OLD, _SETTINGS = ".staging-", ".old-", "settings.json"
_SLACK = 2.0  # seconds of doubt in a process start time (see _writer_alive)


class Interrupted(NamedTuple):
    """A staging folder left by a run that did not finish.

    Attributes:
        name: the experiment.
        path: the staging folder (``OUT/.NAME.staging-PID``).
        pid: the process that wrote it.
        when: UTC time of its last write (about when the run stopped).
        running: the process that wrote it still runs (a run in progress, not a dead one;
            a live process with a reused pid does not count).
    """

    name: str
    path: pathlib.Path
    pid: int
    when: str
    running: bool


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    except OSError:  # pragma: no cover - platforms without signal 0
        return False
    return True


def _started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None where /proc cannot say."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in
                    pathlib.Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))  # fmt: skip
        ticks = int(stat.rpartition(")")[2].split()[19])  # field 22, starttime
        start = boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return start if start <= time.time() + _SLACK else None  # a nonsense clock: unknown


def _last_change(folder: pathlib.Path) -> float:
    """The last write in ``folder`` or to it (its ctime: the swap's rename sets it)."""
    return max(folder.stat().st_ctime, _last_write(folder))


def _writer_alive(pid: int, folder: pathlib.Path) -> bool:
    """Whether process ``pid``, which named ``folder``, is still running.

    A live process that started after the folder last changed cannot have written it: its
    pid was reused. Start times are seconds from ``/proc/stat``'s whole-second boot time, so
    a process started within :data:`_SLACK` seconds after the change counts as the writer.
    """
    if not _pid_alive(pid):
        return False
    started = _started(pid)
    return started is None or started <= _last_change(folder) + _SLACK


def _leftovers(out: pathlib.Path, kind: str) -> list[tuple[str, pathlib.Path, int]]:
    """``(name, folder, pid)`` for each ``OUT/.NAME<kind>PID`` folder."""
    found = []
    for p in sorted(out.glob(f".*{kind}*")) if out.is_dir() else []:
        name, _, pid = p.name[1:].rpartition(kind)
        if p.is_dir() and name and pid.isdigit():
            found.append((name, p, int(pid)))
    return found


def _utc(timestamp: float) -> str:
    return _dt.datetime.fromtimestamp(timestamp, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _last_write(folder: pathlib.Path) -> float:
    times = [folder.stat().st_mtime]
    for root, _, files in os.walk(folder):
        times += [os.stat(os.path.join(root, f)).st_mtime for f in files]
    return max(times)


def interrupted_runs(out: pathlib.Path, name: str | None = None) -> list[Interrupted]:
    """The staging folders under ``out`` (of experiment ``name``, or all).

    Args:
        out: the results folder.
        name: one experiment, or None for all.

    Returns:
        One :class:`Interrupted` per staging folder, dead runs and live ones.

    Example:
        >>> import tempfile
        >>> interrupted_runs(tempfile.mkdtemp())
        []
    """
    return [Interrupted(n, p, pid, _utc(_last_write(p)), _writer_alive(pid, p))
            for n, p, pid in _leftovers(pathlib.Path(out), _STAGING)
            if name is None or n == name]  # fmt: skip


def recover(target: pathlib.Path) -> list[str]:
    """Repairs ``target`` (``OUT/NAME``) after killed runs; returns what it did, as lines.

    A kill between the two renames of a swap leaves ``OUT/NAME`` missing and the complete
    previous folder as ``.NAME.old-PID``: it is restored. Staging folders of dead runs are
    reported and removed. Folders of live processes are left alone.

    Args:
        target: the experiment's output folder.

    Returns:
        One line per repair.

    Example:
        >>> import tempfile
        >>> recover(pathlib.Path(tempfile.mkdtemp()) / "study")
        []
    """
    target = pathlib.Path(target)
    out, name, notes = target.parent, target.name, []
    olds = [p for n, p, pid in _leftovers(out, _OLD) if n == name and not _writer_alive(pid, p)]
    if olds and not target.exists():
        os.rename(max(olds, key=_last_write), target)
        notes.append(f"restored {target} (a previous run was killed while swapping it in)")
    for p in olds:
        shutil.rmtree(p, ignore_errors=True)
    for run in interrupted_runs(out, name):
        if not run.running:
            notes.append(f"a previous run of {name} was interrupted at {run.when}; its partial "
                         "output was discarded")  # fmt: skip
            shutil.rmtree(run.path, ignore_errors=True)
    return notes


@contextlib.contextmanager
def staged(target: str | os.PathLike) -> Iterator[pathlib.Path]:
    """A staging folder beside ``target`` that replaces it when the block completes.

    The block writes into ``OUT/.NAME.staging-PID``. On success the old ``OUT/NAME`` is
    renamed to ``OUT/.NAME.old-PID``, the staging folder to ``OUT/NAME``, and the old one is
    deleted (:func:`recover` finishes the job if a kill lands between the renames). On an
    exception or Ctrl-C the staging folder is removed and ``target`` is untouched; after a
    kill it stays behind for :func:`recover` and the index to report.

    Args:
        target: the folder to replace (``OUT/NAME``).

    Yields:
        The (empty) staging folder.

    Example:
        >>> import tempfile
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "study"
        >>> with staged(target) as tmp:
        ...     _ = (tmp / "a.txt").write_text("new")
        >>> (target / "a.txt").read_text()
        'new'
    """
    target = pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}{_STAGING}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = target.parent / f".{target.name}{_OLD}{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.rename(target, old)
    os.rename(staging, target)
    _fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# The index: OUT/index.md and OUT/index.html, rebuilt from the results.json files on disk.


def _read_json(path: pathlib.Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _index_row(name: str, res: dict) -> str:
    env = res.get("environment") or {}
    opts = ", ".join(f"{k}={v}" for k, v in (res.get("options") or {}).items()) or "defaults"
    wall = res.get("wall_s")
    cells = [name, res.get("title", ""), "quick" if res.get("quick") else "full",
             str(env.get("seed", "?")), env.get("dtype", "?"), env.get("utc", "?"),
             env.get("jaxmle", "?"), f"{wall:.1f}" if isinstance(wall, int | float) else "?",
             opts, f"[{name}/report.md]({name}/report.md)"]  # fmt: skip
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def studies(out: str | os.PathLike) -> dict[str, dict]:
    """The studies under ``out``: every ``OUT/NAME/results.json`` that can be read.

    Args:
        out: the results folder.

    Returns:
        ``NAME -> results.json contents``, by name.

    Example:
        >>> import tempfile
        >>> studies(tempfile.mkdtemp())
        {}
    """
    found = {}
    for path in sorted(pathlib.Path(out).glob("*/results.json")):
        if not path.parent.name.startswith(".") and (res := _read_json(path)) is not None:
            found[path.parent.name] = res
    return found


def _status_line(res: dict) -> str:
    """One study's run settings in words, for the top of its section in ``index.html``."""
    env = res.get("environment") or {}
    wall = res.get("wall_s")
    parts = ["quick run" if res.get("quick") else "full run", f"seed {env.get('seed', '?')}",
             env.get("dtype", "?"), f"{wall:.1f} s" if isinstance(wall, int | float) else None,
             f"finished {env['utc']}" if env.get("utc") else None,
             f"jaxmle {env['jaxmle']}" if env.get("jaxmle") else None]  # fmt: skip
    return " · ".join(p for p in parts if p)


def _unfinished_line(r: Interrupted, listed: bool) -> str:
    if r.running:
        return f"{r.name}: a run is in progress (pid {r.pid})."
    return (f"a previous run of {r.name} was interrupted at {r.when}; its partial output "
            f"(`{r.path.name}`) is discarded by the next run of {r.name}"
            + ("; the results listed above are from before it." if listed else "."))  # fmt: skip


def write_index(out: str | os.PathLike, order: Sequence[str] = ()) -> pathlib.Path:
    """Rewrites ``OUT/index.md`` and ``OUT/index.html`` from what is on disk (atomically).

    ``index.md`` lists every study folder with a ``results.json``, each with its own settings
    (quick or full, seed, dtype, date, jaxmle version, wall time, options), then any staging
    folder of an interrupted (or running) run. ``index.html`` is the same index followed by
    every study's report, plots inline, as one self-contained page (:mod:`jaxmle._html`).

    Args:
        out: the results folder.
        order: experiment names in the order to list them (others follow by name).

    Returns:
        The path of ``index.md`` (``index.html`` is beside it).

    Example:
        >>> import tempfile
        >>> write_index(tempfile.mkdtemp()).name
        'index.md'
    """
    out = pathlib.Path(out)
    found = studies(out)
    rank = {n: i for i, n in enumerate(order)}
    names = sorted(found, key=lambda n: (rank.get(n, len(rank)), n))
    lines = ["# jaxmle experiments", "",
             f"{len(names)} studies in this folder, each listed with the settings of its own "
             f"last completed run (rebuilt from their results.json, {_utc(time.time())}).", "",
             "| experiment | study | run | seed | dtype | date (UTC) | jaxmle | wall (s) | "
             "options | report |",
             "| --- | --- | --- | ---: | --- | --- | --- | ---: | --- | --- |"]  # fmt: skip
    lines += [_index_row(n, found[n]) for n in names]
    runs = interrupted_runs(out)
    if runs:
        lines += ["", "Unfinished runs:", ""]
    lines += [f"- {_unfinished_line(r, r.name in found)}" for r in runs]
    text = "\n".join(lines) + "\n"
    path = atomic_write_text(out / "index.md", text)
    warnings: dict[str, list[str]] = {}
    for r in runs:
        if r.name in found:
            warnings.setdefault(r.name, []).append(_unfinished_line(r, False).replace("`", ""))
    page = _html.index_page(out, text, names, {n: [_status_line(found[n])] for n in names},
                            warnings)  # fmt: skip
    atomic_write_text(out / "index.html", page)
    return path


# ------------------------------------------------------------------------------------------
# Checkpoints: OUT/.checkpoints/NAME/, with the settings they were made with.


class ResumeError(Exception):
    """``--resume`` was asked for, but the checkpoints were made with other settings."""


def run_settings(name: str, options: Mapping[str, Any], *, seed: int, quick: bool,
                 x64: bool) -> dict[str, Any]:  # fmt: skip
    """The settings a run's checkpoints depend on (compared by :func:`prepare_checkpoints`).

    Args:
        name: the experiment.
        options: all its options (defaults filled in).
        seed: base seed.
        quick: quick mode.
        x64: float64 on.

    Returns:
        A JSON-able dict: experiment, options, seed, quick, x64 and the jaxmle version.

    Example:
        >>> run_settings("why-logs", {"n": 500}, seed=0, quick=True, x64=True)["options"]
        {'n': 500}
    """
    from .report import _dist_version, _finite_json, _jsonable  # report imports this module

    return {"experiment": name, "options": _finite_json(_jsonable(dict(options))),
            "seed": seed, "quick": bool(quick), "x64": bool(x64),
            "jaxmle": _dist_version("jaxmle"),
            # (A checkpoint layout change makes old folders start afresh, not fail.)
            "checkpoints": _checkpoint.MANIFEST_VERSION}  # fmt: skip


def settings_difference(stored: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """The first setting that differs, in words, or None when they match.

    Args:
        stored: the checkpoints' ``settings.json``.
        current: this run's :func:`run_settings`.

    Returns:
        e.g. ``"seed (0 in the checkpoints, 7 now)"``, or None.

    Example:
        >>> settings_difference({"seed": 0, "options": {}}, {"seed": 7, "options": {}})
        'seed (0 in the checkpoints, 7 now)'
    """
    for key in ("experiment", "jaxmle", "checkpoints", "quick", "x64", "seed"):
        if stored.get(key) != current.get(key):
            return f"{key} ({stored.get(key)} in the checkpoints, {current.get(key)} now)"
    old, new = stored.get("options") or {}, current.get("options") or {}
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            flag = "--" + key.replace("_", "-")
            return f"option {flag} ({old.get(key)} in the checkpoints, {new.get(key)} now)"
    return None


def _has_checkpoints(folder: pathlib.Path) -> bool:
    return folder.is_dir() and any(p.name != _SETTINGS for p in folder.iterdir())


def check_resume(folder: pathlib.Path, settings: Mapping[str, Any],
                 resume: bool | None) -> str | None:  # fmt: skip
    """Whether a run may resume from ``folder``, without changing anything.

    Args:
        folder: ``OUT/.checkpoints/NAME``.
        settings: this run's :func:`run_settings`.
        resume: True (``--resume``: resume or fail), False (``--no-resume``: start over),
            None (resume when the settings match, else start over).

    Returns:
        The difference in words when there are checkpoints made with other settings (None
        when they match or there is nothing to compare).

    Raises:
        ResumeError: ``resume`` is True and the settings differ (or cannot be read).

    Example:
        >>> check_resume(pathlib.Path("no/such/folder"), {"experiment": "x"}, True) is None
        True
    """
    if resume is False or not _has_checkpoints(folder):
        return None
    stored = _read_json(folder / _SETTINGS)
    diff = ("settings (their settings.json is missing or unreadable)" if stored is None
            else settings_difference(stored, settings))  # fmt: skip
    if diff and resume:
        raise ResumeError(f"cannot resume {settings['experiment']}: its checkpoints in "
                          f"{folder} differ in {diff}; rerun without --resume (or with "
                          "--no-resume) to start over")  # fmt: skip
    return diff


def prepare_checkpoints(folder: pathlib.Path, settings: Mapping[str, Any],
                        resume: bool | None) -> str | None:  # fmt: skip
    """Resumes from ``folder`` or clears it for a fresh start, per :func:`check_resume`.

    A fresh start writes this run's settings to ``folder/settings.json``; a resume keeps the
    stored file (its date is the checkpoints' date).

    Args:
        folder: ``OUT/.checkpoints/NAME``.
        settings: this run's :func:`run_settings`.
        resume: see :func:`check_resume`.

    Returns:
        A line to print (resuming, or why the checkpoints were discarded), or None.

    Raises:
        ResumeError: as :func:`check_resume`.

    Example:
        >>> import tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / ".checkpoints" / "x"
        >>> prepare_checkpoints(folder, {"experiment": "x"}, None) is None
        True
        >>> (folder / "settings.json").exists()
        True
    """
    name = settings["experiment"]
    diff = check_resume(folder, settings, resume)
    has = _has_checkpoints(folder)
    if has and resume is not False and diff is None:
        when = (_read_json(folder / _SETTINGS) or {}).get("utc", "?")
        return f"resuming {name} from its checkpoints ({when})"
    note = (f"discarding the checkpoints of {name}: they differ in {diff}" if diff else
            f"discarding the checkpoints of {name} (--no-resume)" if has else
            f"no checkpoints of {name} to resume; starting afresh" if resume else None)  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    atomic_write_text(folder / _SETTINGS, json.dumps(
        {**settings, "utc": _utc(time.time())}, indent=2) + "\n")  # fmt: skip
    return note


def _remove_checkpoints(folder: pathlib.Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):  # OUT/.checkpoints itself, once empty
        folder.parent.rmdir()


# ------------------------------------------------------------------------------------------
# Option values: an experiment checks its own before anything runs.


class OptionError(InputError):
    """A value an experiment cannot run with; the ``jaxmle`` command reports it in one line.

    An experiment raises it from its ``check_options`` function (which :func:`validate_options`
    calls before anything runs, and ``run`` calls first); the command exits with status 2,
    as for any other bad command line.

    Args:
        option: the option's name in ``OPTIONS`` (``"steps"`` for ``--steps``).
        value: the value given.
        allowed: what is allowed, in words (``"an integer >= 10"``).

    Example:
        >>> str(OptionError("steps", -5, "an integer >= 10"))
        'invalid value for --steps: -5 (allowed: an integer >= 10)'
    """

    def __init__(self, option: str, value: Any, allowed: str) -> None:
        super().__init__(option, value, allowed)  # (picklable: args are the constructor's)
        self.option, self.value, self.allowed = option, value, allowed

    @property
    def flag(self) -> str:
        """The command-line flag, ``--steps``."""
        return "--" + self.option.replace("_", "-")

    def __str__(self) -> str:
        return f"invalid value for {self.flag}: {self.value!r} (allowed: {self.allowed})"


def validate_options(module: Any, options: Mapping[str, Any] | None = None) -> None:
    """Checks an experiment's option values with its ``check_options`` (when it has one).

    ``check_options(**options)`` takes the same keywords as ``run`` (defaults filled in; None
    stands for a default that depends on ``--quick``) and raises :class:`OptionError`.

    Args:
        module: the loaded experiment script.
        options: values for its options (missing ones take their defaults).

    Raises:
        OptionError: a value the experiment cannot run with.

    Example:
        >>> import types
        >>> validate_options(types.SimpleNamespace(OPTIONS=[]), {})
    """
    check = getattr(module, "check_options", None)
    if check is not None:
        check(**_all_options(module, options))


# ------------------------------------------------------------------------------------------
# Running one study into its folder (shared by the CLI and the scripts' ``__main__``).


def _all_options(module: Any, options: Mapping[str, Any] | None) -> dict[str, Any]:
    opts = {o.name: o.default for o in getattr(module, "OPTIONS", [])}
    opts.update(options or {})
    return opts


def _say_kept(ctx: Context, target: pathlib.Path, err: BaseException) -> None:
    how = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
    kept = (f"previous results in {target} kept" if (target / "results.json").exists()
            else f"no previous results in {target}")  # fmt: skip
    # Ctrl-C is interactive (stderr); a failure's own error line is the one on stderr.
    print(f"jaxmle: {ctx.name} {how}; {kept}; partial output removed",
          file=sys.stderr if how == "interrupted" else sys.stdout, flush=True)  # fmt: skip


def _run_throwaway(module: Any, ctx: Context, opts: dict) -> dict:
    """A secondary process's run: same computation, output into a deleted temp folder."""
    from .report import run_experiment  # report imports this module

    target, ctx.out = ctx.out, pathlib.Path(tempfile.mkdtemp(prefix=f"jaxmle-{ctx.name}-"))
    ctx.checkpoint_dir = target.parent / ".checkpoints" / ctx.name
    try:
        return run_experiment(module, ctx, opts)
    finally:
        shutil.rmtree(ctx.out, ignore_errors=True)
        ctx.out = target


def run_study(module: Any, ctx: Context, options: Mapping[str, Any] | None = None, *,
              resume: bool | None = None, write: bool = True,
              say: Callable[[str], None] = print) -> dict:  # fmt: skip
    """Runs an experiment into ``ctx.out`` (``OUT/NAME``) safely, with checkpoints.

    Repairs what killed runs left (:func:`recover`), resumes or resets the checkpoints
    (:func:`prepare_checkpoints`), runs in a staging folder that replaces ``ctx.out`` only
    when the run completes (:func:`staged`), then deletes the checkpoints. A failed or
    interrupted run leaves the previous ``ctx.out`` whole and says so in one line.

    Args:
        module: the loaded experiment script.
        ctx: the run's context; ``ctx.out`` is the final folder.
        options: values for the experiment's options (missing ones take their defaults).
        resume: see :func:`check_resume`.
        write: False in the secondary processes of a multi-process run: they compute
            (collectives need every process) but write nothing under ``OUT``.
        say: prints a status line.

    Returns:
        What :func:`run_experiment` returns.

    Raises:
        OptionError: an option value the experiment cannot run with (checked first, before
            anything on disk changes).
        ResumeError: ``resume`` is True and the checkpoints' settings differ.

    Example:
        >>> from jaxmle import cli, report  # doctest: +SKIP
        >>> ctx = report.Context(out=pathlib.Path("results/why-logs"), quick=True,
        ...                      name="why-logs")  # doctest: +SKIP
        >>> run_study(cli.load("why-logs"), ctx)["wall_s"] > 0  # doctest: +SKIP
        True
    """
    from .report import run_experiment  # report imports this module

    opts = _all_options(module, options)
    validate_options(module, opts)
    if not write:
        return _run_throwaway(module, ctx, opts)
    target, folder = ctx.out, ctx.out.parent / ".checkpoints" / ctx.name
    for line in recover(target):
        say(line)
    settings = run_settings(ctx.name, opts, seed=ctx.seed, quick=ctx.quick, x64=ctx.x64)
    if (note := prepare_checkpoints(folder, settings, resume)) is not None:
        say(note)
    ctx.checkpoint_dir = folder
    previous = _read_json(target / "results.json") or {}
    try:
        with staged(target) as ctx.out:
            results = run_experiment(module, ctx, opts)
            if ctx.quick and previous.get("quick") is False:
                when = (previous.get("environment") or {}).get("utc", "?")
                say(f"replacing the full run of {ctx.name} ({when}) by a quick one")
    except BaseException as err:
        _say_kept(ctx, target, err)
        if not _has_checkpoints(folder):  # kept only when there is something to resume
            _remove_checkpoints(folder)
        raise
    finally:
        ctx.out = target
    _remove_checkpoints(folder)
    return results
