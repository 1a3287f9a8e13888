"""The persistent compilation cache: one library call, on by default in the entry points only.

Everything that turns the cache on runs in a fresh process, so that this test process's JAX
configuration (and the user's own cache folder) is never touched.
"""

import json
import os
import stat
import subprocess
import sys
import warnings

import pytest

import jaxmle
from jaxmle import _cache, cli

HITS = "/jax/compilation_cache/cache_hits"
MISSES = "/jax/compilation_cache/cache_misses"  # recorded when an entry is written
OWN_ENV = ("JAXMLE_CACHE_DIR", "JAXMLE_NO_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_DIR",
           "JAX_ENABLE_COMPILATION_CACHE", "XDG_CACHE_HOME")  # fmt: skip


def fresh_env(**extra):
    """The environment of a child process: none of the cache settings inherited."""
    env = {k: v for k, v in os.environ.items() if k not in OWN_ENV}
    return {**env, **extra}


def start(*args, env):
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def finish(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return out


def python(*args, env):
    return finish(start(*args, env=env))


LIBRARY = r"""
import json, pathlib, sys
import jax
before = dict(jax.config.values)
import jaxmle
after = dict(jax.config.values)
changed = sorted(k for k in before if before[k] != after[k])
untouched = jaxmle.compilation_cache_dir() is None

import jax.numpy as jnp
events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
first = jaxmle.enable_compilation_cache()  # $JAXMLE_CACHE_DIR, which is a
jax.jit(lambda x: x * 2.0 + 1.0)(jnp.ones(3)).block_until_ready()
n_a = len(list(a.glob("*-cache")))
again = jaxmle.enable_compilation_cache(a)  # the same folder: nothing to do
switched = jaxmle.enable_compilation_cache(b)
jax.jit(lambda x: x - 5.0)(jnp.ones(3)).block_until_ready()
print(json.dumps({
    "changed": changed, "untouched": untouched, "first": str(first), "again": str(again),
    "switched": str(switched), "in_use": str(jaxmle.compilation_cache_dir()),
    "min_time": jax.config.jax_persistent_cache_min_compile_time_secs,
    "n_a": n_a, "n_a_after": len(list(a.glob("*-cache"))), "n_b": len(list(b.glob("*-cache"))),
    "hits": events.count("HITS"), "misses": events.count("MISSES"),
}))
""".replace("HITS", HITS).replace("MISSES", MISSES)


def test_import_changes_nothing_and_the_library_call_caches_and_switches(tmp_path):
    a, b = tmp_path / "new" / "a", tmp_path / "b"
    out = python("-c", LIBRARY, str(a), str(b), env=fresh_env(JAXMLE_CACHE_DIR=str(a)))
    res = json.loads(out.strip().splitlines()[-1])
    assert res["changed"] == [] and res["untouched"]  # import jaxmle: no JAX setting moves
    assert res["first"] == res["again"] == str(a)  # JAXMLE_CACHE_DIR honoured
    assert res["switched"] == res["in_use"] == str(b) and res["min_time"] == 0.0
    assert res["n_a"] >= 1 and res["n_a_after"] == res["n_a"] and res["n_b"] >= 1
    assert res["hits"] == 0 and res["misses"] == res["n_a"] + res["n_b"]
    for folder in (a, a.parent):  # created private: the cache holds executable code
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0


TINY = '''"""A tiny study: jits one function and records what the compilation cache did."""
import jax
import jax.numpy as jnp

import jaxmle
from jaxmle.report import Report, script_main

ORDER = 0
OPTIONS = []


def run(ctx):
    events = []
    jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
    jax.jit(lambda x: jnp.sin(x) * 3.0 + 1.0)(jnp.ones(7)).block_until_ready()
    folder = jaxmle.compilation_cache_dir()
    results = {"cache_dir": str(folder) if folder else None,
               "hits": events.count("HITS"), "misses": events.count("MISSES")}
    Report(ctx, "Tiny", "Is it cached?").write(results, {})
    return results


if __name__ == "__main__":
    script_main(__name__)
'''.replace("HITS", HITS).replace("MISSES", MISSES)


def _results(out):
    return json.loads((out / "tiny" / "results.json").read_text())["results"]


def test_entry_points_cache_by_default_and_opt_out(tmp_path):
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "tiny.py").write_text(TINY)
    cache, unused = tmp_path / "cache", tmp_path / "unused"
    cmd = ["-m", "jaxmle", "run", "tiny", "--no-plots"]
    env = fresh_env(JAXMLE_EXPERIMENTS=str(studies), JAXMLE_CACHE_DIR=str(cache))
    opted_out = start(*cmd, "--no-compilation-cache", "--out", str(tmp_path / "o3"),
                      env={**env, "JAXMLE_CACHE_DIR": str(unused)})  # fmt: skip
    python(*cmd, "--out", str(tmp_path / "o1"), env=env)
    first = _results(tmp_path / "o1")
    assert first["cache_dir"] == str(cache) and first["misses"] >= 1 and first["hits"] == 0
    # The standalone script, a new process: the same program comes from the cache.
    python(str(studies / "tiny.py"), "--no-plots", "--out", str(tmp_path / "o2"), env=env)
    second = _results(tmp_path / "o2")
    assert second["cache_dir"] == str(cache) and second["hits"] >= 1 and second["misses"] == 0
    finish(opted_out)
    off = _results(tmp_path / "o3")
    assert off == {"cache_dir": None, "hits": 0, "misses": 0} and not unused.exists()


# -- in process: nothing here turns the cache on ----------------------------------------------


def test_unwritable_folder_warns_once_and_returns_none(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    folder = blocker / "xla"  # below a regular file: not creatable, even by root
    before = jaxmle.compilation_cache_dir()
    with pytest.warns(RuntimeWarning, match="JAXMLE_CACHE_DIR") as rec:
        assert jaxmle.enable_compilation_cache(folder) is None
    assert str(folder) in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert jaxmle.enable_compilation_cache(folder) is None  # once
    assert jaxmle.compilation_cache_dir() == before


def test_default_folder(monkeypatch, tmp_path):
    for k in OWN_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _cache.default_cache_dir() == tmp_path / "home" / ".cache" / "jaxmle" / "xla"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert _cache.default_cache_dir() == tmp_path / "home" / ".cache" / "jaxmle" / "xla"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _cache.default_cache_dir() == tmp_path / "xdg" / "jaxmle" / "xla"
    monkeypatch.setenv("JAXMLE_CACHE_DIR", str(tmp_path / "mine"))
    assert _cache.default_cache_dir() == tmp_path / "mine"


@pytest.mark.parametrize(("argv", "expect"), [
    ([], None), (["--no-compilation-cache"], False), (["--compilation-cache"], True)])  # fmt: skip
def test_cli_flag(argv, expect):
    _, run_parser = cli._base_parser()
    args, extra = run_parser.parse_known_args(["why-logs", *argv])
    assert args.compilation_cache is expect and extra == []


@pytest.mark.parametrize(("value", "off"), [
    ("1", True), ("yes", True), ("0", False), ("", False), ("false", False)])  # fmt: skip
def test_env_opt_out(monkeypatch, value, off):
    monkeypatch.setenv("JAXMLE_NO_COMPILATION_CACHE", value)
    assert _cache.env_opts_out() is off
    if off:  # the entry points' default stays off; the flag still wins (not run here)
        assert _cache.enable_default(None) is None
    assert _cache.enable_default(False) is None


def test_exported():
    assert {"enable_compilation_cache", "compilation_cache_dir"} <= set(jaxmle.__all__)
