"""The ``jaxmle`` command: list and run the experiments (one per seed study).

Usage::

    jaxmle list
    jaxmle run NAME [NAME ...] | all  [--out DIR] [--quick] [--seed N] [--x64/--no-x64]
                                      [--plots/--no-plots] [--progress/--no-progress]
                                      [--resume/--no-resume] [--processes N]
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
The library never imports them: only this command, the top layer, does.

Each run is staged (:func:`jaxmle.report.run_study`): it writes into ``OUT/.NAME.staging-PID``,
which replaces ``OUT/NAME`` only when the study completes, so a failed, interrupted or killed
run leaves the previous results whole; ``OUT/index.md`` is then rebuilt from every study on
disk. Long computations checkpoint into ``OUT/.checkpoints/NAME`` and a rerun with the same
settings resumes from them. ``--processes N`` runs the command as N localhost processes
(:func:`jaxmle.distributed.launch`); only process 0 writes under ``OUT``.

Compiled XLA programs are kept on disk (JAX's persistent compilation cache, turned on with
:func:`jaxmle.enable_compilation_cache` before anything is computed), so a rerun skips most
of the compiling. The folder is ``$JAXMLE_CACHE_DIR``, by default ``~/.cache/jaxmle/xla``;
``--no-compilation-cache`` or ``JAXMLE_NO_COMPILATION_CACHE=1`` turns it off.

Errors in the command line (unknown experiment or option, bad value) print one line on stderr
and exit with status 2; a failing experiment prints one line and the command exits with 1
(``--traceback`` shows the full traceback).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import pathlib
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, NamedTuple, NoReturn

from . import _cache

__all__ = ["ExperimentInfo", "discover", "experiments_dir", "load", "main"]

_ENV = "JAXMLE_EXPERIMENTS"


class ExperimentInfo(NamedTuple):
    """An experiment script found on disk.

    Attributes:
        name: command-line name (file stem with ``_`` → ``-``).
        path: the script.
        summary: first line of its docstring.
        order: position in ``jaxmle list`` / ``run all`` (the script's ``ORDER``).
    """

    name: str
    path: pathlib.Path
    summary: str
    order: int


class CLIError(Exception):
    """A problem with the command line: reported as one line, exit status 2."""


def experiments_dir() -> pathlib.Path:
    """The folder holding the experiment scripts.

    Looked up in order: ``$JAXMLE_EXPERIMENTS``; ``jaxmle/_experiments`` inside the installed
    package (a wheel install); the ``experiments/`` folder of the source tree this module
    belongs to (an editable install or a checkout).

    Returns:
        The folder.

    Raises:
        CLIError: when none of them exists.
    """
    env = os.environ.get(_ENV)
    if env:
        p = pathlib.Path(env)
        if not p.is_dir():
            raise CLIError(f"${_ENV}={env} is not a folder")
        return p
    here = pathlib.Path(__file__).resolve().parent
    for p in (here / "_experiments", here.parents[1] / "experiments"):
        if p.is_dir():
            return p
    raise CLIError(
        "cannot find the experiment scripts: not in the installed package (jaxmle/_experiments) "
        f"nor in a source checkout; set ${_ENV} to the repository's experiments/ folder"
    )


def _info(path: pathlib.Path) -> ExperimentInfo | None:
    """Reads an experiment's name, summary and order without executing it."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return None
    has_run = any(isinstance(n, ast.FunctionDef) and n.name == "run" for n in tree.body)
    if not has_run:
        return None
    doc = (ast.get_docstring(tree) or "").strip().splitlines()
    order = 1000
    for n in tree.body:
        if not (isinstance(n, ast.Assign) and len(n.targets) == 1):
            continue
        target, value = n.targets[0], n.value
        if isinstance(target, ast.Name) and target.id == "ORDER" and isinstance(
            value, ast.Constant
        ) and isinstance(value.value, int):
            order = value.value
    return ExperimentInfo(path.stem.replace("_", "-"), path, doc[0] if doc else "", order)


def discover(folder: pathlib.Path | None = None) -> dict[str, ExperimentInfo]:
    """The experiments in ``folder`` (default :func:`experiments_dir`), in run order.

    A script is an experiment when it defines a top-level ``run`` function; files starting
    with ``_`` are skipped.

    Args:
        folder: where to look.

    Returns:
        ``name -> ExperimentInfo``, ordered by ``ORDER`` then name.
    """
    folder = folder or experiments_dir()
    found = [i for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")
             if (i := _info(p)) is not None]  # fmt: skip
    found.sort(key=lambda i: (i.order, i.name))
    return {i.name: i for i in found}


def load(name: str, folder: pathlib.Path | None = None) -> Any:
    """Loads (executes) one experiment script as a module.

    Args:
        name: its command-line name (see :func:`discover`).
        folder: where to look (default :func:`experiments_dir`).

    Returns:
        The module, with ``run``, ``OPTIONS`` and ``ORDER``.

    Raises:
        CLIError: for an unknown name.
    """
    exps = discover(folder)
    if name not in exps:
        raise CLIError(f"unknown experiment {name!r}; choose from: {', '.join(exps)} (or all)")
    info = exps[name]
    mod_name = "jaxmle_experiment_" + info.path.stem
    if mod_name in sys.modules and getattr(sys.modules[mod_name], "__file__", None) == str(
        info.path
    ):
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, info.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    module.NAME = name
    return module


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line (no usage block).

    Abbreviations are off: ``--n`` must not be taken for ``--no-x64`` before the experiment's
    own options (``--n``) are known.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _base_parser() -> tuple[_Parser, _Parser]:
    from .report import add_common_arguments

    parser = _Parser(prog="jaxmle", description="jaxmle: experiments that reproduce the seed "
                     "studies (maximum-likelihood / MAP estimation in JAX).")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="{list,run}", parser_class=_Parser)
    sub.required = True
    sub.add_parser("list", help="list the experiments with one-line descriptions")
    run = sub.add_parser("run", help="run experiments and write their reports",
                         description="Run experiments; each writes OUT/NAME/report.md, JSON/CSV "
                         "and PNG plots. 'jaxmle run NAME --help' lists NAME's own options.",
                         add_help=False)  # fmt: skip
    run.add_argument("names", nargs="*", metavar="NAME",
                     help="experiment name(s) from 'jaxmle list', or all")  # fmt: skip
    run.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    run.add_argument("--traceback", action="store_true",
                     help="show the full traceback when an experiment fails")  # fmt: skip
    run.add_argument("--processes", type=int, default=1, metavar="N",
                     help="run as N localhost processes (jaxmle.distributed; default: 1)")
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
    if args.processes < 1:
        raise CLIError(f"--processes must be at least 1, got {args.processes}")
    rank = _start_worker()
    import jax

    # float64 and the disk cache are the entry point's choice, made before any experiment
    # computes anything.
    jax.config.update("jax_enable_x64", bool(args.x64))
    _cache.enable_default(args.compilation_cache)
    if args.quick:
        _quick_compile()
    modules = {n: load(n) for n in names}
    options = _options(names, modules, run_parser, argv, extra, args)
    if options is None:  # --help was printed
        return 0
    _check_resume(names, modules, options, args)
    if args.processes > 1 and rank is None:
        from . import distributed

        return distributed.launch([sys.executable, "-m", "jaxmle", "run", *argv],
                                  args.processes)  # fmt: skip
    code = _run_all(names, modules, options, exps, args, rank)
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
            raise CLIError(f"unknown experiment {n!r}; choose from: {', '.join(exps)} (or all)")
    if len(set(names)) != len(names):
        raise CLIError(f"experiment named twice: {names}")
    return names


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
        full = vars(p.parse_args(argv))
        own = {o.name for o in getattr(modules[names[0]], "OPTIONS", [])}
        return {names[0]: {k: v for k, v in full.items() if k in own}}
    if args.help:
        run_parser.print_help()
        return None
    if extra:
        owners = [n for n, m in modules.items() if any(
            "--" + o.name.replace("_", "-") == extra[0].split("=")[0]
            for o in getattr(m, "OPTIONS", []))]  # fmt: skip
        hint = (f"; it belongs to {owners[0]}: run it alone ('jaxmle run {owners[0]} "
                f"{extra[0]} ...')" if owners else "")  # fmt: skip
        raise CLIError(f"unrecognized arguments: {' '.join(extra)}{hint}")
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


def _run_all(names, modules, options, exps, args, rank: int | None) -> int:
    """Runs the studies one after the other, then rebuilds the index (process 0).

    ``rank`` is the worker's process index under ``--processes N``, None in a plain run.
    """
    from .report import write_index

    say = _say if not rank else _quiet
    out = pathlib.Path(args.out)
    failed: list[str] = []
    t_all = time.perf_counter()
    try:
        for i, name in enumerate(names, 1):
            say(f"[{i}/{len(names)}] {name}: {exps[name].summary}")
            if not _run_one(name, modules[name], options[name], args, rank, say):
                failed.append(name)
    except KeyboardInterrupt:
        return 130
    finally:
        if not rank:
            write_index(out, list(exps))
    if len(names) > 1:
        say(f"wrote {out / 'index.md'}: {len(names) - len(failed)}/{len(names)} experiments "
            f"in {time.perf_counter() - t_all:.1f} s")  # fmt: skip
    return 1 if failed else 0


def _run_one(name, module, options, args, rank: int | None, say) -> bool:
    """One study; a failure is one line on stderr (False) and never hides the others.

    In a worker of ``--processes N`` a failure ends the whole job instead: the other workers
    would wait for this one in the study's collectives.
    """
    import jaxmle

    from .report import Context, ResumeError, run_study

    progress = (sys.stderr.isatty() if args.progress is None else args.progress) and not rank
    ctx = Context(out=pathlib.Path(args.out) / name, quick=args.quick, seed=args.seed,
                  plots=args.plots, progress=progress, name=name)  # fmt: skip
    try:
        res = run_study(module, ctx, options, resume=args.resume, write=not rank, say=say)
    except ResumeError as err:  # its settings changed since _check_resume
        raise CLIError(str(err)) from None
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


def _quick_compile() -> None:
    """In quick mode, compile with XLA's backend optimisation level 0.

    A quick run is dominated by compilation (dozens of small programs that each run for
    milliseconds); level 0 compiles about 30% faster. It only applies when the XLA backend
    has not started yet (a fresh ``jaxmle`` process) and the user has not set the flag.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" in flags:
        return
    try:
        from jax._src import xla_bridge

        started = xla_bridge.backends_are_initialized()
    except (ImportError, AttributeError):  # pragma: no cover - other jax versions
        return
    if not started:
        os.environ["XLA_FLAGS"] = (flags + " --xla_backend_optimization_level=0").strip()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxmle`` console script (and ``python -m jaxmle``).

    Args:
        argv: arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 when an experiment failed, 2 for a bad command line.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
