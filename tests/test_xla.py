"""The engine's compiler options (``jaxmle._xla``): CPU-only, probed, result-preserving."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxmle
from jaxmle import _fit, _xla, models


def test_options_on_cpu_only_and_not_global():
    opts = _xla.compiler_options()
    if jax.default_backend() == "cpu":
        assert opts == {"xla_cpu_experimental_ynn_fusion_type": ""}
    else:
        assert opts == {}
    # Per-program options only: the process-wide flags are left as the user set them.
    assert "ynn" not in os.environ.get("XLA_FLAGS", "")


def test_unknown_option_falls_back_to_none(monkeypatch):
    monkeypatch.setattr(_xla, "_CPU_OPTIONS", {"xla_cpu_no_such_option_anywhere": "1"})
    _xla._cpu_options_supported.cache_clear()
    try:
        assert _xla.compiler_options() == {}
        f = _xla.jit(lambda x: x * 2.0)
        assert float(f(jnp.asarray(3.0))) == 6.0
    finally:
        monkeypatch.undo()
        _xla._cpu_options_supported.cache_clear()


def test_engine_programs_match_plain_jit_results():
    # A fit compiled with the engine's options equals the same scan compiled by plain jax.jit.
    x = np.random.default_rng(0).multivariate_normal([1.0, 1.0], 5 * np.eye(2), 500)
    model = models.MultivariateGaussian(cov=5 * np.eye(2))
    kw = dict(optimizer=optax.adam, hyperparams={"learning_rate": 0.05}, steps=50,
              batch_size=64, key=jax.random.key(0), sufficient_stats=False)  # fmt: skip
    a = jaxmle.fit(model, model.init(x), x, **kw)
    saved = _fit._run_jit._cpu
    _fit._run_jit._cpu = _fit._run_jit._plain
    try:
        b = jaxmle.fit(model, model.init(x), x, **kw)
    finally:
        _fit._run_jit._cpu = saved
    np.testing.assert_allclose(a.params["mean"], b.params["mean"], rtol=1e-13)
    np.testing.assert_allclose(a.trace.loss, b.trace.loss, rtol=1e-13)


def test_backend_sums_a_vmapped_matvec_right():
    """jax-ml/jax#39103: jaxlib 0.10.2's YNNPACK fusions on CPU get this sum wrong.

    (266342400 for 2**28 here, and the suite's rare wrong closed forms and fits with it.) Every
    jaxmle program opts out of those fusions (``_xla.jit``), so its sums are right on any
    jaxlib; a plain ``jax.jit`` must be right on every other release.
    """
    n = 16_385
    i = jnp.arange(n, dtype=jnp.float64)
    x = jnp.stack((i, jnp.zeros_like(i), jnp.zeros_like(i)), axis=1)
    matrix = jnp.eye(3, dtype=jnp.float64)

    def f(x):
        return jax.vmap(lambda row: jnp.sum((matrix @ row) ** 2))(x)

    want = float(n - 1) ** 2  # exact in float64
    assert float(_xla.jit(f)(x)[-1]) == want
    if jax.__version__ != "0.10.2" or jax.default_backend() != "cpu":
        assert float(jax.jit(f)(x)[-1]) == want, f"jax {jax.__version__}: a wrong sum on CPU"


def test_engine_programs_inside_the_callers_jit():
    # jax refuses compiler options on a nested jit: inside the caller's program (traced or
    # closed-over inputs) an engine program takes the caller's options and gives its value.
    x = jnp.asarray(np.random.default_rng(0).normal(size=50))
    want = float(np.mean(np.asarray(x)))
    mean = jaxmle.closed_form.gaussian_mle
    assert abs(float(jax.jit(lambda: mean(x)["mean"])()) - want) < 1e-15
    assert abs(float(jax.jit(lambda v: mean(v)["mean"])(x)) - want) < 1e-15
