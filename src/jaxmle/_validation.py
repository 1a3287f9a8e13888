"""Checks run at the public boundary, on concrete inputs, before anything is traced.

Every check names the offending argument and says how to fix it. When an input is a tracer
(the caller is already inside ``jit``/``vmap``) the value checks are skipped: shapes are still
checked, values cannot be.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._constraints import host_to_unconstrained
from ._errors import InputError, PrecisionWarning

__all__ = [
    "as_array",
    "check_binary",
    "check_count",
    "check_log_prob_shape",
    "check_params_domain",
    "check_positive",
    "check_same_length",
    "is_concrete",
    "n_rows",
    "warn_if_float32",
]


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds values (not a tracer inside ``jit``/``vmap``)."""
    return not isinstance(x, jax.core.Tracer)


def is_traced(*trees: Any) -> bool:
    """True when any leaf of any of ``trees`` is a tracer (the caller is inside jit/vmap)."""
    return any(not is_concrete(x) for t in trees for x in jax.tree_util.tree_leaves(t))


def _float_dtype() -> jnp.dtype:
    return jnp.result_type(float)  # float64 under jax_enable_x64, else float32


def host_float() -> type:
    """NumPy's type for JAX's default float: ``float64`` under x64, else ``float32``.

    One config read (it follows ``jax.enable_x64`` contexts), where ``jnp.result_type``
    costs ~10 µs on the warm path.
    """
    return np.float64 if jax.config.jax_enable_x64 else np.float32


def as_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_size: int = 1,
    finite: bool = True,
    dtype: Any = None,
    host: bool = False,
) -> jax.Array:
    """Converts ``x`` to a floating JAX array and checks rank, size and finiteness.

    Args:
        x: array-like input.
        name: the argument's name, used in error messages.
        ndim: required rank, or a tuple of allowed ranks.
        min_size: smallest allowed length of the leading axis (1 rejects empty data).
        finite: reject NaN and infinite values.
        dtype: target dtype; defaults to JAX's default float (float64 under x64).
        host: keep host input as a NumPy array (for a jitted program that moves it at its
            call, in C++, cheaper than a transfer here); device arrays stay device arrays.

    Returns:
        The input as a JAX array of the target dtype (NumPy for host input with ``host``).

    Raises:
        InputError: on a wrong rank, empty input, non-numeric or non-finite values.
    """
    if (host and dtype is None and type(x) is np.ndarray and x.ndim == ndim and x.ndim >= 1
            and x.shape[0] >= min_size
            and x.dtype == host_float() and (not finite or np.isfinite(x).all())):  # fmt: skip
        return x  # what the checks below would return, in ~2 µs instead of ~20
    if x is None:
        raise InputError(f"`{name}` is None; pass an array of numbers.")
    if not isinstance(x, jax.Array | np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as err:  # ragged lists and the like
            raise InputError(f"`{name}` could not be read as an array: {err}") from err
    if not (jnp.issubdtype(x.dtype, jnp.number) or x.dtype == bool):
        raise InputError(f"`{name}` has dtype {x.dtype}; pass numbers.")
    target = _float_dtype() if dtype is None else dtype
    if isinstance(x, np.ndarray):
        # NumPy is converted and checked on the host, then moved by device_put: jnp.asarray
        # compiles a copy program for every new shape and costs 45–150 µs a call (measured).
        x = np.asarray(x, dtype=target)
        on_host = x
        arr = x if host else jax.device_put(x)
    else:
        arr = x if x.dtype == target else jnp.asarray(x, dtype=target)
        on_host = None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise InputError(
                f"`{name}` must have rank {want}, got shape {arr.shape}; "
                "reshape it (e.g. a column vector x[:, None] or a flat vector x.ravel())."
            )
    if arr.ndim >= 1 and arr.shape[0] < min_size:
        raise InputError(f"`{name}` has {arr.shape[0]} rows; at least {min_size} are needed.")
    if arr.ndim == 0 and min_size > 1:
        raise InputError(f"`{name}` is a scalar; pass at least {min_size} observations.")
    if finite and is_concrete(arr):
        bad = ~np.isfinite(np.asarray(arr) if on_host is None else on_host)
        if bad.any():
            idx = np.argwhere(bad)[0]
            raise InputError(
                f"`{name}` contains {int(bad.sum())} non-finite value(s) (NaN or inf), first at "
                f"index {tuple(int(i) for i in idx)}; remove or impute them before estimating."
            )
    return arr


def check_same_length(arrays: Mapping[str, jax.Array]) -> int:
    """Checks that all arrays share the leading axis length and returns it.

    Args:
        arrays: mapping from argument name to array (rank >= 1).

    Returns:
        The common leading length ``n``.

    Raises:
        InputError: when the leading sizes differ.
    """
    sizes = {k: v.shape[0] for k, v in arrays.items()}
    if len(set(sizes.values())) > 1:
        desc = ", ".join(f"`{k}` has {n}" for k, n in sizes.items())
        raise InputError(
            f"mismatched numbers of observations: {desc} rows; "
            "every data array must have one row per observation."
        )
    return next(iter(sizes.values()))


def n_rows(data: Any) -> int:
    """The number of observations of a data pytree whose leaves share their leading axis.

    Args:
        data: pytree of arrays, one row per observation.

    Returns:
        The shared leading size ``n`` (≥ 1).

    Raises:
        InputError: when ``data`` has no leaves, a scalar leaf, mismatched leading sizes or no
            rows.
    """
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise InputError("`data` is empty; pass arrays with one row per observation.")
    sizes = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if len(sizes) != 1 or None in sizes:
        raise InputError(
            "`data` leaves must share their leading axis (one row per observation); got "
            f"leading sizes {sorted(map(str, sizes))}."
        )
    n = sizes.pop()
    if n < 1:
        raise InputError("`data` has no observations.")
    return n


def check_binary(x: jax.Array, name: str) -> None:
    """Raises unless every value of ``x`` is 0 or 1 (skipped for tracers)."""
    if is_concrete(x):
        v = np.asarray(x)
        bad = (v != 0) & (v != 1)
        if bad.any():
            raise InputError(
                f"`{name}` must contain only 0 and 1 (Bernoulli outcomes); found "
                f"{v[bad].ravel()[0]!r} among {int(bad.sum())} invalid value(s). "
                "Encode successes as 1 and failures as 0."
            )


def check_count(x: jax.Array, name: str) -> None:
    """Raises unless every value of ``x`` is a non-negative integer (skipped for tracers)."""
    if is_concrete(x):
        v = np.asarray(x)
        bad = (v < 0) | (v != np.round(v))
        if bad.any():
            raise InputError(
                f"`{name}` must contain non-negative integer counts; found {v[bad].ravel()[0]!r}."
            )


def check_positive(x: Any, name: str, *, what: str = "value") -> None:
    """Raises unless every value of ``x`` is strictly positive and finite (skipped for tracers).

    Args:
        x: scalar or array.
        name: argument name for the message.
        what: what the number is (e.g. "variance"), for the message.
    """
    if is_concrete(x):
        v = np.asarray(x, dtype=float)
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            shown = v if v.ndim == 0 else v.ravel()[:5]
            raise InputError(f"`{name}` must be a positive, finite {what}; got {shown}.")


def check_log_prob_shape(
    log_prob: Any, params: Any, data: Any, *, n: int | None = None, name: str = "model"
) -> None:
    """Checks that ``log_prob(params, data)`` returns one log-density per observation.

    Traces ``log_prob`` abstractly (``jax.eval_shape``: nothing is computed or compiled) and
    requires an output of shape ``(n,)``. A scalar (a summed log-likelihood) or an ``(n, n)``
    array (a broadcasting slip such as ``x[:, None] - mu``) would otherwise be summed by the
    engine into a wrong objective without any error.

    Args:
        log_prob: the pointwise log-likelihood ``log_prob(params, data)``.
        params: parameters to trace it with (concrete or ``jax.ShapeDtypeStruct`` leaves).
        data: the observations, a pytree whose leaves share the leading axis ``n``.
        n: the number of observations; read from ``data`` (:func:`n_rows`) when None.
        name: the argument that supplied ``log_prob``, for the message.

    Raises:
        InputError: when tracing fails or the output is not an array of shape ``(n,)``.

    Example:
        >>> import jax.numpy as jnp
        >>> check_log_prob_shape(lambda p, x: -0.5 * (x - p) ** 2, 0.0, jnp.zeros(3))
        >>> try:
        ...     check_log_prob_shape(lambda p, x: jnp.sum(x - p), 0.0, jnp.zeros(3))
        ... except ValueError as err:
        ...     print(str(err)[:75])
        `model`: log_prob(params, data) must return one log-density per observation
    """
    n = n_rows(data) if n is None else n
    try:
        out = jax.eval_shape(log_prob, params, data)
    except InputError:
        raise
    except Exception as err:
        raise InputError(
            f"`{name}`: log_prob(params, data) failed on the given params and data: "
            f"{type(err).__name__}: {err}"
        ) from err
    shape = getattr(out, "shape", None)
    if shape is None or tuple(shape) != (n,):
        got = f"shape {tuple(shape)}" if shape is not None else type(out).__name__
        raise InputError(
            f"`{name}`: log_prob(params, data) must return one log-density per observation, "
            f"an array of shape ({n},); got {got}. Do not sum or average over observations "
            "(the engine does), and check for broadcasting slips such as x[:, None] - mu."
        )


def check_params_domain(constraints: Mapping[str, Any], params: Any, name: str = "params0") -> Any:
    """Maps natural ``params`` to unconstrained space, rejecting values outside their domain.

    Args:
        constraints: a model's ``constraints`` (name -> :class:`~jaxmle.models.Constraint`).
        params: natural parameters, a dict with the same keys.
        name: the argument's name, for the message.

    Returns:
        The unconstrained parameters (a dict, same keys).

    Raises:
        InputError: when a key is missing or extra, or a value maps to a non-finite
            unconstrained value (e.g. a variance of -1 or 0, a probability of 1); the message
            names ``params0['variance']`` and its constraint.
    """
    if not isinstance(params, Mapping) or set(params) != set(constraints):
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise InputError(
            f"`{name}` must be a dict with keys {sorted(constraints)} (e.g. model.init(data)); "
            f"got {got}."
        )
    out = {}
    for k, c in constraints.items():
        # (A leaf per constraint, or a pytree of real leaves: NonlinearRegression's θ.)
        u = jax.tree_util.tree_map(lambda x, c=c: host_to_unconstrained(c, x), params[k])
        out[k] = u
        leaves = jax.tree_util.tree_leaves(u)
        if all(map(is_concrete, leaves)) and not all(np.all(np.isfinite(x)) for x in leaves):
            v = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(params[k])])
            shown = v[0] if v.size == 1 else v[:5]
            raise InputError(
                f"`{name}['{k}']` = {shown} is outside the parameter's domain ({c.name}): "
                f"pass a starting value inside it (e.g. model.init(data)['{k}'])."
            )
    return out


def warn_if_float32(where: str, stacklevel: int) -> None:
    """Warns (:class:`~jaxmle.PrecisionWarning`) when JAX computes in float32 (x64 is off).

    jaxmle claims float64 accuracy for its estimates and standard errors (a logistic
    regression fitted in float32 is off by ~6e-4 relative, with nothing to say so). One
    attribute read when x64 is on (well under a microsecond): entry points call it on every
    concrete call; a traced call (inside ``jit``/``vmap``) should not, as the caller's dtype
    choice is already made.

    Args:
        where: the public entry point, named in the message (e.g. ``"jaxmle.mle"``).
        stacklevel: as :func:`warnings.warn`'s, counted from the function that calls this one
            (2: the line that called that function).
    """
    if jax.config.jax_enable_x64:
        return
    warnings.warn(
        f"{where}: float64 is off (jax_enable_x64 is False), so this result is computed in "
        "float32 and is accurate to about 1e-4 relative, not to float64's ~1e-12. Turn float64 "
        "on at the start of the program, before creating any arrays: "
        'jax.config.update("jax_enable_x64", True) (or set JAX_ENABLE_X64=1).',
        PrecisionWarning,
        stacklevel=stacklevel + 1,
    )
