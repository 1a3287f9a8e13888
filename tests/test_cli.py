"""The jaxmle command: listing, errors as one line, a real run, the standalone scripts."""

import ast
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

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


BAD_COMMAND_LINES = [
    (["run", "nosuch"], "unknown experiment 'nosuch' (choose from: linreg-known-noise, "),
    (["run"], "give an experiment name"),
    (["run", "all", "why-logs"], "either 'all' or names"),
    (["run", "why-logs", "--bogus"], "unrecognized arguments: --bogus (see 'jaxmle run "),
    (["run", "all", "--tasks", "1"], "belongs to gradient-ascent"),
    (["frobnicate"], "unknown command 'frobnicate' (choose from: list, run)"),
    ([], "required"),
    # bad values: the option, the value and what is allowed, in one line (exit 2)
    (["run", "gradient-ascent", "--steps", "-5"],
     "gradient-ascent: invalid value for --steps: -5 (allowed: an integer >= 10)"),
    (["run", "gradient-ascent", "--tasks", "4"],
     "gradient-ascent: invalid value for --tasks: '4' (allowed: some of 1,2,3 separated by "
     "commas, e.g. 1,3)"),
    (["run", "bernoulli-map", "--data", "0012"],
     "bernoulli-map: invalid value for --data: '0012' (allowed: a string of 0/1 digits"),
    (["run", "gradient-ascent", "--tol", "nan"],
     "invalid value for --tol: nan (allowed: a finite number > 0)"),
    (["run", "linreg-offset", "--reps", "0"], "invalid value for --reps: 0 (allowed: an "
     "integer >= 100)"),
    (["run", "bernoulli-map", "--prior-spread", "0.6"],
     "invalid value for --prior-spread: 0.6 (allowed: a number in (0, 0.5)"),
    (["run", "linreg-known-noise", "--n", "2"], "invalid value for --n: 2 (allowed: an "
     "integer >= --d (3))"),
    (["run", "why-logs", "--seed", "-1"],
     "invalid value for --seed: -1 (allowed: an integer from 0 to 4294967295)"),
    (["run", "why-logs", "--processes", "0"],
     "invalid value for --processes: 0 (allowed: an integer >= 1)"),
    (["run", "all", "--jobs", "0"], "invalid value for --jobs: 0 (allowed: an integer >= 1)"),
    (["run", "all", "--jobs", "2", "--processes", "2"],
     "--jobs and --processes cannot both be above 1"),
    # bad types
    (["run", "why-logs", "--n", "many"], "invalid value for --n: 'many' (allowed: an integer)"),
    (["run", "gradient-ascent", "--tol", "small"],
     "invalid value for --tol: 'small' (allowed: a number)"),
    (["run", "why-logs", "--seed", "1.5"], "invalid value for --seed: '1.5' (allowed: an "
     "integer)"),
    # did you mean: names and options
    (["run", "gradient-ascnt"], "unknown experiment 'gradient-ascnt'; did you mean "
     "'gradient-ascent'? (choose from: "),
    (["run", "why_logs"], "did you mean 'why-logs'?"),
    (["lst"], "unknown command 'lst'; did you mean 'list'?"),
    (["run", "gradient-ascent", "--step", "5"],
     "unrecognized arguments: --step 5; did you mean --steps? (see 'jaxmle run "
     "gradient-ascent --help')"),
    (["run", "gradient-ascent", "--step=5"], "did you mean --steps?"),
    (["run", "why-logs", "--quik"], "did you mean --quick?"),
    (["run", "all", "--no-x63"], "did you mean --no-x64?"),
    (["run", "all", "--stps", "5"], "did you mean --steps?"),
    (["run", "why-logs", "--steps", "5"],
     "--steps is an option of gradient-ascent, not of why-logs"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "expect"), BAD_COMMAND_LINES)
def test_bad_command_lines_are_one_line_errors(argv, expect, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("jaxmle: error: ") and expect in err[0], err


def test_bad_values_fail_before_anything_runs(tmp_path, capsys):
    """A bad value changes nothing on disk: no output folder, checkpoints left alone."""
    from jaxmle import report

    out = tmp_path / "out"
    folder = out / ".checkpoints" / "gradient-ascent"
    settings = report.run_settings("gradient-ascent", {"steps": 500}, seed=0, quick=False,
                                   x64=True)  # fmt: skip
    fake_checkpoints(folder, settings)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    for argv in (
        ["gradient-ascent", "--steps", "-5"],
        ["gradient-ascent", "--tasks", "4"],
        ["bernoulli-map", "--data", "0012"],
        ["gradient-ascent", "--step", "5"],
    ):
        assert cli.main(["run", *argv, "--out", str(out)]) == 2, argv
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert len(capsys.readouterr().err.strip().splitlines()) == 4


def test_option_error_names_the_flag():
    from jaxmle import report

    err = report.OptionError("prior_loc", 1.5, "a number in (0, 1)")
    assert isinstance(err, ValueError) and err.flag == "--prior-loc"
    assert str(err) == "invalid value for --prior-loc: 1.5 (allowed: a number in (0, 1))"
    module = cli.load("gradient-ascent")
    report.validate_options(module, {"steps": 10, "tasks": "1,3"})
    with pytest.raises(report.OptionError, match="--seeds: 0"):
        report.validate_options(module, {"seeds": 0})
    ctx = report.Context(out=pathlib.Path("never/written"), quick=True, name="gradient-ascent")
    with pytest.raises(report.OptionError, match="--tasks"):  # run() checks too (direct calls)
        module.run(ctx, tasks="0")


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in cli.discover():
        assert name in out
    assert "gradient-ascent" in out and "notebook 003" in out
    assert "seed 00" not in out  # "seed" is the random seed (--seed), never a notebook


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
                    path.name, node.module)  # fmt: skip
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
    row = index_rows(tmp_path)["bernoulli-map"]  # index.md even for one study
    assert row[2:5] == ["quick", "0", "float32"] and row[6] == res["environment"]["jaxmle"]
    # ... and index.html, whose place is the run's last line.
    assert proc.stdout.strip().splitlines()[-1] == (
        f"wrote {tmp_path / 'index.md'} and {tmp_path / 'index.html'}")  # fmt: skip
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<section class="study" id="bernoulli-map">' in page and "float32" in page


def test_bad_value_is_one_line_and_exit_2(tmp_path):
    proc = jaxmle_cmd("run", "bernoulli-map", "--data", "0012", "--no-plots",
                      "--out", str(tmp_path))  # fmt: skip
    line = one_line_error(proc, 2)
    assert line == ("jaxmle: error: bernoulli-map: invalid value for --data: '0012' (allowed: "
                    "a string of 0/1 digits, e.g. 0011001)")  # fmt: skip
    assert not any(tmp_path.iterdir())  # nothing ran


def test_failing_experiment_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "broken_study.py").write_text(
        '"""A study that fails."""\n\ndef run(ctx):\n    raise RuntimeError("disk on fire")\n'
    )
    proc = jaxmle_cmd("run", "broken-study", "--out", str(tmp_path / "out"),
                      env={"JAXMLE_EXPERIMENTS": str(tmp_path)})  # fmt: skip
    line = one_line_error(proc, 1)
    assert line == ("jaxmle: error: broken-study failed: RuntimeError: disk on fire (rerun with "
                    "--traceback for details)")  # fmt: skip


def test_script_bad_value_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "why_logs.py"), "--n", "5",
                           "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "why_logs.py: error: invalid value for --n: 5 (allowed: an integer >= 10)"]  # fmt: skip
    assert not any(tmp_path.iterdir())  # checked before anything was written


def test_float32_gradient_ascent_warns_nothing_of_its_own(tmp_path):
    # Task 1 (its diverging learning rates) in float32: no numpy "overflow encountered in
    # cast" from the experiment (a float32 path compared with 1e100), no float64 warnings.
    proc = jaxmle_cmd("run", "gradient-ascent", "--quick", "--no-x64", "--tasks", "1",
                      "--no-plots", "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warned = [ln for ln in proc.stderr.splitlines() if "Warning" in ln]
    ours = ("experiments", "jaxmle/report", "jaxmle/_report")  # (the report and its helpers)
    assert not [ln for ln in warned if any(s in ln for s in ours)], warned
    assert "Explicitly requested dtype float64" not in proc.stderr, warned


def test_quick_compiles_for_compile_speed(monkeypatch):
    from jax._src import xla_bridge

    monkeypatch.delenv("JAXMLE_NO_QUICK_FLAGS", raising=False)
    monkeypatch.setattr(xla_bridge, "backends_are_initialized", lambda: False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=2")
    cli._quick_compile()  # the user's own setting is kept; the other flag is added
    flags = os.environ["XLA_FLAGS"].split()
    assert flags[0] == "--xla_backend_optimization_level=2"
    assert "--xla_cpu_use_fusion_emitters=false" in flags
    assert "--xla_backend_optimization_level=0" not in flags
    assert cli._xla_knows("xla_backend_optimization_level")
    assert not cli._xla_knows("xla_no_such_flag_anywhere")  # never passed on: XLA would abort
    monkeypatch.setattr(xla_bridge, "backends_are_initialized", lambda: True)
    monkeypatch.setenv("XLA_FLAGS", "")
    cli._quick_compile()  # too late once a backend runs: nothing changes
    assert os.environ["XLA_FLAGS"] == ""


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
    assert "| why-logs | Why take the logarithm" in (tmp_path / "index.md").read_text()


@pytest.mark.skipif(shutil.which("jaxmle") is None, reason="console script not installed")
def test_console_script_is_installed():
    proc = subprocess.run(["jaxmle", "list"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "bernoulli-map" in proc.stdout


# -- staged output folders, the index, checkpoints, progress ---------------------------------
#
# Tiny studies in a folder of their own (JAXMLE_EXPERIMENTS) keep these fast: what is under
# test is the entry points' handling of OUT, not the numbers.

TINY = '''"""A tiny study ({name}): writes a CSV, waits, writes another, then its report."""
import pathlib
import time

from jaxmle.report import Option, Report, script_main

ORDER = {order}
OPTIONS = [Option("wait", float, 0.0, "seconds to wait after the first file")]


def run(ctx, wait=0.0):
    import jax

    rep = Report(ctx, "Tiny {name}", "Is it tiny?")
    rep.csv("first", [{{"seed": ctx.seed}}])
    time.sleep(wait)
    rep.csv("second", [{{"seed": ctx.seed}}])
    ckpt = ctx.checkpoint("task1")
    results = {{"seed": ctx.seed, "checkpoint": str(ckpt) if ckpt else None,
               "devices": len(jax.devices())}}
    rep.text(f"Answer: seed {{ctx.seed}}.")
    rep.write(results, {{"wait": wait}})
    return results


if __name__ == "__main__":
    script_main(__name__)
'''


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A folder of three tiny studies (tiny-a, tiny-b, tiny-c), used as the experiments."""
    folder = tmp_path / "studies"
    folder.mkdir()
    for order, name in enumerate("abc"):
        (folder / f"tiny_{name}.py").write_text(TINY.format(name=name, order=order))
    monkeypatch.setenv("JAXMLE_EXPERIMENTS", str(folder))
    return folder


def seeds_on_disk(folder):
    """The seed each file of a tiny study's folder records (they must all agree)."""
    res = json.loads((folder / "results.json").read_text())
    seeds = {"results.json": res["environment"]["seed"], "results": res["results"]["seed"]}
    for csv in folder.glob("*.csv"):
        seeds[csv.name] = int(csv.read_text().splitlines()[1])
    text = (folder / "report.md").read_text()
    seeds["report.md"] = int(text.split("Answer: seed ")[1].split(".")[0])
    return seeds


def test_killed_rerun_leaves_previous_folder_whole(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", "tiny-a", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in (out / "tiny-a").iterdir()}
    assert set(seeds_on_disk(out / "tiny-a").values()) == {0}
    rerun = subprocess.Popen([sys.executable, "-m", "jaxmle", "run", "tiny-a", "--seed", "7",
                              "--wait", "60", "--out", str(out)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    staging = out / f".tiny-a.staging-{rerun.pid}"
    try:
        for _ in range(1200):  # until its first output is in the staging folder
            if (staging / "first.csv").exists() or rerun.poll() is not None:
                break
            time.sleep(0.05)
        assert (staging / "first.csv").exists()
    finally:
        rerun.kill()
        rerun.wait()
    after = {p.name: p.read_bytes() for p in (out / "tiny-a").iterdir()}
    assert after == before  # same files, same bytes: seed 0 everywhere
    # A run of another study lists the stale folder in the index and leaves it alone...
    assert cli.main(["run", "tiny-b", "--out", str(out)]) == 0
    assert "a previous run of tiny-a was interrupted at" in (out / "index.md").read_text()
    assert staging.exists()
    capsys.readouterr()
    # ... the next run of tiny-a reports and removes it.
    assert cli.main(["run", "tiny-a", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "a previous run of tiny-a was interrupted at" in said
    assert "its partial output was discarded" in said
    assert not staging.exists() and "interrupted" not in (out / "index.md").read_text()


def test_exception_mid_run_keeps_previous_folder(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    argv = ["run", "bernoulli-map", "--quick", "--no-plots", "--out", str(out)]
    assert cli.main(argv) == 0
    before = {p.name: p.read_bytes() for p in (out / "bernoulli-map").iterdir()}
    module = cli.load("bernoulli-map")
    real_run = module.run

    def failing(ctx, **options):
        real_run(ctx, **options)  # writes every file, into the staging folder
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(module, "run", failing)
    capsys.readouterr()
    assert cli.main([*argv, "--seed", "7"]) == 1
    cap = capsys.readouterr()
    assert "bernoulli-map failed: RuntimeError: disk on fire" in cap.err
    assert (f"jaxmle: bernoulli-map failed; previous results in {out / 'bernoulli-map'} kept; "
            "partial output removed") in cap.out  # fmt: skip
    assert {p.name: p.read_bytes() for p in (out / "bernoulli-map").iterdir()} == before
    assert sorted(p.name for p in out.iterdir()) == ["bernoulli-map", "index.html", "index.md"]


def test_keyboard_interrupt_keeps_previous_folder(tiny, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", "tiny-a", "--out", str(out)]) == 0
    module = cli.load("tiny-a")

    def interrupted(ctx, **options):
        (ctx.out / "partial.csv").write_text("x\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "run", interrupted)
    assert cli.main(["run", "tiny-a", "--seed", "7", "--out", str(out)]) == 130
    assert "jaxmle: tiny-a interrupted; previous results in" in capsys.readouterr().err
    assert set(seeds_on_disk(out / "tiny-a").values()) == {0}
    assert not (out / "tiny-a" / "partial.csv").exists()
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "index.md", "tiny-a"]


def index_rows(out):
    rows = {}
    for line in (out / "index.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| tiny-") or line.startswith("| bernoulli"):
            rows[cells[0]] = cells
    return rows


def test_jobs_run_studies_in_worker_processes(tiny, tmp_path, capsys):
    """--jobs 2: three studies in two spawned workers, the same files and index as in turn."""
    out = tmp_path / "out"
    assert cli.main(["run", "tiny-a", "tiny-b", "tiny-c", "--jobs", "2", "--seed", "5",
                     "--no-x64", "--out", str(out)]) == 0  # fmt: skip
    said = capsys.readouterr().out.strip().splitlines()
    heads = [re.match(r"\[(\d)/3\] (tiny-\w):", line) for line in said if line.startswith("[")]
    assert [int(m[1]) for m in heads] == [1, 2, 3], said  # numbered as they end
    assert sorted(m[2] for m in heads) == ["tiny-a", "tiny-b", "tiny-c"]
    assert sum("wrote " in line and "report.md" in line for line in said) == 3
    assert said[-1].endswith("3/3 experiments in " + said[-1].split(" in ")[-1])
    for name in ("tiny-a", "tiny-b", "tiny-c"):
        assert set(seeds_on_disk(out / name).values()) == {5}
        res = json.loads((out / name / "results.json").read_text())
        assert res["environment"]["dtype"] == "float32"  # the worker took --no-x64
        assert res["results"]["devices"] >= 1
    assert list(index_rows(out)) == ["tiny-a", "tiny-b", "tiny-c"]  # the index in study order


def test_jobs_in_a_fresh_process_end_with_everything_written(tiny, tmp_path):
    """The command's own process (and its worker) end without the interpreter's teardown:
    every study's files, the index and the last line are there, and the exit status is 0."""
    out = tmp_path / "out"
    proc = jaxmle_cmd("run", "tiny-a", "tiny-b", "tiny-c", "--jobs", "2", "--quick",
                      "--no-x64", "--out", str(out), env={"JAXMLE_JOBS": ""})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"wrote {out / 'index.md'}") and "3/3 experiments" in last
    for name in ("tiny-a", "tiny-b", "tiny-c"):
        assert (out / name / "report.md").exists() and (out / name / "results.json").exists()
    assert list(index_rows(out)) == ["tiny-a", "tiny-b", "tiny-c"]


def test_index_lists_every_study_on_disk_with_its_settings(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", "tiny-a", "tiny-b", "--seed", "3", "--out", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(f"wrote {re.escape(str(out / 'index.md'))} and "
                        f"{re.escape(str(out / 'index.html'))}: 2/2 experiments in "
                        r"\d+\.\d s", last), last  # fmt: skip
    assert cli.main(["run", "tiny-c", "--quick", "--no-x64", "--out", str(out)]) == 0
    said = capsys.readouterr().out.strip().splitlines()
    assert said[-1] == f"wrote {out / 'index.md'} and {out / 'index.html'}"  # one study
    rows = index_rows(out)
    assert list(rows) == ["tiny-a", "tiny-b", "tiny-c"]  # run order, all three
    page = (out / "index.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section class="study" id="([^"]+)">', page)
    assert sections == ["tiny-a", "tiny-b", "tiny-c"]  # the page follows the index
    assert "quick run · seed 0 · float32" in page and page.count("Answer: seed 3.") == 2
    assert rows["tiny-a"][2:5] == ["full", "3", "float64"]
    assert rows["tiny-c"][2:5] == ["quick", "0", "float32"]
    assert rows["tiny-c"][8] == "wait=0.0" and rows["tiny-c"][5].endswith("Z")
    capsys.readouterr()
    # A quick run over a full one says so, and the index follows.
    assert cli.main(["run", "tiny-a", "--quick", "--out", str(out)]) == 0
    assert "replacing the full run of tiny-a (20" in capsys.readouterr().out
    assert index_rows(out)["tiny-a"][2:4] == ["quick", "0"]


def test_script_main_shares_staging_and_index(tiny, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["run", "tiny-b", "--out", str(out)]) == 0  # a full run, then the script
    script = [sys.executable, str(tiny / "tiny_b.py"), "--out", str(out), "--quick"]
    proc = subprocess.run(script, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "replacing the full run of tiny-b" in proc.stdout
    assert index_rows(out)["tiny-b"][2] == "quick"
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "index.md", "tiny-b"]
    assert proc.stdout.strip().endswith(f"every study on one page: {out / 'index.html'}")


def test_swap_killed_between_renames_is_recovered(tmp_path):
    from jaxmle import report

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = tmp_path / f".study.old-{dead.pid}"
    old.mkdir()
    (old / "results.json").write_text("{}")
    notes = report.recover(tmp_path / "study")
    assert (tmp_path / "study" / "results.json").exists() and not old.exists()
    assert len(notes) == 1 and "restored" in notes[0]


# -- checkpoints and --resume (unit level, with fake checkpoint folders) ---------------------


def fake_checkpoints(folder, settings):
    (folder / "task1").mkdir(parents=True)
    (folder / "task1" / "chunk-0.npz").write_bytes(b"x")
    (folder / "settings.json").write_text(json.dumps({**settings, "utc": "2001-02-03T04:05Z"}))


def test_resume_decisions(tmp_path):
    from jaxmle import report

    settings = report.run_settings("s", {"steps": 5}, seed=0, quick=True, x64=True)
    folder = tmp_path / ".checkpoints" / "s"
    fake_checkpoints(folder, settings)
    assert report.check_resume(folder, settings, None) is None
    note = report.prepare_checkpoints(folder, settings, None)
    assert note == "resuming s from its checkpoints (2001-02-03T04:05Z)"
    assert (folder / "task1" / "chunk-0.npz").exists()
    other = {**settings, "seed": 7}
    with pytest.raises(report.ResumeError, match=r"seed \(0 in the checkpoints, 7 now\)"):
        report.prepare_checkpoints(folder, other, True)
    assert (folder / "task1").exists()  # an explicit --resume that fails changes nothing
    note = report.prepare_checkpoints(folder, {**settings, "options": {"steps": 9}}, None)
    assert "discarding the checkpoints of s" in note and "option --steps (5" in note
    assert not (folder / "task1").exists()
    assert json.loads((folder / "settings.json").read_text())["options"] == {"steps": 9}
    fake_checkpoints(folder.parent / "t", settings)
    note = report.prepare_checkpoints(folder.parent / "t", settings, False)
    assert note == "discarding the checkpoints of s (--no-resume)"
    assert not (folder.parent / "t" / "task1").exists()


def test_resume_in_the_cli(tiny, tmp_path, capsys):
    from jaxmle import report

    out = tmp_path / "out"
    folder = out / ".checkpoints" / "tiny-a"
    settings = report.run_settings("tiny-a", {"wait": 0.0}, seed=0, quick=True, x64=True)
    fake_checkpoints(folder, settings)
    assert cli.main(["run", "tiny-a", "--quick", "--seed", "7", "--resume",
                     "--out", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot resume tiny-a" in err[0] and "seed (0" in err[0]
    assert not (out / "tiny-a").exists() and (folder / "task1").exists()
    assert cli.main(["run", "tiny-a", "--quick", "--out", str(out)]) == 0
    assert "resuming tiny-a from its checkpoints (2001-02-03T04:05Z)" in capsys.readouterr().out
    res = json.loads((out / "tiny-a" / "results.json").read_text())
    assert res["results"]["checkpoint"] == str(folder / "task1")
    assert not (out / ".checkpoints").exists()  # deleted once the study completed
    fake_checkpoints(folder, settings)
    assert cli.main(["run", "tiny-a", "--out", str(out)]) == 0  # full, not quick: discarded
    assert "they differ in quick (True in the checkpoints, False now)" in capsys.readouterr().out


def test_checkpoint_labels():
    from jaxmle import report

    ctx = report.Context(out=pathlib.Path("r/x"), name="x",
                         checkpoint_dir=pathlib.Path("r/.checkpoints/x"))  # fmt: skip
    assert ctx.checkpoint("task1") == pathlib.Path("r/.checkpoints/x/task1")
    for bad in ("task1", "a/b", "", ".hidden", "settings.json"):
        with pytest.raises(ValueError):
            ctx.checkpoint(bad)
    assert report.Context(out=pathlib.Path("r/x")).checkpoint("t") is None


def test_progress_fallback_shows_rate_and_eta(monkeypatch, capsys):
    from jaxmle import report

    line = report.progress_line("sweep", 50, 100, 3.1, 1.2e6)
    assert line == "    sweep:  50% (3.1 s, 1.2 M step/s, ETA 0.0 s)"
    assert report.progress_line("sweep", 3, 12, 3.1, 1.0) == (
        "    sweep:  25% (3.1 s, 1 step/s, ETA 9.0 s)")  # fmt: skip
    assert report.progress_line("s", 1, 4, 0.5, 0.001, "lane-step").endswith(
        "0.001 lane-step/s, ETA 50 min 00 s)")  # fmt: skip
    assert report.progress_line("s", 100, 100, 2.0, 2500.0) == "    s: 100% (2.0 s, 2.5 k step/s)"
    assert report.progress_line("s", 0, 100, 0.0, None) == "    s:   0% (0.0 s)"
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # the plain fallback, even with tqdm
    bar = report.Progress("task", 400, unit="lane-step")
    for done in (100, 200, 300, 400):
        bar(done)
    bar.close()
    err = capsys.readouterr().err.splitlines()
    assert [ln.split(":")[1].split("(")[0].strip() for ln in err] == ["25%", "50%", "75%", "100%"]
    assert "/s" not in err[0]  # the first report's time is mostly compilation: no rate yet
    assert "lane-step/s, ETA" in err[1] and "lane-step/s" in err[3] and "ETA" not in err[3]


# -- several processes (jaxmle.distributed; ~10-20 s: two fresh JAX processes) ---------------


@pytest.mark.skipif(not (ROOT / "src" / "jaxmle" / "distributed.py").exists(),
                    reason="jaxmle.distributed not available")  # fmt: skip
def test_processes_2_only_process_0_writes(tiny, tmp_path):
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    proc = jaxmle_cmd("run", "tiny-a", "--quick", "--processes", "2", "--out", str(out),
                      env={"JAXMLE_EXPERIMENTS": str(tiny), "TMPDIR": str(scratch)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("report.md (") == 1  # process 0 speaks for the job
    assert proc.stdout.count("index.html") == 1
    res = json.loads((out / "tiny-a" / "results.json").read_text())
    assert res["results"]["devices"] == 2  # both workers joined one job
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "index.md", "tiny-a"]
    assert not list(scratch.glob("jaxmle-*"))  # process 1's throwaway output is gone


# -- plots drawn in a helper process (Context.background_plots, on in the CLI) ---------------


def plot_study(make_figure, fail=False):
    """A study module whose run() draws one figure (then fails, when asked)."""
    import types

    from jaxmle import report

    def run(ctx):
        rep = report.Report(ctx, "Plots", "Drawn where?")
        rep.figure("curve", make_figure)
        if fail:
            raise RuntimeError("disk on fire")
        rep.write({})
        return {}

    return types.SimpleNamespace(run=run, OPTIONS=[])


def curve_figure(formatter=None):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [1e-3, 1e-1, 1e2], label="y")
    ax.set_yscale("log")
    ax.legend()
    if formatter is not None:
        ax.yaxis.set_major_formatter(formatter)
    return fig


def run_plots(tmp_path, name, background, make_figure, fail=False):
    from jaxmle import report

    ctx = report.Context(out=tmp_path / name, quick=True, name=name, progress=False,
                         background_plots=background)  # fmt: skip
    report.run_experiment(plot_study(make_figure, fail), ctx)
    return (ctx.out / "curve.png").read_bytes()


def test_background_plots_are_the_same_pngs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.ticker import FuncFormatter

    from jaxmle import plot, report

    here = run_plots(tmp_path, "here", False, curve_figure)
    with monkeypatch.context() as m:  # this process draws nothing: the helper does
        m.setattr(plot, "save", lambda *a, **k: pytest.fail("drawn in the parent"))
        assert run_plots(tmp_path, "helper", True, curve_figure) == here  # byte for byte
    worker = report._worker
    assert worker is not None and worker._proc.poll() is None
    # A figure that cannot be pickled (a local function as formatter) is drawn here instead.
    local = FuncFormatter(lambda v, _: f"{v:g}!")
    drawn_here = run_plots(tmp_path, "local-here", False, lambda: curve_figure(local))
    assert run_plots(tmp_path, "local", True, lambda: curve_figure(local)) == drawn_here
    # When the helper dies, the figures are still drawn (in the parent), the same.
    worker._proc.kill()
    worker._proc.wait()
    assert run_plots(tmp_path, "dead", True, curve_figure) == here


def test_background_plots_pass_on_matplotlibs_warnings(tmp_path):
    pytest.importorskip("matplotlib")

    def glyph_figure():  # a glyph DejaVu Sans lacks: matplotlib warns while drawing
        fig = curve_figure()
        fig.axes[0].set_title("\N{TIBETAN SYLLABLE OM}")
        return fig

    said = {}
    for background in (False, True):
        with pytest.warns(UserWarning, match="TIBETAN SYLLABLE OM") as caught:
            run_plots(tmp_path, f"w{background}", background, glyph_figure)
        said[background] = {(w.category, str(w.message), pathlib.Path(w.filename).name)
                            for w in caught}  # fmt: skip
    assert said[True] == said[False]  # the same warnings, from the same files


def test_background_plots_never_land_in_a_failed_run(tmp_path):
    pytest.importorskip("matplotlib")
    from jaxmle import report

    ctx = report.Context(out=tmp_path / "s", quick=True, name="s", progress=False,
                         background_plots=True)  # fmt: skip
    with pytest.raises(RuntimeError, match="disk on fire"):
        report.run_experiment(plot_study(curve_figure, fail=True), ctx)
    # run_experiment waited for the PNG in flight before re-raising: nothing comes later.
    before = sorted(p.name for p in ctx.out.iterdir())
    time.sleep(0.5)
    assert sorted(p.name for p in ctx.out.iterdir()) == before


@pytest.fixture(autouse=True, scope="module")
def _fresh_plot_worker():
    """Each module starts without a helper and closes any it started (its tests kill one)."""
    from jaxmle import report

    yield
    if report._worker is not None:
        report._worker.close()
        report._worker = None
