"""Minibatch index sampling (``jaxmle._batching``): uniformity, independence, reproducibility.

Tolerances. Every statistical check uses fixed seeds, so it is deterministic; the thresholds
are chosen so that a correct sampler would fail them with negligible probability for *any*
seed, and a biased one fails them clearly:

* chi-square goodness of fit: p-value > 1e-4 (a uniform sampler fails one such test 1 in
  10,000 seeds; a bias of 1% per bin over 1e6 draws gives p ~ 1e-20);
* Pearson correlation of N pairs: |r| < 5 / sqrt(N), five standard errors of r under
  independence (two-sided tail ~ 6e-7).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxmle import _batching

N_BINS = 97  # prime, so no power-of-two structure of the hash can line up with the bins
STEPS, SIZE = 1000, 1000  # 1e6 draws


def _seed(i: int) -> jax.Array:
    return _batching.seed_from_key(jax.random.key(i))


@jax.jit
def _draws(seed, steps):
    # (STEPS, SIZE) indices: row t is step t's minibatch.
    return jax.vmap(lambda t: _batching.sample_with_replacement(seed, t, SIZE, N_BINS))(steps)


@pytest.fixture(scope="module")
def draws():
    return np.asarray(_draws(_seed(0), jnp.arange(STEPS, dtype=jnp.int32)))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def _lowbias32(x: int) -> int:
    """C. Wellons' lowbias32, in plain Python integers (the reference for ``hash32``)."""
    m = 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & m
    x ^= x >> 15
    x = (x * 0x846CA68B) & m
    return x ^ (x >> 16)


def test_hash32_is_lowbias32():
    rng = np.random.default_rng(0)
    xs = [0, 1, 2, 0xFFFF, 0x10000, 2**31, 2**32 - 1, *rng.integers(0, 2**32, 200).tolist()]
    got = np.asarray(_batching.hash32(jnp.asarray(np.array(xs, np.uint32))))
    assert got.dtype == np.uint32
    np.testing.assert_array_equal(got, np.array([_lowbias32(x) for x in xs], np.uint32))


def test_hash32_has_no_collisions_on_a_range():
    # A bijection of uint32: 2**18 consecutive inputs give 2**18 distinct outputs.
    h = np.asarray(_batching.hash32(jnp.arange(2**18, dtype=jnp.uint32)))
    assert np.unique(h).size == 2**18


def test_indices_in_range_and_int32(draws):
    assert draws.shape == (STEPS, SIZE)
    assert draws.dtype == np.int32
    assert draws.min() >= 0
    assert draws.max() < N_BINS


def test_uniform_chi_square(draws):
    counts = np.bincount(draws.ravel(), minlength=N_BINS)
    assert counts.size == N_BINS
    assert stats.chisquare(counts).pvalue > 1e-4


@pytest.mark.parametrize("seed", [1, 2])
def test_uniform_chi_square_other_seeds(seed):
    d = np.asarray(_draws(_seed(seed), jnp.arange(STEPS, dtype=jnp.int32)))
    assert stats.chisquare(np.bincount(d.ravel(), minlength=N_BINS)).pvalue > 1e-4


def test_uniform_chi_square_late_steps():
    # Steps far from 0 (a long run) are as uniform as the first ones.
    steps = jnp.arange(2**30, 2**30 + STEPS, dtype=jnp.int32)
    d = np.asarray(_draws(_seed(0), steps))
    assert stats.chisquare(np.bincount(d.ravel(), minlength=N_BINS)).pvalue > 1e-4


def test_pairs_of_consecutive_positions_uniform(draws):
    # Joint distribution of (idx[p], idx[p+1]) over a coarse 10 x 10 grid of bins: a weak
    # dependence between neighbours that a correlation misses shows up here.
    a, b = draws[:, :-1].ravel() * 10 // N_BINS, draws[:, 1:].ravel() * 10 // N_BINS
    observed = np.bincount(a * 10 + b, minlength=100)
    pa = np.bincount(a, minlength=10) / a.size
    pb = np.bincount(b, minlength=10) / b.size
    expected = np.outer(pa, pb).ravel() * a.size
    # ddof: the 18 free marginal probabilities were estimated from the data.
    assert stats.chisquare(observed, expected, ddof=18).pvalue > 1e-4


def test_no_lag1_correlation_between_positions(draws):
    a, b = draws[:, :-1], draws[:, 1:]
    assert abs(_corr(a, b)) < 5 / np.sqrt(a.size)


def test_no_lag1_correlation_between_steps(draws):
    a, b = draws[:-1, :], draws[1:, :]
    assert abs(_corr(a, b)) < 5 / np.sqrt(a.size)


def test_different_seeds_give_different_uncorrelated_streams(draws):
    # Seeds 0 and 1 (adjacent keys) and two raw seeds differing in one bit.
    other = np.asarray(_draws(_seed(1), jnp.arange(STEPS, dtype=jnp.int32)))
    assert abs(_corr(draws, other)) < 5 / np.sqrt(draws.size)
    # Agreement at the same (step, position) happens at the chance rate 1/n.
    assert abs(np.mean(draws == other) - 1 / N_BINS) < 5 * np.sqrt(1 / N_BINS / draws.size)
    s0, s1 = jnp.uint32(12345), jnp.uint32(12345 ^ 1)
    a = np.asarray(_draws(s0, jnp.arange(STEPS, dtype=jnp.int32)))
    b = np.asarray(_draws(s1, jnp.arange(STEPS, dtype=jnp.int32)))
    assert abs(_corr(a, b)) < 5 / np.sqrt(a.size)


def test_same_seed_and_step_give_identical_indices():
    seed = _seed(3)
    a = _batching.sample_with_replacement(seed, jnp.asarray(17, jnp.int32), 64, 1000)
    b = _batching.sample_with_replacement(seed, jnp.asarray(17, jnp.int32), 64, 1000)
    c = jax.jit(_batching.sample_with_replacement, static_argnums=(2, 3))(
        seed, jnp.asarray(17, jnp.int32), 64, 1000
    )
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    d = _batching.sample_with_replacement(seed, jnp.asarray(18, jnp.int32), 64, 1000)
    assert not np.array_equal(a, d)


@pytest.mark.parametrize("small", [1, 2, 7, 100])
def test_prefix_property(small):
    seed, step = _seed(4), jnp.asarray(5, jnp.int32)
    big = _batching.sample_with_replacement(seed, step, 1000, 10_000)
    prefix = _batching.sample_with_replacement(seed, step, small, 10_000)
    np.testing.assert_array_equal(prefix, big[:small])


def test_seed_from_key():
    s = _batching.seed_from_key(jax.random.key(0))
    assert s.shape == () and s.dtype == jnp.uint32
    assert s == _batching.seed_from_key(jax.random.key(0))
    assert s != _batching.seed_from_key(jax.random.key(1))


# --------------------------------------------------------------------------------------------
# shuffle

N_SHUFFLE, EPOCHS = 16, 20_000


@pytest.fixture(scope="module")
def perms():
    f = jax.jit(jax.vmap(lambda e: _batching.shuffle(_seed(0), e, N_SHUFFLE)))
    return np.asarray(f(jnp.arange(EPOCHS, dtype=jnp.int32)))


def test_shuffle_is_a_permutation(perms):
    assert perms.dtype == np.int32
    np.testing.assert_array_equal(
        np.sort(perms, axis=1), np.broadcast_to(np.arange(16), perms.shape)
    )
    big = np.asarray(_batching.shuffle(_seed(1), jnp.asarray(3, jnp.int32), 10_007))
    np.testing.assert_array_equal(np.sort(big), np.arange(10_007))


@pytest.mark.parametrize("element", [0, N_SHUFFLE - 1])
def test_shuffle_position_of_an_element_is_uniform(perms, element):
    pos = np.argmax(perms == element, axis=1)
    counts = np.bincount(pos, minlength=N_SHUFFLE)
    assert stats.chisquare(counts).pvalue > 1e-4


def test_shuffle_consecutive_epochs_independent(perms):
    # The element at position 0 in epoch e and in epoch e + 1: no correlation.
    first = perms[:, 0]
    assert abs(_corr(first[:-1], first[1:])) < 5 / np.sqrt(first.size - 1)
    # Distinct epochs give distinct permutations (16! possibilities), the same one twice.
    assert len({tuple(p) for p in perms[:100]}) == 100
    again = np.asarray(_batching.shuffle(_seed(0), jnp.asarray(5, jnp.int32), N_SHUFFLE))
    np.testing.assert_array_equal(again, perms[5])


# --------------------------------------------------------------------------------------------
# multiply-shift


_EDGE_BITS = [0, 1, 0xFFFF, 0x10000, 0x1FFFF, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1]
_NS = [1, 2, 3, 97, 10_000, 0xFFFF, 0x10000, 0x10001, 123_456_789, 2**31 - 1]


def _reference_below(bits: np.ndarray, n: int) -> np.ndarray:
    return ((bits.astype(np.uint64) * np.uint64(n)) >> np.uint64(32)).astype(np.int64)


def _bits() -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.concatenate(
        [np.array(_EDGE_BITS, np.uint32), rng.integers(0, 2**32, 20_000, dtype=np.uint32)]
    )


@pytest.mark.parametrize("n", _NS)
def test_below_x64(n):
    bits = _bits()
    got = np.asarray(_batching._below(jnp.asarray(bits, dtype=jnp.uint32), n))
    np.testing.assert_array_equal(got.astype(np.int64), _reference_below(bits, n))


def test_below_32bit_fallback():
    # The 16-bit-limb path taken when x64 is off must equal the exact 64-bit product.
    bits = _bits()
    expected = {n: _reference_below(bits, n) for n in _NS}
    assert jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        x = jnp.asarray(bits, dtype=jnp.uint32)
        assert x.dtype == jnp.uint32
        got = {n: np.asarray(_batching._below(x, n)) for n in _NS}
    finally:
        jax.config.update("jax_enable_x64", True)
    for n in _NS:
        assert got[n].dtype == np.int32
        np.testing.assert_array_equal(got[n].astype(np.int64), expected[n], err_msg=f"n={n}")
