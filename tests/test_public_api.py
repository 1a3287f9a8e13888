"""The public surface: every exported name imports, the README example runs, and importing
jaxmle leaves JAX's global configuration alone."""

import pathlib
import re
import subprocess
import sys

import pytest

import jaxmle

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize(
    "module",
    ["jaxmle", "jaxmle.models", "jaxmle.closed_form", "jaxmle.data", "jaxmle.inference",
     "jaxmle.families"],
)
def test_every_public_name_imports(module):
    mod = __import__(module, fromlist=["__all__"])
    assert mod.__all__
    for name in mod.__all__:
        assert getattr(mod, name) is not None, (module, name)


def test_version_from_metadata():
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", jaxmle.__version__)


def test_import_does_not_enable_x64():
    code = "import jax, jaxmle; print(jax.config.jax_enable_x64)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _readme_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    return blocks


def _block(needle: str) -> str:
    return next(b for b in _readme_blocks() if needle in b)


def _shown_after(code: str) -> list[str]:
    text = README.read_text()
    shown = re.search(r"```\n\s*```\n(.*?)\n```", text.split(code, 1)[1], flags=re.S).group(1)
    return _lines(shown)


def _lines(t: str) -> list[str]:
    return [ln.rstrip() for ln in t.strip("\n").splitlines()]


def test_readme_example_runs():
    ns = {}
    exec(compile(_block("exact = model.closed_form(x)"), "README.md", "exec"), ns)
    import numpy as np

    np.testing.assert_allclose(
        ns["model"].to_natural(ns["u"])["mean"], ns["exact"]["mean"], rtol=1e-8
    )
    exec(compile(_block("study = jaxmle.sweep"), "README.md", "exec"), ns)  # continues it
    assert ns["study"].shape == (2, 8, 3, 2)
    assert bool(ns["jaxmle"].check(ns["run"].params, ns["exact"], rtol=0.05).ok)


def test_readme_mle_examples_run_and_print_what_is_shown(capsys):
    ns = {}
    code = _block("NonlinearRegression(mean)")
    exec(compile(code, "README.md", "exec"), ns)
    assert _lines(capsys.readouterr().out) == _shown_after(code)
    theta = ns["res"].params["theta"]
    exec(compile(_block("def log_prob(p, d)"), "README.md", "exec"), ns)
    assert bool(ns["res"].converged) and bool(ns["logit"].converged)
    # The plain Gaussian log_prob reaches NonlinearRegression's estimate.
    import numpy as np

    np.testing.assert_allclose(ns["res"].params["b"], theta, rtol=1e-9)


def test_readme_inference_summary_is_what_the_code_prints(capsys):
    code = _block("inference.summary")
    exec(compile(code, "README.md", "exec"), {})
    assert _lines(capsys.readouterr().out) == _shown_after(code)


def test_readme_formula_summary_is_what_the_code_prints(capsys):
    pytest.importorskip("formulaic")
    code = _block('jaxmle.glm("events ~ dose + C(group)"')
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert _lines(capsys.readouterr().out) == _shown_after(code)
    exec(compile(_block("res.get_margeff()"), "README.md", "exec"), ns)  # continues it
    assert ns["ols"].converged and ns["res"].converged


def test_readme_margeff_block_is_what_the_code_prints(capsys):
    pytest.importorskip("formulaic")
    import statsmodels.api as sm

    code = _block("hac.get_margeff(dummy=True)")
    exec(compile(code, "README.md", "exec"), {"jaxmle": jaxmle, "sm": sm})
    assert _lines(capsys.readouterr().out) == _shown_after(code)
