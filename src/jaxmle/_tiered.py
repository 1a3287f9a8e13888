"""Two tiers of compilation on CPU: small problems get a quick compile, large ones an optimised one.

XLA:CPU spends most of a first call in LLVM's optimiser. Compiled at
``xla_backend_optimization_level=0`` the same program compiles in about a third of the CPU
time but runs slower, by an amount that grows with the data (a Poisson IRLS, measured in one
process each: 32 × 4 compiles in 0.46 s against 1.22 s and runs in 0.24 ms either way;
200 × 5: 0.47 s against 1.43 s, 0.38 ms against 0.33 ms; 500 × 10: 0.41 s against 1.26 s,
0.48 ms against 0.28 ms; 10,000 × 50: 0.68 s against 2.57 s, 160 ms against 35 ms).

So a program compiled with :class:`TieredJit` is compiled quick for a signature (static
settings, input shapes and dtypes) whose array inputs hold at most ``quick_max`` elements in
all, where the run costs about the same, and optimised otherwise. One signature always runs one
program, so a repeated call returns the same bits. The persistent compilation cache keeps
either, keyed by its options. Programs with error-free (double-double) arithmetic are always
optimised: compiled quick, NIST's Filip lost 0.7 of its certified digits (:func:`mark_exact`).
With ``JAXMLE_TIERED=0`` in the environment, or off CPU, a :class:`TieredJit` is a plain
``jax.jit`` with the optimised options.
"""

from __future__ import annotations

import inspect
import math
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

__all__ = ["TieredJit", "mark_exact"]

_QUICK = {"xla_backend_optimization_level": 0}
_Tracer = jax.core.Tracer
_tracing = threading.local()


def mark_exact() -> None:
    """Called while tracing error-free arithmetic (``jaxmle._numerics``): no quick program.

    Double-double sums and products need the optimised program: compiled quick, NIST's Filip
    lost 0.7 digits of its certified coefficients (LRE 7.6 against a bar of 8.3).
    """
    _tracing.exact = True


def _enabled() -> bool:
    return os.environ.get("JAXMLE_TIERED", "1") != "0" and jax.default_backend() == "cpu"


def _leaf_key(x: Any) -> Any:
    # As jit sees an argument: host and device arrays of one shape and dtype are one signature.
    if isinstance(x, _Tracer):
        return _Tracer
    if isinstance(x, jax.Array):
        return (x.shape, x.dtype, x.weak_type)
    if isinstance(x, np.ndarray | np.generic):
        return (x.shape, x.dtype, False)
    return type(x)


class TieredJit:
    """``jax.jit(fun, static_argnames=..., compiler_options=...)``, compiled quick when small.

    Args:
        fun: the function to compile.
        static_argnames: its static arguments, by name (positional or keyword).
        compiler_options: the optimised program's XLA options.
        quick_max: the most array elements (all inputs together) compiled quick.

    Example:
        >>> import jax.numpy as jnp
        >>> f = TieredJit(lambda x, k: x * k, static_argnames=("k",))
        >>> float(f(jnp.ones(()), k=3))
        3.0
    """

    def __init__(self, fun: Callable, *, static_argnames: tuple[str, ...] = (),
                 compiler_options: Mapping[str, Any] | None = None,
                 quick_max: int = 2048) -> None:  # fmt: skip
        opts = dict(compiler_options or {})
        self._full = jax.jit(fun, static_argnames=static_argnames, compiler_options=opts)
        self._quick = jax.jit(fun, static_argnames=static_argnames,
                              compiler_options={**opts, **_QUICK})  # fmt: skip
        # Inside the caller's jit or vmap compiler options belong to the outer program.
        self._nested = jax.jit(fun, static_argnames=static_argnames)
        names = list(inspect.signature(fun).parameters)
        self._static_pos = tuple(i for i, n in enumerate(names) if n in static_argnames)
        self._static_names = frozenset(static_argnames)
        self._quick_max = quick_max
        self._tier: dict[Any, Any] = {}  # signature -> the jitted function it runs

    def _key(self, args: tuple, kwargs: dict) -> Any:
        statics = tuple(args[i] for i in self._static_pos if i < len(args))
        kw_static = tuple(sorted((k, v) for k, v in kwargs.items() if k in self._static_names))
        dyn = ([a for i, a in enumerate(args) if i not in self._static_pos],
               {k: v for k, v in kwargs.items() if k not in self._static_names})  # fmt: skip
        leaves, treedef = jax.tree_util.tree_flatten(dyn)
        return (bool(jax.config.jax_enable_x64), statics, kw_static, treedef,
                tuple(map(_leaf_key, leaves)))  # fmt: skip

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not _enabled():
            return self._full(*args, **kwargs)
        key = self._key(args, kwargs)
        if any(t is _Tracer for t in key[-1]):
            return self._nested(*args, **kwargs)
        fn = self._tier.get(key)
        if fn is None:
            fn = self._tier[key] = self._choose(key, args, kwargs)
        return fn(*args, **kwargs)

    def _choose(self, key: Any, args: tuple, kwargs: dict) -> Any:
        size = sum(math.prod(k[0]) for k in key[-1] if isinstance(k, tuple))
        if size > self._quick_max:
            return self._full
        _tracing.exact = False
        self._quick.lower(*args, **kwargs)  # the trace (then shared with the optimised one)
        return self._full if _tracing.exact else self._quick

    @property
    def quick_max(self) -> int:
        """The most array elements (all inputs together) compiled quick."""
        return self._quick_max

    def optimised(self, *args: Any, **kwargs: Any) -> Any:
        """The call on the optimised program, whatever the inputs' size (a second opinion)."""
        return self._full(*args, **kwargs)

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        """The optimised program's ``Lowered`` (see ``jax.jit(...).lower``)."""
        return self._full.lower(*args, **kwargs)

    def tier(self, *args: Any, **kwargs: Any) -> str:
        """``"quick"`` or ``"optimised"``: the program a call with these arguments runs."""
        fn = self._tier.get(self._key(args, kwargs))
        return "quick" if fn is self._quick else "optimised"

    def _cache_size(self) -> int:
        return sum(f._cache_size() for f in (self._full, self._quick, self._nested))
