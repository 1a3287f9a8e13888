"""The ``jaxmle`` command: list and run the experiments (one per source notebook).

Usage::

    jaxmle list
    jaxmle run NAME [NAME ...] | all  [--out DIR] [--quick] [--seed N] [--x64/--no-x64]
                                      [--plots/--no-plots] [--progress/--no-progress]
                                      [--resume/--no-resume] [--jobs N] [--processes N]
                                      [--compilation-cache/--no-compilation-cache]
                                      [experiment options, e.g. --steps 500]
    jaxmle run NAME --help            # the experiment's own options

Where the experiments live: each study is a readable script in the repository's
``experiments/`` folder that uses only the public API and runs on its own
(``python experiments/NAME.py``). The wheel carries a copy of that folder as package data
(``jaxmle/_experiments``, hatch ``force-include``); an editable install or a source checkout
uses the folder itself. ``JAXMLE_EXPERIMENTS`` overrides both. The command finds a script by
its file name (``gradient_ascent.py`` is ``gradient-ascent``) without executing anything
(its docstring and ``ORDER`` are read with :mod:`ast`), and loads only the scripts it runs.
The library never imports them: only this command, the top layer, does
(:mod:`jaxmle._cli_experiments` finds and loads them).

Each run is staged (:func:`jaxmle.report.run_study`): it writes into ``OUT/.NAME.staging-PID``,
which replaces ``OUT/NAME`` only when the study completes, so a failed, interrupted or killed
run leaves the previous results whole; ``OUT/index.md`` and ``OUT/index.html`` (the same index
followed by every study's report, plots inline, as one self-contained page) are then rebuilt
from every study on disk. Long computations checkpoint into ``OUT/.checkpoints/NAME`` and a
rerun with the same settings resumes from them. Several studies run ``--jobs`` at a time
(default: one per CPU core): this process and ``N - 1`` spawned workers (each imports JAX
once) take the next study from one queue, the longest (by the last run's time) first.
``--processes N`` runs the command as N localhost processes
(:func:`jaxmle.distributed.launch`); only process 0 writes under ``OUT``.

Compiled XLA programs are kept on disk (JAX's persistent compilation cache, turned on with
:func:`jaxmle.enable_compilation_cache` before anything is computed), so a rerun skips most
of the compiling. The folder is ``$JAXMLE_CACHE_DIR``, by default ``~/.cache/jaxmle/xla``;
``--no-compilation-cache`` or ``JAXMLE_NO_COMPILATION_CACHE=1`` turns it off.

Errors in the command line (unknown experiment or option, bad value) print one line on stderr
that names the option, the value and what is allowed (with a "did you mean" for a misspelt
experiment or option), and exit with status 2, before anything runs: argparse checks the
types, each experiment's ``check_options`` the values (:class:`jaxmle.report.OptionError`). A
failing experiment prints one line and the command exits with 1 (``--traceback`` shows the
full traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import re
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, NamedTuple, NoReturn

from . import _cache
from ._cli_experiments import (
    CLIError,
    ExperimentInfo,
    _did_you_mean,
    _unknown_experiment,
    discover,
    experiments_dir,
    load,
)

__all__ = ["ExperimentInfo", "discover", "experiments_dir", "load", "main"]

_SEED_MAX = 2**32 - 1  # --seed: jax.random.key and numpy's default_rng both take 0..2^32 - 1
_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "a string"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line (no usage block).

    Abbreviations are off: ``--n`` must not be taken for ``--no-x64`` before the experiment's
    own options (``--n``) are known.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Raises the message as a :class:`CLIError`, reworded to name value and rule."""
        m = re.fullmatch(r"argument (?P<opt>[^:]+): invalid (?P<type>\w+) value: (?P<v>.*)",
                         message)  # fmt: skip
        if m:  # a value of the wrong type: "--steps: invalid int value: 'x'"
            message = (f"invalid value for {m['opt'].split('/')[0]}: {m['v']} (allowed: "
                       f"{_TYPE_WORDS.get(m['type'], m['type'])})")  # fmt: skip
        m = re.fullmatch(r"argument (?P<opt>[^:]+): invalid choice: (?P<v>'[^']*')"
                         r" \(choose from (?P<choices>.*)\)", message)  # fmt: skip
        if m:  # "jaxmle lst"
            choices = re.findall(r"'([^']*)'", m["choices"]) or m["choices"].split(", ")
            what = "command" if m["opt"].startswith("{") else f"value for {m['opt']}"
            message = (f"unknown {what} {m['v']}{_did_you_mean(m['v'].strip(chr(39)), choices)}"
                       f" (choose from: {', '.join(choices)})")  # fmt: skip
        raise CLIError(f"{message} (see '{self.prog} --help')")

    def flags(self) -> list[str]:
        """Every option string the parser knows (``--steps``, ``--no-x64``, ...)."""
        return [f for a in self._actions for f in a.option_strings if f.startswith("--")]


def _base_parser() -> tuple[_Parser, _Parser]:
    from .report import add_common_arguments

    parser = _Parser(prog="jaxmle", description="jaxmle: experiments that reproduce the studies "
                     "of the source notebooks (maximum-likelihood / MAP estimation in "
                     "JAX).")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="{list,run}", parser_class=_Parser)
    sub.required = True
    sub.add_parser("list", help="list the experiments with one-line descriptions")
    run = sub.add_parser("run", help="run experiments and write their reports",
                         description="Run experiments; each writes OUT/NAME/report.md, JSON/CSV "
                         "and PNG plots, and OUT/index.md and OUT/index.html (every report on one "
                         "page) list them all. 'jaxmle run NAME --help' lists NAME's own options.",
                         add_help=False)  # fmt: skip
    run.add_argument("names", nargs="*", metavar="NAME",
                     help="experiment name(s) from 'jaxmle list', or all")  # fmt: skip
    run.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    run.add_argument("--traceback", action="store_true",
                     help="show the full traceback when an experiment fails")  # fmt: skip
    run.add_argument("--processes", type=int, default=1, metavar="N",
                     help="run as N localhost processes (jaxmle.distributed; "
                     "default: 1)")  # fmt: skip
    run.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="run up to N studies at once, each in a worker process (default: "
                     "$JAXMLE_JOBS, else one per CPU core; 1 runs them one after the "
                     "other)")  # fmt: skip
    add_common_arguments(run)
    return parser, run


def _cmd_list() -> int:
    exps = discover()
    width = max((len(n) for n in exps), default=4)
    for name, info in exps.items():
        print(f"{name:<{width}}  {info.summary}")
    print(f"\n{len(exps)} experiments in {experiments_dir()}; run one with 'jaxmle run NAME', "
          "all with 'jaxmle run all'.")  # fmt: skip
    return 0


def _experiment_parser(module: Any, run_parser: _Parser) -> _Parser:
    from .report import add_options

    p = _Parser(prog=f"jaxmle run {module.NAME}", parents=[run_parser], add_help=False,
                description=(module.__doc__ or "").strip(),
                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    if getattr(module, "OPTIONS", None):
        add_options(p.add_argument_group(f"options of {module.NAME}"), module.OPTIONS)
    return p


def _cmd_run(argv: Sequence[str], run_parser: _Parser) -> int:
    args, extra = run_parser.parse_known_args(argv)
    exps = discover()
    if args.help and not args.names:
        run_parser.print_help()
        return 0
    names = _select(list(args.names), exps)
    _check_common(args)
    rank = _start_worker()
    if args.quick:
        _quick_compile()
    pool = _early_pool(args, names, extra, rank)
    try:
        code = _run_command(argv, run_parser, args, extra, exps, names, rank, pool)
    except BaseException:
        if pool is not None:
            _stop_pool(pool)
        raise
    if pool is not None:  # (idle now: every study's files are on disk)
        _stop_pool(pool)
    return code


def _run_command(argv, run_parser, args, extra, exps, names, rank, pool) -> int:
    """``jaxmle run`` after the cheap checks: set-up, each study's checks, the runs."""
    import jax

    # float64 and the disk cache are the entry point's choice, made before any experiment
    # computes anything; main() called from Python (a notebook, the tests) leaves float64 as
    # it found it.
    x64_before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", bool(args.x64))
    try:
        return _run_configured(argv, run_parser, args, extra, exps, names, rank, pool)
    finally:
        jax.config.update("jax_enable_x64", x64_before)


def _run_configured(argv, run_parser, args, extra, exps, names, rank, pool) -> int:
    """``jaxmle run`` with float64 set: the disk cache, each study's checks, the runs."""
    _cache.enable_default(args.compilation_cache)
    modules = {n: load(n) for n in names}
    options = _options(names, modules, run_parser, argv, extra, args)
    if options is None:  # --help was printed
        return 0
    _check_values(names, modules, options)
    _check_resume(names, modules, options, args)
    if args.processes > 1 and rank is None:
        from . import distributed

        return distributed.launch([sys.executable, "-m", "jaxmle", "run", *argv],
                                  args.processes)  # fmt: skip
    code = _run_all(names, modules, options, exps, args, rank, pool)
    if rank is not None and code:
        from . import distributed

        # sys.exit would wait at JAX's shutdown barrier for workers that may never reach it.
        distributed.abort(code)
    return code


def _select(names: list[str], exps: dict[str, ExperimentInfo]) -> list[str]:
    """The experiments named on the command line (``all`` expanded), checked."""
    if not names:
        raise CLIError("give an experiment name or 'all' (see 'jaxmle list')")
    if "all" in names:
        if len(names) > 1:
            raise CLIError("'all' runs every experiment; give either 'all' or names")
        names = list(exps)
    for n in names:
        if n not in exps:
            raise _unknown_experiment(n, exps)
    if len(set(names)) != len(names):
        raise CLIError(f"experiment named twice: {names}")
    return names


def _check_common(args: argparse.Namespace) -> None:
    """The values of the options every run takes (their types argparse has checked)."""
    if args.processes < 1:
        raise CLIError(f"invalid value for --processes: {args.processes} (allowed: an integer "
                       ">= 1)")  # fmt: skip
    if args.jobs is not None and args.jobs < 1:
        raise CLIError(f"invalid value for --jobs: {args.jobs} (allowed: an integer >= 1)")
    if args.processes > 1 and (args.jobs or 1) > 1:
        raise CLIError("--jobs and --processes cannot both be above 1: the processes of "
                       "--processes N run the studies together, one at a time")  # fmt: skip
    if not 0 <= args.seed <= _SEED_MAX:
        raise CLIError(f"invalid value for --seed: {args.seed} (allowed: an integer from 0 to "
                       f"{_SEED_MAX})")  # fmt: skip
    out = pathlib.Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"invalid value for --out: {args.out!r} (allowed: a folder, or a path "
                       "to create one at; this is a file)")  # fmt: skip


def _check_values(names, modules, options) -> None:
    """Each experiment's own check of its option values, before any of them runs."""
    from ._runs import OptionError, validate_options

    for n in names:
        try:
            validate_options(modules[n], options[n])
        except OptionError as err:
            raise CLIError(f"{n}: {err}") from None


def _unrecognized(extra: Sequence[str], parser: _Parser, modules, names) -> CLIError:
    """``unrecognized arguments: --step 5; did you mean --steps?`` (or whose option it is)."""
    msg = f"unrecognized arguments: {' '.join(extra)}"
    flag = next((a.split("=")[0] for a in extra if a.startswith("--")), None)
    if flag is None:
        return CLIError(f"{msg} (see '{parser.prog} --help')")
    owners = [n for n, m in modules.items() if any(
        "--" + o.name.replace("_", "-") == flag for o in getattr(m, "OPTIONS", []))]  # fmt: skip
    if owners and len(names) > 1:
        return CLIError(f"{msg}; it belongs to {owners[0]}: run it alone ('jaxmle run "
                        f"{owners[0]} {flag} ...')")  # fmt: skip
    if owners:
        return CLIError(f"{msg}; {flag} is an option of {', '.join(owners)}, not of "
                        f"{names[0]} (see '{parser.prog} --help')")  # fmt: skip
    known = parser.flags() + [f"--{o.name.replace('_', '-')}" for m in modules.values()
                              for o in getattr(m, "OPTIONS", [])]  # fmt: skip
    return CLIError(f"{msg}{_did_you_mean(flag, known, flags=True)} (see '{parser.prog} "
                    "--help')")  # fmt: skip


def _all_modules() -> dict[str, Any]:
    """Every experiment's module (to say whose option an unknown flag is), where it loads."""
    out = {}
    for n in discover():
        try:
            out[n] = load(n)
        except Exception:  # only for a hint: a broken script gives none
            continue
    return out


def _start_worker() -> int | None:
    """In a worker of ``--processes N``: joins the others; returns its index (else None).

    It runs before anything touches JAX's backend, as :func:`jax.distributed.initialize`
    requires (:func:`jaxmle.distributed.process_index` does not start the backend either).
    """
    if not os.environ.get("JAXMLE_NUM_PROCESSES"):
        return None
    from . import distributed

    distributed.initialize()
    return distributed.process_index()


def _options(names, modules, run_parser, argv, extra, args) -> dict[str, dict] | None:
    """Each experiment's own option values (None when ``--help`` was printed instead)."""
    if len(names) == 1:
        p = _experiment_parser(modules[names[0]], run_parser)
        if args.help:
            p.print_help()
            return None
        full, extra = p.parse_known_args(argv)
        if extra:
            raise _unrecognized(extra, p, _all_modules(), names)
        own = {o.name for o in getattr(modules[names[0]], "OPTIONS", [])}
        return {names[0]: {k: v for k, v in vars(full).items() if k in own}}
    if args.help:
        run_parser.print_help()
        return None
    if extra:
        raise _unrecognized(extra, run_parser, modules, names)
    return {n: {} for n in names}


def _check_resume(names, modules, options, args) -> None:
    """With ``--resume``, fails (exit 2) before running anything if a study cannot resume."""
    from ._runs import ResumeError, _all_options, check_resume, run_settings

    out = pathlib.Path(args.out)
    for n in names:
        settings = run_settings(n, _all_options(modules[n], options[n]), seed=args.seed,
                                quick=args.quick, x64=args.x64)  # fmt: skip
        try:
            check_resume(out / ".checkpoints" / n, settings, args.resume)
        except ResumeError as err:
            raise CLIError(str(err)) from None


def _say(line: str) -> None:
    print(line, flush=True)


def _quiet(line: str) -> None:
    """The status lines of processes other than 0 (process 0 prints them once)."""


def _run_all(names, modules, options, exps, args, rank: int | None, pool=None) -> int:
    """Runs the studies (one after the other, or ``--jobs`` at once), then rebuilds the index.

    The last line says where the index went (``OUT/index.md`` and ``OUT/index.html``), with
    the count and total time when there were several studies. ``rank`` is the worker's process
    index under ``--processes N``, None in a plain run.
    """
    from .report import write_index

    say = _say if not rank else _quiet
    out = pathlib.Path(args.out)
    t_all = time.perf_counter()
    try:
        if pool is not None:
            failed = _run_parallel(names, modules, options, exps, args, pool, say)
        else:
            failed = _run_in_turn(names, modules, options, exps, args, rank, say)
    except KeyboardInterrupt:
        return 130
    finally:
        if not rank:
            write_index(out, list(exps))
    done = (f": {len(names) - len(failed)}/{len(names)} experiments in "
            f"{time.perf_counter() - t_all:.1f} s" if len(names) > 1 else "")  # fmt: skip
    say(f"wrote {out / 'index.md'} and {out / 'index.html'}{done}")
    return 1 if failed else 0


def _jobs(args: argparse.Namespace, n: int, rank: int | None) -> int:
    """How many studies run at once: ``--jobs``, ``$JAXMLE_JOBS``, else one per core."""
    if n < 2 or rank is not None or args.processes > 1:
        return 1
    jobs = args.jobs
    if jobs is None:
        env = os.environ.get("JAXMLE_JOBS", "")
        jobs = int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)
    return max(1, min(jobs, n))


def _run_in_turn(names, modules, options, exps, args, rank, say) -> list[str]:
    """The studies one after the other in this process; the names of those that failed."""
    if args.plots:
        _warm_up_plots()
    failed = []
    for i, name in enumerate(names, 1):
        say(f"[{i}/{len(names)}] {name}: {exps[name].summary}")
        if not _run_one(name, modules[name], options[name], args, rank, say):
            failed.append(name)
    return failed


class _Pool(NamedTuple):
    """The ``--jobs`` worker processes (``jobs - 1``: this process runs studies too)."""

    executor: Any
    jobs: int


def _early_pool(args: argparse.Namespace, names: list[str], extra: Sequence[str],
                rank: int | None) -> _Pool | None:  # fmt: skip
    """Starts the ``--jobs`` workers before this process loads the experiments (None: none).

    A worker's start is mostly its import of JAX (1.3-1.7 s on this 2-core machine): the
    workers import it while this process loads the experiments and runs the first study
    itself, one import fewer than a pool of ``jobs`` workers that this process waits for. Not
    for ``--help`` or a command line that fails its checks (``extra`` arguments are an error
    with several studies).
    """
    jobs = _jobs(args, len(names), rank)
    if jobs < 2 or args.help or extra:
        return None
    import concurrent.futures as cf
    import multiprocessing

    ex = cf.ProcessPoolExecutor(jobs - 1, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_job_init,
                                initargs=(bool(args.x64), args.compilation_cache,
                                          bool(args.plots)))  # fmt: skip
    for _ in range(jobs - 1):  # (an executor spawns its processes on demand)
        ex.submit(_ready)
    return _Pool(ex, jobs)


def _ready() -> None:
    """A no-op task: submitting one makes the executor spawn a worker now."""


def _stop_pool(pool: _Pool) -> None:
    """Ends the workers now, idle or not.

    At the end of a run they are idle; at an early exit (a failed check, an interrupt) one may
    still be importing JAX or running a study, which is not waited for.
    """
    ex = pool.executor
    for proc in list((getattr(ex, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()
    # (Its queues' semaphores are released as the executor goes: the command's process ends
    # with os._exit, and a semaphore left registered makes multiprocessing's resource tracker
    # warn about a leak.)
    ex.shutdown(wait=True, cancel_futures=True)


def _run_parallel(names, modules, options, exps, args, pool: _Pool, say) -> list[str]:
    """The studies ``pool.jobs`` at a time, longest first; the names of those that failed.

    Studies are independent and a quick run is mostly single-threaded compilation, so on a
    2-core machine two at a time take about half the time. This process and each worker take
    the next study from one queue when they are done; a study's lines are printed when it
    ends. The previous run's times (``OUT/NAME/results.json``) order the queue, longest first.
    """
    import threading

    from ._runs import studies

    before = studies(args.out)
    queue = sorted(names, key=lambda n: -float((before.get(n) or {}).get("wall_s") or 1e9))
    child = argparse.Namespace(**{**vars(args), "progress": False})  # (bars would interleave)
    lock = threading.Lock()
    failed: list[str] = []
    errors: list[BaseException] = []
    done = [0]

    def take() -> str | None:
        with lock:
            return queue.pop(0) if queue and not errors else None

    def report(name: str, ok: bool, lines: list[str]) -> None:
        with lock:
            done[0] += 1
            say(f"[{done[0]}/{len(names)}] {name}: {exps[name].summary}")
            for line in lines:
                say(line)
            if not ok:
                failed.append(name)

    def feed() -> None:  # one thread per worker process: submit, wait, report, repeat
        while (name := take()) is not None:
            try:
                ok, lines = pool.executor.submit(_job, name, options[name], child).result()
            except (CLIError, KeyboardInterrupt) as err:
                errors.append(err)
                return
            except Exception as err:  # the worker itself died (killed, out of memory)
                if errors:  # (ended by _stop_pool: this process is stopping)
                    return
                print(f"jaxmle: error: {name} failed: {type(err).__name__}: {err}",
                      file=sys.stderr)  # fmt: skip
                report(name, False, [])
                return  # (a broken pool takes no more: this process runs the rest)
            report(name, ok, lines)

    feeders = [threading.Thread(target=feed, name=f"jaxmle-job-{i}", daemon=True)
               for i in range(pool.jobs - 1)]  # fmt: skip
    for t in feeders:
        t.start()
    if args.plots:
        _warm_up_plots()
    try:
        while (name := take()) is not None:
            lines: list[str] = []
            ok = _run_one(name, modules[name], options[name], child, None, lines.append)
            report(name, ok, lines)
    except BaseException as err:
        errors.append(err)
        _stop_pool(pool)  # (the feeders' waits end with the workers)
        raise
    finally:
        for t in feeders:
            t.join(timeout=10)
    if errors:
        raise errors[0]
    return failed


def _job_init(x64: bool, cache: Any, plots: bool) -> None:
    """A ``--jobs`` worker's set-up: the parent's float64 and cache choices, the plot helper."""
    import jax

    jax.config.update("jax_enable_x64", x64)
    _cache.enable_default(cache)
    if plots:
        _warm_up_plots()


def _job(name: str, options: dict, args: argparse.Namespace) -> tuple[bool, list[str]]:
    """One study in a ``--jobs`` worker: whether it succeeded, and its status lines."""
    lines: list[str] = []
    return _run_one(name, load(name), options, args, None, lines.append), lines


def _warm_up_plots() -> None:
    """Imports what builds the figures in a thread, while the first study computes.

    ~0.5 s on a 2-core CPU, while the first study's compilation has released the GIL.
    """
    import threading

    def imports() -> None:
        with contextlib.suppress(ImportError):  # without matplotlib, the plots say so
            import matplotlib.backends.backend_agg
            import matplotlib.figure  # noqa: F401

    threading.Thread(target=imports, name="jaxmle-import-matplotlib", daemon=True).start()


def _run_one(name, module, options, args, rank: int | None, say) -> bool:
    """One study; a failure is one line on stderr (False) and never hides the others.

    In a worker of ``--processes N`` a failure ends the whole job instead: the other workers
    would wait for this one in the study's collectives.
    """
    import jaxmle

    from .report import Context, OptionError, ResumeError, run_study

    progress = (sys.stderr.isatty() if args.progress is None else args.progress) and not rank
    ctx = Context(out=pathlib.Path(args.out) / name, quick=args.quick, seed=args.seed,
                  plots=args.plots, progress=progress, name=name)  # fmt: skip
    try:
        res = run_study(module, ctx, options, resume=args.resume, write=not rank, say=say)
    except ResumeError as err:  # its settings changed since _check_resume
        raise CLIError(str(err)) from None
    except OptionError as err:  # a check the experiment could only make while running
        raise CLIError(f"{name}: {err}") from None
    except Exception as err:
        if args.traceback:
            traceback.print_exc()
        msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
        hint = (" (rerun with --no-resume to start over)" if isinstance(
            err, jaxmle.CheckpointMismatchError) else "" if args.traceback else
            " (rerun with --traceback for details)")  # fmt: skip
        who = f"process {rank}: " if rank else ""
        print(f"jaxmle: error: {who}{name} failed: {type(err).__name__}: {msg}{hint}",
              file=sys.stderr)  # fmt: skip
        if rank is not None:
            from . import distributed

            distributed.abort(1)
        return False
    say(f"      wrote {ctx.out / 'report.md'} ({res['wall_s']:.1f} s)")
    return True


_QUICK_FLAGS = {
    # XLA:CPU's MLIR fusion emitters compile each fusion through its own pipeline: turned
    # off, a quick run's programs (run once, for milliseconds) compile about 3× faster.
    "xla_cpu_use_fusion_emitters": "false",
    "xla_backend_optimization_level": "0",
}


def _xla_knows(flag: str) -> bool:
    """Whether this jaxlib's XLA defines ``flag`` (an unknown flag in XLA_FLAGS is fatal).

    Read from the flag names compiled into jaxlib's library, without starting a backend.
    """
    import mmap

    try:
        import jaxlib

        lib = pathlib.Path(jaxlib.__file__).parent / "libjax_common.so"
        with open(lib, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return mm.find(flag.encode() + b"\0") >= 0
    except (ImportError, OSError, ValueError):
        return flag == "xla_backend_optimization_level"  # a flag every XLA has


def _quick_compile() -> None:
    """In quick mode, compile for speed of compilation (:data:`_QUICK_FLAGS`).

    A quick run is dominated by compilation (dozens of small programs that each run for
    milliseconds): XLA's backend optimisation level 0 and the legacy (non-MLIR) CPU fusion
    emitters compile them several times faster. It only applies when the XLA backend has not
    started yet (a fresh ``jaxmle`` process), to the flags the user has not set, and to the
    flags this jaxlib knows. Full runs compile as usual.
    """
    if os.environ.get("JAXMLE_NO_QUICK_FLAGS"):  # the test suite: in-process runs must not
        return  # change how the rest of the process compiles
    flags = os.environ.get("XLA_FLAGS", "")
    try:
        from jax._src import xla_bridge

        started = xla_bridge.backends_are_initialized()
    except (ImportError, AttributeError):  # pragma: no cover - other jax versions
        return
    if started:
        return
    add = [f"--{k}={v}" for k, v in _QUICK_FLAGS.items() if k not in flags and _xla_knows(k)]
    if add:
        os.environ["XLA_FLAGS"] = " ".join([flags, *add]).strip()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxmle`` console script (and ``python -m jaxmle``).

    Args:
        argv: arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 when an experiment failed, 2 for a bad command line.
    """
    code = _main(list(sys.argv[1:] if argv is None else argv))
    # The process's own command (not a call from Python code), unless it is one process of
    # --processes N: those leave through JAX's shutdown barrier, which keeps the coordinator
    # up until every process is done.
    if argv is None and not os.environ.get("JAXMLE_NUM_PROCESSES"):
        _exit_now(code)
    return code


def _main(argv: list[str]) -> int:
    parser, run_parser = _base_parser()
    try:
        if argv and argv[0] == "run":
            return _cmd_run(argv[1:], run_parser)
        args = parser.parse_args(argv)
        if args.command == "list":
            return _cmd_list()
        raise CLIError(f"unknown command {args.command!r}")  # pragma: no cover
    except CLIError as err:
        print(f"jaxmle: error: {err}", file=sys.stderr)
        return 2


def _exit_now(code: int) -> NoReturn:
    """Ends the command's process without the interpreter's teardown.

    Tearing down a process that has loaded JAX (its backends, threads and compiled programs)
    took 1.4–2.6 s after the last line of a warm ``run all --quick`` on 2 busy cores. By then
    everything the command writes is on disk (each file written atomically, the compilation
    cache at compile time) and the ``--jobs`` workers are stopped, so it flushes its streams
    and logging and leaves.
    """
    import gc
    import logging

    gc.collect()  # finalizers of what is already garbage (a stopped pool's semaphores)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
