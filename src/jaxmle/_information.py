"""Information matrices, scores and the log-likelihood at an estimate (:mod:`jaxmle.inference`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from . import _xla
from ._covariance import (
    _expected_info,
    _funcs,
    _has_expected,
    _neg_hessian,
    _no_expected_msg,
    _packer,
    _scores,
    _sym_keys,
)
from ._errors import InputError
from ._inference import _check_model, _prepare
from ._models import Model

PyTree = Any


@partial(_xla.jit, static_argnames=("fn", "what", "include_prior", "symmetric"))
def _matrix_jit(model, params, data, fn, what, include_prior, symmetric):
    m = model if fn is None else fn
    pk = _packer(params, _sym_keys(m, symmetric))
    if what == "hessian":
        return _neg_hessian(m, pk, data, include_prior)
    if what == "expected":
        return _expected_info(m, pk, data, include_prior)
    return _scores(m, pk, data)


def _matrix(model, params, data, what, include_prior, symmetric):
    symmetric = tuple(symmetric)
    params, data = _prepare(model, params, data, symmetric)
    m, fn = (model, None) if isinstance(model, Model) else (None, model)
    return _matrix_jit(m, params, data, fn=fn, what=what, include_prior=bool(include_prior),
                       symmetric=symmetric)  # fmt: skip


def observed_information(
    model: Model | Callable,
    params: PyTree,
    data: PyTree,
    *,
    include_prior: bool = True,
    symmetric: Sequence[str] = (),
) -> jax.Array:
    """Observed information ``−∇²(Σ_i log p(x_i | θ) + log p(θ))`` at ``params``, ``(k, k)``.

    Computed with ``jax.hessian`` of the total log-likelihood of the flattened natural
    parameters (order and labels: :func:`param_labels`).

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: natural parameters.
        data: the observations.
        include_prior: add the model's log prior (MAP fits).
        symmetric: as in :func:`summary`.

    Returns:
        The ``(k, k)`` matrix.
    """
    _check_model(model)
    return _matrix(model, params, data, "hessian", include_prior, symmetric)


def expected_information(
    model: Model,
    params: PyTree,
    data: PyTree,
    *,
    include_prior: bool = True,
) -> jax.Array:
    """Expected (Fisher) information ``E[−∇² ℓ]`` at ``params``, for the built-in models.

    Known in closed form for Gaussian, MultivariateGaussian, LinearRegression (fixed design),
    Bernoulli, Poisson and LogisticRegression; computed by autodiff of each model's moments
    (``Σ_i ∇μ_iᵀ V_i⁻¹ ∇μ_i`` and the variance terms), so any parameter order works. A prior
    adds its (non-random) negative Hessian.

    Args:
        model: one of the models above.
        params: natural parameters.
        data: the observations (only the design and ``n`` matter).
        include_prior: add the log prior's negative Hessian.

    Returns:
        The ``(k, k)`` matrix.

    Raises:
        InputError: for other models and plain functions.
    """
    _check_model(model)
    if not _has_expected(model):
        raise InputError(_no_expected_msg(model))
    return _matrix(model, params, data, "expected", include_prior, ())


def scores(
    model: Model | Callable, params: PyTree, data: PyTree, *, symmetric: Sequence[str] = ()
) -> jax.Array:
    """Per-observation scores ``∇_θ log p(x_i | θ)``, ``(n, k)``.

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: natural parameters.
        data: the observations.
        symmetric: as in :func:`summary`.

    Returns:
        One row of gradients per observation (columns: :func:`param_labels`).
    """
    _check_model(model)
    return _matrix(model, params, data, "scores", False, symmetric)


def loglik(model: Model | Callable, params: PyTree, data: PyTree) -> jax.Array:
    """Total log-likelihood ``Σ_i log p(x_i | θ)`` (no prior).

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: natural parameters.
        data: the observations.

    Returns:
        A scalar.
    """
    params, data = _prepare(model, params, data, ())
    log_prob, _ = _funcs(model)
    return jnp.sum(log_prob(params, data))
