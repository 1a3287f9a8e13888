"""The jaxmle command: listing, errors as one line, a real run, the standalone scripts."""

import ast
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from jaxmle import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


def jaxmle_cmd(*args, env=None, timeout=300):
    """``python -m jaxmle ARGS`` in a fresh process (the console script's code path)."""
    return subprocess.run([sys.executable, "-m", "jaxmle", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})  # fmt: skip


def one_line_error(proc, rc):
    assert proc.returncode == rc, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr  # one clear line, no traceback
    assert lines[0].startswith("jaxmle: error: ")
    assert "Traceback" not in proc.stderr
    return lines[0]


# -- in process: parsing and errors (fast) ---------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["run", "nosuch"], "unknown experiment 'nosuch'"),
        (["run"], "give an experiment name"),
        (["run", "all", "why-logs"], "either 'all' or names"),
        (["run", "why-logs", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", "why-logs", "--n", "many"], "invalid int value"),
        (["run", "all", "--tasks", "1"], "belongs to gradient-ascent"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_command_lines_are_one_line_errors(argv, expect, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("jaxmle: error: ") and expect in err[0], err


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in cli.discover():
        assert name in out
    assert "gradient-ascent" in out and "seed 003" in out


def test_run_help_lists_experiment_options(capsys):
    assert cli.main(["run", "gradient-ascent", "--help"]) == 0
    out = capsys.readouterr().out
    for opt in ("--tasks", "--steps", "--seeds", "--quick", "--x64", "--out"):
        assert opt in out


def test_experiments_dir_override(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny_study.py").write_text('"""A tiny study."""\nORDER = 1\n\ndef run(ctx):\n'
                                            "    return {}\n")  # fmt: skip
    (tmp_path / "helper.py").write_text("X = 1\n")  # no run(): not an experiment
    monkeypatch.setenv("JAXMLE_EXPERIMENTS", str(tmp_path))
    assert list(cli.discover()) == ["tiny-study"]
    monkeypatch.setenv("JAXMLE_EXPERIMENTS", str(tmp_path / "missing"))
    assert cli.main(["list"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_library_never_imports_experiments_and_experiments_use_public_api():
    for path in (ROOT / "src" / "jaxmle").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert not any(n.split(".")[0] == "experiments" for n in names), path
    for path in (ROOT / "experiments").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
                assert not any(part.startswith("_") for part in node.module.split(".")), (
                    path.name, node.module)
            if isinstance(node, ast.Import):
                for a in node.names:
                    assert not any(p.startswith("_") for p in a.name.split(".")), path.name


# -- fresh processes: the real entry point ----------------------------------------------------


def test_run_quick_float32_writes_report(tmp_path):
    proc = jaxmle_cmd("run", "bernoulli-map", "--quick", "--no-x64", "--no-plots",
                      "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "bernoulli-map"
    assert (out / "report.md").exists() and (out / "estimates.csv").exists()
    res = json.loads((out / "results.json").read_text())
    assert res["environment"]["dtype"] == "float32" and not res["environment"]["x64"]
    assert res["results"]["map_normal_sd"] == pytest.approx(0.484363051702645, abs=1e-6)
    assert res["results"]["p_head_uniform_predictive"] == pytest.approx(4 / 9, abs=1e-6)
    assert "default dtype **float32**" in (out / "report.md").read_text()


def test_failing_experiment_is_one_line_and_exit_1(tmp_path):
    proc = jaxmle_cmd("run", "bernoulli-map", "--data", "0012", "--no-plots",
                      "--out", str(tmp_path))  # fmt: skip
    line = one_line_error(proc, 1)
    assert "bernoulli-map failed" in line and "0/1 digits" in line


def test_unknown_experiment_in_fresh_process():
    line = one_line_error(jaxmle_cmd("run", "nosuch"), 2)
    assert "choose from" in line


def test_standalone_script_runs_the_same_code(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "why_logs.py"), "--quick",
                           "--no-plots", "--n", "500", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    res = json.loads((tmp_path / "why-logs" / "results.json").read_text())
    assert res["options"] == {"n": 500}
    assert res["results"]["underflow"]["float64 jax"]["product exactly 0 after"] < 300


@pytest.mark.skipif(shutil.which("jaxmle") is None, reason="console script not installed")
def test_console_script_is_installed():
    proc = subprocess.run(["jaxmle", "list"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "bernoulli-map" in proc.stdout
