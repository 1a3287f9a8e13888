"""``jaxmle.fit``: optimiser vs closed forms, the seed's gradient ascent, keys, compilation,
divergence, convergence bookkeeping, chunking, sampling without replacement, bad input.

Oracles: numpy/scipy closed forms (and the library's, checked against them), hand-written
numpy loops of the same updates, and ``jaxmle._batching`` index streams.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import optimize

import jaxmle
from jaxmle import _batching, _fit, models

# --------------------------------------------------------------------------------------------
# Closed forms: full-batch L-BFGS in float64 reaches every closed form to rtol 1e-8.

_rng = np.random.default_rng(0)
_X1 = _rng.normal(1.5, 2.0, 50)
_X2 = _rng.multivariate_normal([1.0, -1.0], [[5.0, 1.0], [1.0, 2.0]], 60)
# The seed notebook's regression: integer features in [-10, 10], theta = (7, -4, -5).
_XS = _rng.integers(-10, 11, (100, 3)).astype(float)
_YS = _XS @ np.array([7.0, -4.0, -5.0]) + _rng.normal(0.0, 0.1, 100)
_XI = _rng.normal(0.0, 1.0, (80, 2))
_YI = _XI @ np.array([1.5, -0.5]) + 2.0 + _rng.normal(0.0, 0.7, 80)
_WI = _rng.uniform(0.5, 2.0, 80)
_B = _rng.binomial(1, 0.3, 40).astype(float)
_C = _rng.poisson(3.0, 50).astype(float)


def _ls(X, y, w=None):
    w = np.ones(len(y)) if w is None else w
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
    return beta, float(np.sum(w * (y - X @ beta) ** 2))


def _ls_intercept(X, y, w=None):
    beta, rss = _ls(np.column_stack([X, np.ones(len(y))]), y, w)
    return {"coef": beta[:-1], "intercept": beta[-1], "variance": rss / len(y)}


def _bernoulli_map_normal(x, loc, scale):
    k, n = x.sum(), x.size
    return optimize.brentq(
        lambda t: k / t - (n - k) / (1 - t) - (t - loc) / scale**2, 1e-12, 1 - 1e-12, xtol=1e-15
    )


_CASES = {
    "gaussian-known-variance": (models.Gaussian(variance=4.0), _X1, {"mean": _X1.mean()}),
    "gaussian": (models.Gaussian(), _X1, {"mean": _X1.mean(), "variance": _X1.var()}),
    "mvn-known-cov": (
        models.MultivariateGaussian(cov=5.0 * jnp.eye(2)),
        _X2,
        {"mean": _X2.mean(0)},
    ),
    "mvn": (
        models.MultivariateGaussian(),
        _X2,
        {"mean": _X2.mean(0), "cov": np.cov(_X2.T, bias=True)},
    ),
    "linreg-seed": (
        models.LinearRegression(noise_variance=0.01, intercept=False),
        {"X": _XS, "y": _YS},
        {"coef": _ls(_XS, _YS)[0]},
    ),
    "linreg-intercept": (models.LinearRegression(), {"X": _XI, "y": _YI}, _ls_intercept(_XI, _YI)),
    "linreg-weights": (
        models.LinearRegression(),
        {"X": _XI, "y": _YI, "weight": _WI},
        _ls_intercept(_XI, _YI, _WI),
    ),
    "bernoulli": (models.Bernoulli(), _B, {"prob": _B.mean()}),
    "bernoulli-map-normal": (
        models.Bernoulli(prior={"prob": models.Normal(0.5, scale=0.1)}),
        _B,
        {"prob": _bernoulli_map_normal(_B, 0.5, 0.1)},
    ),
    "bernoulli-map-beta": (
        models.Bernoulli(prior={"prob": models.Beta(2.0, 3.0)}),
        _B,
        {"prob": (_B.sum() + 1.0) / (_B.size + 3.0)},
    ),
    "poisson": (models.Poisson(), _C, {"rate": _C.mean()}),
}

# One instance, so models of the same structure share a program. Unit steps without a line
# search: these objectives are smooth and well scaled, L-BFGS reaches them to rounding in < 20
# steps, and the program compiles in half the time of the zoom line search's (the line-search
# path, with its value_fn extra argument, is tested once below).
LBFGS = optax.lbfgs(learning_rate=1.0, linesearch=None)


@pytest.mark.parametrize("name", list(_CASES))
def test_lbfgs_reaches_closed_form(name):
    model, data, expected = _CASES[name]
    exact = model.closed_form(data)
    # The closed form itself against numpy/scipy (independent oracle).
    assert jaxmle.check(exact, expected, rtol=1e-10).ok, str(jaxmle.check(exact, expected))
    # A single trace record keeps the program small (compilation dominates this test).
    run = jaxmle.fit(model, model.init(data), data, optimizer=LBFGS, steps=50,
                     reference=exact, tol=1e-7, record_every=50)  # fmt: skip
    result = jaxmle.check(run.params, exact, rtol=1e-8)
    assert bool(result.ok), f"{name}\n{result}"
    assert not bool(run.diverged)
    assert bool(run.converged)
    assert float(run.distance) <= 1e-7
    assert jax.tree_util.tree_structure(run.params) == jax.tree_util.tree_structure(exact)


def test_lbfgs_with_zoom_linesearch():
    # optax.lbfgs() as given: its line search needs the engine to pass value, grad and
    # value_fn to update().
    model, data, _ = _CASES["gaussian"]
    exact = model.closed_form(data)
    run = jaxmle.fit(model, model.init(data), data, optimizer=optax.lbfgs(), steps=50,
                     reference=exact, record_every=50)  # fmt: skip
    assert bool(jaxmle.check(run.params, exact, rtol=1e-8).ok)
    assert 0 < int(run.steps_to_tol) < 50


def test_plain_log_prob_function():
    def log_prob(params, x):  # Gaussian mean, unit variance, written by hand
        return -0.5 * (x - params["mu"]) ** 2

    run = jaxmle.fit(
        log_prob, {"mu": 0.0}, _X1, optimizer=optax.sgd, hyperparams={"learning_rate": 0.5},
        steps=60,
    )  # fmt: skip
    # mean reduction: mu <- mu + 0.5 (xbar - mu), error 0.5**60 of the start
    np.testing.assert_allclose(run.params["mu"], _X1.mean(), rtol=1e-14)
    assert run.params["mu"].dtype == jnp.float64
    # The reported loss is the mean negative log-likelihood at the last step's params.
    mu59 = run.trace.params["mu"][-2]
    np.testing.assert_allclose(run.loss, np.mean(0.5 * (_X1 - mu59) ** 2), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# The seed notebook's 2-D Gaussian with known covariance 5 I.

SIGMA = 5.0 * np.eye(2)
MVN = models.MultivariateGaussian(cov=jnp.asarray(SIGMA))
XG = np.random.default_rng(1).multivariate_normal([1.0, 1.0], SIGMA, 20)
N = XG.shape[0]
XBAR = XG.mean(0)
P0 = {"mean": jnp.zeros(2)}
REF = {"mean": jnp.asarray(XBAR)}


def _sgd(lr, **kw):
    """Fit of the 2-D Gaussian mean with optax.sgd (one program per static setting: tests
    share them by using the same steps / batch size / reference-or-not)."""
    kw.setdefault("steps", 100)
    return jaxmle.fit(MVN, P0, XG, optimizer=optax.sgd, hyperparams={"learning_rate": lr}, **kw)


def _ascent(lr, steps, scale=1.0):
    """mu_{t+1} = mu_t + lr * scale * inv(Sigma) sum_i (x_i - mu_t), from mu_0 = 0."""
    mu, out = np.zeros(2), []
    sinv = np.linalg.inv(SIGMA)
    for _ in range(steps):
        mu = mu + lr * scale * sinv @ np.sum(XG - mu, axis=0)
        out.append(mu)
    return np.array(out)


def test_sum_reduction_reproduces_seed_gradient_ascent():
    lam = 0.01
    run = _sgd(lam, steps=3, reduction="sum")
    np.testing.assert_array_equal(run.trace.step, [1, 2, 3])
    np.testing.assert_allclose(run.trace.params["mean"], _ascent(lam, 3), rtol=1e-12)
    np.testing.assert_allclose(run.params["mean"], _ascent(lam, 3)[-1], rtol=1e-12)


def test_mean_reduction_divides_step_by_n():
    lam = 0.4
    run = _sgd(lam)  # 100 steps, one record per step
    expected = _ascent(lam, 100, 1 / N)
    np.testing.assert_allclose(run.trace.params["mean"], expected, rtol=1e-12)
    # Record r holds the loss and gradient norm of step r, evaluated at the params left by r
    # steps (mu_0 = 0): the mean negative log-likelihood and |inv(Sigma)(mu_r - xbar)|.
    mus = np.vstack([np.zeros(2), expected[:-1]])
    d = XG[None, :, :] - mus[:, None, :]
    sinv = np.linalg.inv(SIGMA)
    quad = np.einsum("rij,jk,rik->ri", d, sinv, d)
    nll = 0.5 * (2 * np.log(2 * np.pi) + np.log(np.linalg.det(SIGMA)) + quad).mean(1)
    np.testing.assert_allclose(run.trace.loss, nll, rtol=1e-12)
    gnorm = np.linalg.norm((mus - XBAR) @ sinv, axis=1)
    np.testing.assert_allclose(run.trace.grad_norm, gnorm, rtol=1e-9, atol=1e-16)
    assert run.loss == run.trace.loss[-1] and run.grad_norm == run.trace.grad_norm[-1]


# --------------------------------------------------------------------------------------------
# Keys and compilation


def _minibatch(key, lr=0.1, **kw):
    return _sgd(lr, steps=20, batch_size=5, key=key, **kw)


def _assert_tree_equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_same_key_same_result_bitwise():
    a = _minibatch(jax.random.key(7))
    b = _minibatch(jax.random.key(7))
    _assert_tree_equal(a, b)


def test_different_key_different_trajectory():
    a = _minibatch(jax.random.key(7))
    b = _minibatch(jax.random.key(8))
    assert not np.array_equal(a.trace.loss, b.trace.loss)
    assert not np.any(np.all(a.trace.params["mean"] == b.trace.params["mean"], axis=-1))


def test_no_recompilation_for_new_hyperparams_data_model_values():
    caches = (_fit._init_jit, _fit._run_jit, _fit._finish_jit)
    key = jax.random.key(0)
    first = _minibatch(key, lr=0.1, tol=1e-3)
    sizes = [c._cache_size() for c in caches]
    runs = [
        _minibatch(key, lr=0.2, tol=1e-3),  # new learning rate
        _minibatch(jax.random.key(1), lr=0.1, tol=1e-3),  # new key
        jaxmle.fit(MVN, P0, XG + 1.0, optimizer=optax.sgd, hyperparams={"learning_rate": 0.1},
                   steps=20, batch_size=5, key=key, tol=1e-3),  # new data values
        jaxmle.fit(models.MultivariateGaussian(cov=2.0 * jnp.eye(2)), P0, XG, optimizer=optax.sgd,
                   hyperparams={"learning_rate": 0.1}, steps=20, batch_size=5, key=key,
                   tol=1e-3),  # new model of the same structure
        jaxmle.fit(MVN, {"mean": jnp.ones(2)}, XG, optimizer=optax.sgd,
                   hyperparams={"learning_rate": 0.1}, steps=20, batch_size=5, key=key,
                   tol=1e-3),  # new starting point
    ]  # fmt: skip
    bigger_tol = _minibatch(key, lr=0.1, tol=10.0)  # new tolerance
    assert [c._cache_size() for c in caches] == sizes
    # ... and each change did change the result.
    for r in runs:
        assert not np.array_equal(r.trace.params["mean"], first.trace.params["mean"])
    assert int(bigger_tol.steps_to_tol) != int(first.steps_to_tol)


# --------------------------------------------------------------------------------------------
# Divergence


def test_divergence_is_flagged_and_frozen():
    lam, steps = 1e30, 100
    run = _sgd(lam, steps=steps)
    # numpy: the first step whose loss, gradient or update is non-finite, or whose loss
    # exceeds EXPLODE_FACTOR (1e50) times max(1, |first loss|), freezes the run.
    sinv = np.linalg.inv(SIGMA)
    logdet = np.log(np.linalg.det(SIGMA))
    mus, mu, expected_step, loss0 = [np.zeros(2)], np.zeros(2), -1, None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            d = XG - mu
            loss = np.mean(0.5 * (2 * np.log(2 * np.pi) + logdet + np.sum((d @ sinv) * d, 1)))
            loss0 = loss if loss0 is None else loss0
            exploded = abs(loss) > 1e50 * max(1.0, abs(loss0))
            g = -sinv @ d.mean(0)
            new = mu - lam * g
            finite = np.isfinite(loss) and np.all(np.isfinite(g)) and np.all(np.isfinite(new))
            if exploded or not finite:
                expected_step = t
                break
            mu = new
            mus.append(mu)
    assert expected_step > 0
    assert bool(run.diverged)
    assert int(run.diverged_step) == expected_step
    assert np.all(np.isfinite(run.params["mean"]))
    np.testing.assert_allclose(run.params["mean"], mus[expected_step], rtol=1e-12)
    assert np.isfinite(run.loss) and np.isfinite(run.grad_norm)
    # Records after the divergence repeat the frozen state; records before follow numpy.
    after = np.asarray(run.trace.step) > expected_step
    assert after.any() and not after.all()
    frozen = np.asarray(run.trace.params["mean"])[after]
    np.testing.assert_array_equal(frozen, np.broadcast_to(run.params["mean"], frozen.shape))
    np.testing.assert_array_equal(run.trace.loss[after], np.full(after.sum(), run.loss))
    np.testing.assert_array_equal(run.trace.grad_norm[after], np.full(after.sum(), run.grad_norm))
    np.testing.assert_allclose(
        run.trace.params["mean"][~after], np.array(mus[1 : expected_step + 1]), rtol=1e-12
    )
    assert not bool(run.converged)


# --------------------------------------------------------------------------------------------
# Convergence bookkeeping


def test_steps_to_tol_full_batch_matches_numpy():
    lam, tol, steps = 0.5, 1e-3, 100
    run = _sgd(lam, steps=steps, reference=REF, tol=tol)
    dist = np.linalg.norm(_ascent(lam, steps, 1 / N) - XBAR, axis=1)  # after 1, 2, ... steps
    first = int(np.argmax(dist <= tol)) + 1
    assert dist[first - 1] <= tol < dist[first - 2]
    assert abs(dist[first - 1] - tol) > 1e-9 and abs(dist[first - 2] - tol) > 1e-9  # not borderline
    assert bool(run.converged)
    assert int(run.steps_to_tol) == first
    assert int(run.samples_to_tol) == first * N  # full batch: n observations per step
    np.testing.assert_allclose(run.distance, dist[-1], rtol=1e-6, atol=1e-15)


def test_steps_to_tol_gradient_norm_without_reference():
    # Without a reference the criterion is the gradient norm, |inv(Sigma)(mu_t - xbar)|, which
    # step t (0-based) evaluates at the params left by t steps: t steps done is reported.
    lam, tol, steps = 0.5, 1e-3, 100
    run = _sgd(lam, steps=steps, tol=tol)
    mus = np.vstack([np.zeros(2), _ascent(lam, steps, 1 / N)])
    gnorm = np.linalg.norm((mus - XBAR) / 5.0, axis=1)[:steps]
    t = int(np.argmax(gnorm <= tol))
    assert gnorm[t] <= tol < gnorm[t - 1]
    assert bool(run.converged)
    # gnorm[t] is the gradient at the params left by t steps: the tolerance held after t.
    assert int(run.steps_to_tol) == t
    assert np.isnan(run.distance)


def test_steps_to_tol_minibatch_and_samples():
    tol, b = 0.5, 4
    run = _sgd(0.5, steps=60, batch_size=b, key=jax.random.key(3), reference=REF, tol=tol,
               record_every=1)  # fmt: skip
    dist = np.linalg.norm(np.asarray(run.trace.params["mean"]) - XBAR, axis=1)
    assert bool(run.converged)
    first = int(np.argmax(dist <= tol)) + 1
    assert int(run.steps_to_tol) == first
    assert int(run.samples_to_tol) == first * b


def test_steps_to_tol_never_reached():
    run = _sgd(0.5, reference=REF, tol=1e-12)  # 100 steps leave a distance ~4e-5
    assert not bool(run.converged)
    assert int(run.steps_to_tol) == -1
    assert int(run.samples_to_tol) == -1
    assert int(run.diverged_step) == -1


def test_samples_to_tol_does_not_overflow_int32():
    # 300,000 steps of 10,000 rows is 3e9 observations, past int32. Driving a real run that
    # far is too slow for a unit test, so the final bookkeeping is called on a state that
    # converged at step 300,000 (batch_size > n is allowed with replacement).
    cfg, dyn, u0, key = _fit._prepare(MVN, P0, XG, optax.sgd(0.1), None, 10_000, True, "mean",
                                      REF, 1e-6, 10, jax.random.key(0))  # fmt: skip
    state = _fit._init_state(cfg, dyn, u0, key)._replace(conv_step=jnp.asarray(300_000, jnp.int32))
    res = _fit._finish(cfg, dyn, state, None, dyn.batch_size)
    assert int(res.steps_to_tol) == 300_000
    assert int(res.samples_to_tol) == 3_000_000_000


# --------------------------------------------------------------------------------------------
# Chunking and trace plan


def test_chunking_is_bitwise_identical():
    # 20 steps, a record every 3: 6 full records and a 2-step tail. Momentum carries optimiser
    # state and replace=False carries the epoch permutation (4 steps per epoch, so chunks of 6
    # steps end mid-epoch) across chunk boundaries.
    kw = dict(steps=20, record_every=3, batch_size=5, key=jax.random.key(5), replace=False,
              reference=REF, tol=0.3)  # fmt: skip

    def run(chunk, progress=None):
        return jaxmle.fit(MVN, P0, XG, optimizer=optax.sgd,
                          hyperparams={"learning_rate": 0.3, "momentum": 0.5},
                          chunk_records=chunk, progress=progress, **kw)  # fmt: skip

    whole = run(None)
    np.testing.assert_array_equal(whole.trace.step, [3, 6, 9, 12, 15, 18, 20])
    calls = []
    chunked = run(2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(6, 20), (12, 20), (18, 20), (20, 20)]
    _assert_tree_equal(whole, chunked)


@pytest.mark.parametrize(("steps", "records"), [(1000, 100), (1001, 91), (100, 100)])
def test_trace_is_bounded_and_ends_at_steps(steps, records):
    run = _sgd(0.1, steps=steps)
    assert run.trace.step.shape == (records,)
    assert run.trace.step[-1] == steps
    assert np.all(np.diff(run.trace.step) > 0)
    assert run.trace.params["mean"].shape == (records, 2)
    assert run.trace.loss.shape == run.trace.grad_norm.shape == (records,)
    np.testing.assert_array_equal(run.trace.params["mean"][-1], run.params["mean"])


# --------------------------------------------------------------------------------------------
# Which rows each step uses. The plain model log p_i = w[i] makes the sum-reduced gradient of
# a step minus the count of each row in its minibatch, so SGD with learning rate 1 adds those
# counts to w: the trace shows every step's batch composition.

NR = 12


def _counting(p, d):
    return p["w"][d["i"]]


def _row_counts(batch_size, steps, replace, key):
    run = jaxmle.fit(_counting, {"w": jnp.zeros(NR)}, {"i": jnp.arange(NR)},
                     optimizer=optax.sgd, hyperparams={"learning_rate": 1.0}, steps=steps,
                     batch_size=batch_size, key=key, replace=replace, reduction="sum",
                     record_every=1)  # fmt: skip
    w = np.vstack([np.zeros(NR), np.asarray(run.trace.params["w"])])
    return np.diff(w, axis=0)  # (steps, NR) counts per step


def test_without_replacement_uses_every_row_once_per_epoch():
    key = jax.random.key(11)
    counts = _row_counts(4, 6, False, key)  # 3 steps per epoch, 2 epochs
    np.testing.assert_array_equal(counts.sum(1), np.full(6, 4))
    assert set(np.unique(counts)) <= {0.0, 1.0}
    np.testing.assert_array_equal(counts[:3].sum(0), np.ones(NR))
    np.testing.assert_array_equal(counts[3:].sum(0), np.ones(NR))
    assert not np.array_equal(counts[:3], counts[3:])  # reshuffled
    # The rows are the documented epoch permutations, sliced in order.
    seed = _batching.seed_from_key(key)
    for t in range(6):
        perm = np.asarray(_batching.shuffle(seed, jnp.asarray(t // 3), NR))
        expected = np.bincount(perm[(t % 3) * 4 : (t % 3 + 1) * 4], minlength=NR)
        np.testing.assert_array_equal(counts[t], expected)


def test_without_replacement_remainder_skipped():
    counts = _row_counts(5, 4, False, jax.random.key(12))  # 2 steps per epoch, 2 rows unused
    for e in range(2):
        per_row = counts[2 * e : 2 * e + 2].sum(0)
        assert per_row.sum() == 10 and per_row.max() == 1


def test_with_replacement_uses_documented_stream():
    key = jax.random.key(13)
    counts = _row_counts(5, 6, True, key)
    seed = _batching.seed_from_key(key)
    for t in range(6):
        idx = _batching.sample_with_replacement(seed, jnp.asarray(t), 5, NR)
        np.testing.assert_array_equal(counts[t], np.bincount(np.asarray(idx), minlength=NR))


# --------------------------------------------------------------------------------------------
# Bad input


def _fit_kwargs(**overrides):
    kw = dict(model=MVN, params0=P0, data=XG, optimizer=optax.sgd(0.1), steps=3)
    kw.update(overrides)
    return kw


def _call(model, params0, data, **kw):
    return jaxmle.fit(model, params0, data, **kw)


def _bad(id_, match, **overrides):
    return pytest.param(overrides, match, id=id_)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        _bad("steps-zero", "`steps`", steps=0),
        _bad("steps-float", "`steps`", steps=2.5),
        _bad("batch-zero", "`batch_size`", batch_size=0, key=jax.random.key(0)),
        _bad("batch-float", "`batch_size`", batch_size=2.5, key=jax.random.key(0)),
        _bad("batch-over-n", "`batch_size`", batch_size=N + 1, replace=False,
             key=jax.random.key(0)),
        _bad("no-key", "`key`", batch_size=4),
        _bad("reduction", "`reduction`", reduction="median"),
        _bad("tol-zero", "`tol`", tol=0.0),
        _bad("reference-structure", "`reference`", reference={"mu": jnp.zeros(2)}),
        _bad("reference-shape", "`reference`", reference={"mean": jnp.zeros(3)}),
        # A (1,) reference would broadcast against the (2,) mean and give a wrong distance.
        _bad("reference-broadcast", "`reference`", reference={"mean": jnp.zeros(1)}),
        _bad("optimizer-number", "`optimizer`", optimizer=0.1),
        _bad("optimizer-string", "`optimizer`", optimizer="adam"),
        _bad("hyperparams-with-built", "`hyperparams`", hyperparams={"learning_rate": 0.1}),
        # 0 is falsy: it must not silently mean "default".
        _bad("record-every-zero", "`record_every`", record_every=0),
        _bad("record-every-negative", "`record_every`", record_every=-2),
        _bad("chunk-zero", "`chunk_records`", chunk_records=0),
        # A negative chunk makes range() empty: no full record would run.
        _bad("chunk-negative", "`chunk_records`", chunk_records=-1),
        _bad("model", "`model`", model=3),
        _bad("data-rank", "`data`", data=XG[:, 0]),  # a 2-D Gaussian needs (n, 2) data
    ],
)  # fmt: skip
def test_bad_input_raises_input_error(overrides, match):
    with pytest.raises(jaxmle.InputError, match=match):
        _call(**_fit_kwargs(**overrides))


def test_data_leaves_with_different_leading_sizes():
    def lp(p, d):
        return -0.5 * (d["a"] - p) ** 2 + 0.0 * d["b"].sum()

    with pytest.raises(jaxmle.InputError, match="`data`"):
        jaxmle.fit(lp, 0.0, {"a": jnp.zeros(5), "b": jnp.zeros(4)}, optimizer=LBFGS, steps=2)
    with pytest.raises(jaxmle.InputError, match="data"):
        model = models.LinearRegression()
        data = {"X": jnp.zeros((5, 2)), "y": jnp.zeros(4)}
        jaxmle.fit(model, model.init(data), data, optimizer=LBFGS, steps=2)


# --------------------------------------------------------------------------------------------
# `converged` and `status` describe the final state; `steps_to_tol` when the tolerance first
# held. SGD with heavy momentum on the isotropic 2-D Gaussian oscillates: the error shrinks
# along one line through zero, so its distance dips below a tolerance and comes back above it.


def _momentum(**kw):
    return jaxmle.fit(MVN, P0, XG, optimizer=optax.sgd,
                      hyperparams={"learning_rate": 0.5, "momentum": 0.9}, steps=40,
                      record_every=1, **kw)  # fmt: skip


def test_converged_is_the_final_state_not_a_passing_visit():
    probe = _momentum(reference=REF, tol=1e-3)
    dist = np.linalg.norm(np.asarray(probe.trace.params["mean"]) - XBAR, axis=1)
    final = dist[-1]
    assert dist.min() < 0.5 * final  # it did pass closer than where it ended
    tol = float(np.sqrt(dist.min() * final))  # reached once, not at the end
    run = _momentum(reference=REF, tol=tol)
    first = int(np.argmax(dist <= tol)) + 1
    assert int(run.steps_to_tol) == first and int(run.samples_to_tol) == first * N
    assert not bool(run.converged)
    assert int(run.status) == jaxmle.Status.MAX_STEPS
    assert run.status.dtype == jnp.int32
    ok = _momentum(reference=REF, tol=float(2.0 * final))
    assert bool(ok.converged) and int(ok.status) == jaxmle.Status.OK


def test_converged_without_reference_uses_the_final_gradient_norm():
    probe = _momentum(tol=1e-3)
    g = np.asarray(probe.trace.grad_norm)
    assert g.min() < 0.5 * g[-1]
    tol = float(np.sqrt(g.min() * g[-1]))
    run = _momentum(tol=tol)
    assert int(run.steps_to_tol) >= 0
    assert float(run.grad_norm) > tol and not bool(run.converged)
    assert int(run.status) == jaxmle.Status.MAX_STEPS
    ok = _momentum(tol=float(2.0 * g[-1]))
    assert bool(ok.converged) and int(ok.status) == jaxmle.Status.OK


def test_divergence_status_and_not_converged():
    run = _sgd(1e30, reference=REF, tol=1e300)  # any distance is "within tol" ...
    assert bool(run.diverged) and not bool(run.converged)  # ... but a diverged run is not
    assert int(run.status) == jaxmle.Status.NONFINITE
    assert int(run.steps_to_tol) >= 0  # the tolerance did hold (at the start)


def test_exploding_finite_loss_is_a_divergence():
    # Plain gradient descent with a step 20/5 = 4 times the curvature's limit: the error
    # triples each step, so the loss grows ~9x a step and stays finite for ~300 steps (2e199
    # and the like). It is flagged once the loss exceeds 1e50 × max(1, |first loss|).
    lam, steps = 20.0, 100
    run = _sgd(lam, steps=steps)
    sinv = np.linalg.inv(SIGMA)
    logdet = np.log(np.linalg.det(SIGMA))
    mu, losses = np.zeros(2), []
    for _ in range(steps):
        d = XG - mu
        losses.append(np.mean(0.5 * (2 * np.log(2 * np.pi) + logdet + np.sum((d @ sinv) * d, 1))))
        mu = mu + lam * sinv @ d.mean(0)
    losses = np.array(losses)
    assert np.all(np.isfinite(losses))  # never NaN or inf: the old rule saw no divergence
    expected = int(np.argmax(np.abs(losses) > _fit.EXPLODE_FACTOR * max(1.0, abs(losses[0]))))
    assert 0 < expected < steps - 1
    assert bool(run.diverged) and int(run.diverged_step) == expected
    assert int(run.status) == jaxmle.Status.NONFINITE
    assert float(run.loss) <= _fit.EXPLODE_FACTOR * max(1.0, abs(losses[0]))


# --------------------------------------------------------------------------------------------
# Optimiser factories: numeric hyperparameters traced, integer settings bound, and factories
# that branch on a hyperparameter in Python built as given.


def test_lbfgs_factory_works():
    model, data, _ = _CASES["gaussian"]
    exact = model.closed_form(data)
    for hyper in (None, {"memory_size": 3, "linesearch": None, "learning_rate": 1.0}):
        run = jaxmle.fit(model, model.init(data), data, optimizer=optax.lbfgs, hyperparams=hyper,
                         steps=50, reference=exact, tol=1e-7, record_every=50)  # fmt: skip
        assert bool(run.converged), hyper
        assert bool(jaxmle.check(run.params, exact, rtol=1e-8).ok), hyper


def _clipped_sgd(learning_rate, max_norm=1.0):
    if max_norm <= 0:  # Python control flow on a hyperparameter: it cannot be traced
        raise ValueError("max_norm must be positive")
    return optax.chain(optax.clip_by_global_norm(max_norm), optax.sgd(learning_rate))


def test_factory_branching_on_hyperparameter_is_built_from_values():
    hyper = {"learning_rate": 0.5, "max_norm": 0.05}
    run = _sgd_like(_clipped_sgd, hyper)
    built = _sgd_like(_clipped_sgd(**hyper), None)
    _assert_tree_equal(run.params, built.params)
    # Swept, it cannot be vmapped: a clear error, not a TracerBoolConversionError.
    with pytest.raises(jaxmle.InputError, match="Python control flow"):
        jaxmle.sweep(MVN, P0, XG, optimizer=_clipped_sgd, grid={"max_norm": [0.1, 0.2]},
                     hyperparams={"learning_rate": 0.5}, steps=3,
                     key=jax.random.key(0))  # fmt: skip
    with pytest.raises(jaxmle.InputError, match=r"`grid\['memory_size'\]`.*integer setting"):
        jaxmle.sweep(MVN, P0, XG, optimizer=optax.lbfgs, grid={"memory_size": [3, 5]}, steps=3,
                     key=jax.random.key(0))  # fmt: skip
    with pytest.raises(jaxmle.InputError, match="`hyperparams`"):
        _sgd_like(optax.sgd, {"lr": 0.1})  # misspelt


def _sgd_like(optimizer, hyper):
    return jaxmle.fit(MVN, P0, XG, optimizer=optimizer, hyperparams=hyper, steps=5)


# --------------------------------------------------------------------------------------------
# params0 and log_prob are checked at the boundary.


def test_params0_outside_domain_raises():
    model = models.Gaussian()
    with pytest.raises(jaxmle.InputError, match=r"`params0\['variance'\]` = -1.0 .*positive"):
        jaxmle.fit(model, {"mean": 0.0, "variance": -1.0}, _X1, optimizer=LBFGS, steps=2)
    bern = models.Bernoulli()
    with pytest.raises(jaxmle.InputError, match=r"`params0\['prob'\]`.*unit"):
        jaxmle.fit(bern, {"prob": 1.0}, _B, optimizer=LBFGS, steps=2)
    with pytest.raises(jaxmle.InputError, match=r"`params0\['mean'\]` is not finite"):
        jaxmle.fit(model, {"mean": np.nan, "variance": 1.0}, _X1, optimizer=LBFGS, steps=2)
    with pytest.raises(jaxmle.InputError, match="`params0` must be a dict with keys"):
        jaxmle.fit(model, {"mean": 0.0}, _X1, optimizer=LBFGS, steps=2)


def test_log_prob_must_be_pointwise():
    def summed(p, x):
        return jnp.sum(-0.5 * (x - p["mu"]) ** 2)

    def outer(p, x):  # a broadcasting slip: (n, n)
        return -0.5 * (x[:, None] - p["mu"] * jnp.ones_like(x)) ** 2

    for bad, shape in ((summed, r"\(\)"), (outer, r"\(50, 50\)")):
        with pytest.raises(jaxmle.InputError, match=rf"shape \(50,\); got shape {shape}"):
            jaxmle.fit(bad, {"mu": 0.0}, _X1, optimizer=LBFGS, steps=2)


def test_repr_is_a_few_lines_not_the_trace():
    # The same call as test_lbfgs_reaches_closed_form's (its program, no new compile).
    model, data, _ = _CASES["bernoulli"]
    exact = model.closed_form(data)
    run = jaxmle.fit(model, model.init(data), data, optimizer=LBFGS, steps=50,
                     reference=exact, tol=1e-7, record_every=50)  # fmt: skip
    text = repr(run)
    assert len(text) < 300, text
    assert text.startswith("FitResult(status OK, loss ") and "trace of 1 records)" in text
    assert f"params {{'prob': {round(float(exact['prob']), 6)}}}" in text  # the estimate, rounded
    stacked = jax.tree_util.tree_map(lambda *v: np.stack(v), run, run)
    assert repr(stacked) == ("FitResult: 2 runs (2,) (ok 2); params {'prob': (2,)}; trace of 1 "
                             "records")  # fmt: skip
