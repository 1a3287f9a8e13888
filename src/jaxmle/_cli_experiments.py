"""The experiment scripts of the ``jaxmle`` command: where they are, what they are, loading one.

:func:`experiments_dir` finds the folder (``$JAXMLE_EXPERIMENTS``, the wheel's
``jaxmle/_experiments``, or a source tree's ``experiments/``); :func:`discover` lists its
scripts without executing them (each one's docstring and ``ORDER`` read with :mod:`ast`);
:func:`load` executes one as a module. :mod:`jaxmle.cli` re-exports them. The command's
one-line error, :class:`CLIError` (with its "did you mean" hint), is defined here, as these
raise it for a missing folder or an unknown name.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import os
import pathlib
import sys
from typing import Any, NamedTuple

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


def _did_you_mean(given: str, choices, *, flags: bool = False) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to ``given`` (else ``""``).

    Flags are compared without their ``--`` and with ``_`` read as ``-``; a second
    suggestion is added when it is about as close as the first.
    """

    def strip(f: str) -> str:
        return f.lstrip("-").replace("_", "-") if flags else f

    by_key: dict[str, str] = {}
    for c in choices:
        by_key.setdefault(strip(c), c)
    key = strip(given)
    scores = sorted(((difflib.SequenceMatcher(None, key, k).ratio(), k) for k in by_key),
                    reverse=True)  # fmt: skip
    close = [k for r, k in scores if r >= 0.7 and r >= scores[0][0] - 0.05][:2]
    if not close:
        return ""
    shown = [by_key[k] if flags else repr(by_key[k]) for k in close]
    return f"; did you mean {' or '.join(shown)}?"


def _unknown_experiment(name: str, exps: dict[str, ExperimentInfo]) -> CLIError:
    return CLIError(f"unknown experiment {name!r}{_did_you_mean(name, exps)} (choose from: "
                    f"{', '.join(exps)}, or all)")  # fmt: skip


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


_INFO_CACHE: dict[tuple[str, int, int], ExperimentInfo | None] = {}


def _info(path: pathlib.Path) -> ExperimentInfo | None:
    """Reads an experiment's name, summary and order without executing it.

    Parsed once per version of the file (a run calls :func:`discover` once per study it
    loads; parsing the six scripts took 0.1-0.2 s each time).
    """
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _INFO_CACHE:
        _INFO_CACHE[key] = _parse_info(path)
    return _INFO_CACHE[key]


def _parse_info(path: pathlib.Path) -> ExperimentInfo | None:
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
        ) and isinstance(value.value, int):  # fmt: skip
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
        raise _unknown_experiment(name, exps)
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
