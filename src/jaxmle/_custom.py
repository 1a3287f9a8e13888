"""A user's own likelihood as a Model, without subclassing: :func:`custom`.

``custom(log_prob, constraints=..., init=..., names=...)`` bundles a pointwise
``log_prob(params, data) -> (n,)`` over a dict of parameters with a constraint per parameter
(unnamed ones are real), a starting point, row labels and priors, into a :class:`CustomModel`
that works wherever a built-in model does: :func:`jaxmle.mle` (which then optimises the
unconstrained values and takes its start from the model), :func:`jaxmle.fit` and
:mod:`jaxmle.inference` (standard errors of the natural parameters).

The functions are static metadata of the model (part of a compiled program's key) and are
canonicalised (:func:`jaxmle._canonical.canonical`): two models built apart from functions with
the same code, constants and closed-over values are equal, so the second reuses the first's
compiled programs instead of compiling again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._canonical import canonical
from ._constraints import Constraint, real
from ._errors import InputError
from ._models import Model
from ._priors import Prior
from ._validation import as_array, n_rows

__all__ = ["CustomModel", "custom"]

Params = dict[str, jax.Array]


def _float() -> np.dtype:
    return np.dtype(jnp.result_type(float))  # float64 under jax_enable_x64, else float32


def _cast(x: Any) -> Any:
    """A parameter value in the default float dtype (a tracer stays a tracer)."""
    if isinstance(x, jax.core.Tracer):
        return jnp.asarray(x, _float())
    # NumPy on the host, then one transfer: jnp.asarray compiles a copy program per shape.
    return jax.device_put(np.asarray(x, _float()))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class CustomModel(Model):
    """A model from a user's pointwise log-likelihood over a dict of parameters.

    Built by :func:`custom` (which validates the arguments); see there. The parameters are the
    keys of ``init`` (a dict, or what a callable ``init`` returns for the data, learned when
    the model first sees data), of ``constraints``, ``names`` and ``prior``.

    Attributes:
        fn: the user's ``log_prob(params, data) -> (n,)`` (static).
        constraint_items: ``((name, Constraint), ...)`` as given (static); others are real.
        label_items: ``((name, (label, ...)), ...)``: row labels per parameter (static).
        init_fn: a callable ``init(data) -> params`` or None (static).
        validate_fn: a callable ``validate(data) -> data`` or None (static).
        declared: the parameter names known without data, in order (static).
        init_values: natural starting values (a dict of arrays) or None.
        prior: optional priors keyed by parameter name.
    """

    fn: Callable = field(metadata={"static": True})
    constraint_items: tuple = field(default=(), metadata={"static": True})
    label_items: tuple = field(default=(), metadata={"static": True})
    init_fn: Callable | None = field(default=None, metadata={"static": True})
    validate_fn: Callable | None = field(default=None, metadata={"static": True})
    declared: tuple = field(default=(), metadata={"static": True})
    init_values: Any = None
    prior: Mapping[str, Prior] | None = None

    def _keys(self) -> tuple[str, ...]:
        # A callable init's own keys are learned on the host (``_resolve``) and kept outside
        # the fields: inside jit the model is rebuilt without them, where every use of the
        # constraints treats a missing key as real (see to_natural).
        extra = self.__dict__.get("_learned", ())
        return self.declared + tuple(k for k in extra if k not in self.declared)

    @property
    def constraints(self) -> dict[str, Constraint]:
        """The constraint of every known parameter: as given, else ``real``."""
        given = dict(self.constraint_items)
        return {k: given.get(k, real) for k in self._keys()}

    @property
    def has_init(self) -> bool:
        """Whether the model has a starting point (``init`` given to :func:`custom`)."""
        return self.init_fn is not None or self.init_values is not None

    def to_unconstrained(self, params: Params) -> Params:
        """Natural to unconstrained, key by key (a parameter without a constraint is real)."""
        given = dict(self.constraint_items)
        return {k: given.get(k, real).to_unconstrained(v) for k, v in params.items()}

    def to_natural(self, uparams: Params) -> Params:
        """Unconstrained to natural, key by key (a parameter without a constraint is real)."""
        given = dict(self.constraint_items)
        return {k: given.get(k, real).to_natural(v) for k, v in uparams.items()}

    def log_prob(self, params: Params, data: Any) -> jax.Array:
        """The user's ``log_prob(params, data)``, checked to be one value per observation."""
        out = self.fn(params, data)
        leaves = jax.tree_util.tree_leaves(data)
        if leaves and np.ndim(leaves[0]) >= 1:  # (a single row under a user's vmap: no n)
            n = np.shape(leaves[0])[0]
            shape = getattr(out, "shape", None)
            if shape is None or tuple(shape) != (n,):
                got = f"shape {tuple(shape)}" if shape is not None else type(out).__name__
                raise InputError(
                    f"custom(log_prob): log_prob(params, data) must return one log-density per "
                    f"observation, an array of shape ({n},); got {got}. Do not sum or average "
                    "over observations (the engine does), and check for broadcasting slips "
                    "such as x[:, None] - mu."
                )
        return out

    def init(self, data: Any) -> Params:
        """The starting point in natural parameters: ``init`` as given, or ``init(data)``.

        Raises:
            InputError: when :func:`custom` was given no ``init`` (pass ``params0``), or a
                callable ``init`` returns something other than a dict of the parameters.
        """
        if self.init_values is not None:
            return {k: _cast(v) for k, v in self.init_values.items()}
        if self.init_fn is None:
            raise InputError(
                "this custom model has no starting point: pass params0 (e.g. jaxmle.mle(model, "
                "data, params0={...})), or give custom(..., init={...}) a dict of natural values "
                "or a function data -> params."
            )
        out = self.init_fn(data)
        self._resolve_keys(out, "init(data)")
        return {k: _cast(v) for k, v in out.items()}

    def validate(self, data: Any) -> Any:
        """The user's ``validate`` (if any), then float leaves as checked float arrays.

        Floating leaves are converted to JAX's default float and must be finite; integer and
        boolean leaves (counts, group indices) are kept as they are; every leaf must have one
        row per observation. A callable ``init``'s parameter names are learned here.
        """
        if self.validate_fn is not None:
            data = self.validate_fn(data)
        flat, treedef = jax.tree_util.tree_flatten_with_path(data)
        out = []
        for path, x in flat:
            name = f"data{jax.tree_util.keystr(path)}"
            if not isinstance(x, jax.Array | np.ndarray):
                try:
                    x = np.asarray(x)
                except Exception as err:  # ragged lists and the like
                    raise InputError(f"`{name}` could not be read as an array: {err}") from err
            if jnp.issubdtype(x.dtype, jnp.floating) or not (
                jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == bool
            ):
                x = as_array(x, name, min_size=0, host=True)
            out.append(x)
        data = jax.tree_util.tree_unflatten(treedef, out)
        n_rows(data)
        if self.init_fn is not None and "_learned" not in self.__dict__:
            self._resolve_keys(jax.eval_shape(self.init_fn, data), "init(data)")
        return data

    def _resolve_keys(self, params: Any, what: str) -> None:
        """Checks a callable init's output against the declared names and learns its keys."""
        _check_params_dict(params, what)
        _check_subset(self, tuple(params), what)
        object.__setattr__(self, "_learned", tuple(params))

    def _no_closed_form(self) -> str | None:
        return "a custom model has no closed-form estimator; use jaxmle.mle or jaxmle.fit."

    def _relabel(self, labels: tuple[str, ...], slices: Mapping[str, tuple[int, int]],
                 sym: frozenset[str]) -> tuple[str, ...]:  # fmt: skip
        """The summary's row labels with ``names`` in place of ``key[i]`` (at trace time)."""
        if not self.label_items:
            return labels
        out = list(labels)
        for key, names in self.label_items:
            if key not in slices:
                raise InputError(
                    f"`names` has key {key!r}, which is not a parameter; the parameters are "
                    f"{sorted(slices)}."
                )
            a, b = slices[key]
            if key in sym:  # a symmetric matrix: one name per row and column
                d = len(names)
                if d * (d + 1) // 2 != b - a:
                    raise InputError(
                        f"`names[{key!r}]` has {d} labels, but {key!r} is a symmetric matrix "
                        f"with {b - a} free entries; give one label per row (and column)."
                    )
                i, j = np.tril_indices(d)
                out[a:b] = [f"{key}[{names[r]},{names[c]}]" for r, c in zip(i, j, strict=True)]
            elif len(names) != b - a:
                raise InputError(
                    f"`names[{key!r}]` has {len(names)} labels, but params[{key!r}] has {b - a} "
                    f"entries; give one label per entry (in row-major order)."
                )
            else:
                out[a:b] = names
        dup = sorted(label for label, count in Counter(out).items() if count > 1)
        if dup:
            raise InputError(f"`names` gives the label(s) {dup} to several rows; every row "
                             "label must be unique.")  # fmt: skip
        return tuple(out)


def _check_params_dict(params: Any, what: str) -> None:
    if not isinstance(params, Mapping) or not params:
        raise InputError(
            f"custom model: `{what}` must be a non-empty dict from parameter name to value, "
            f"e.g. {{'coef': jnp.zeros(3), 'alpha': 1.0}}; got {type(params).__name__}."
        )
    bad = [k for k in params if not isinstance(k, str)]
    if bad:
        raise InputError(f"custom model: `{what}` has non-string key(s) {bad!r}.")


def _check_subset(model: CustomModel, keys: Sequence[str], what: str) -> None:
    """Every parameter named in constraints, names and prior is a key of the init's params."""
    for arg, named in (("constraints", [k for k, _ in model.constraint_items]),
                       ("names", [k for k, _ in model.label_items]),
                       ("prior", list(model.prior or {}))):  # fmt: skip
        unknown = [k for k in named if k not in keys]
        if unknown:
            raise InputError(
                f"custom model: `{arg}` names {unknown}, not in the params: `{what}` has keys "
                f"{list(keys)}. Name only parameters that log_prob uses."
            )


def _constraint_items(constraints: Any) -> tuple:
    if constraints is None:
        return ()
    if not isinstance(constraints, Mapping):
        raise InputError(
            f"`constraints` must be a dict from parameter name to constraint, e.g. "
            f"{{'alpha': jaxmle.models.positive}}; got {type(constraints).__name__}."
        )
    items = []
    for k, c in constraints.items():
        if not isinstance(k, str):
            raise InputError(f"`constraints` has a non-string key {k!r}; keys are parameter names.")
        if not isinstance(c, Constraint):
            raise InputError(
                f"`constraints[{k!r}]` must be a constraint such as jaxmle.models.positive, "
                f"unit_interval or real; got {c!r} ({type(c).__name__})."
            )
        items.append((k, c))
    return canonical(tuple(items))


def _label_items(names: Any) -> tuple:
    if names is None:
        return ()
    if not isinstance(names, Mapping):
        raise InputError(
            f"`names` must be a dict from parameter name to a list of labels, e.g. "
            f"{{'coef': ['const', 'x1']}}; got {type(names).__name__}."
        )
    items = []
    for k, v in names.items():
        if isinstance(v, str) or not isinstance(v, Sequence | np.ndarray):
            raise InputError(
                f"`names[{k!r}]` must be a list of labels, one per entry of params[{k!r}] "
                f"(e.g. ['const', 'x1']); got {v!r}."
            )
        labels = tuple(str(x) for x in v)
        if not labels:
            raise InputError(f"`names[{k!r}]` is empty; give one label per entry.")
        items.append((str(k), labels))
    return tuple(items)


def _init_values(init: Any) -> dict[str, np.ndarray]:
    _check_params_dict(init, "init")
    out = {}
    for k, v in init.items():
        if isinstance(v, jax.core.Tracer):
            out[k] = v
            continue
        try:
            a = np.asarray(v, dtype=float)
        except (TypeError, ValueError) as err:
            raise InputError(f"`init[{k!r}]` must be numbers: {err}") from err
        if not np.all(np.isfinite(a)):
            raise InputError(f"`init[{k!r}]` has non-finite values; pass finite starting values.")
        out[k] = a
    return out


def _check_init_values(model: CustomModel) -> None:
    """Shapes of ``names`` and domains of ``init``, where both are known without data."""
    given = dict(model.constraint_items)
    for k, v in model.init_values.items():
        if isinstance(v, jax.core.Tracer):
            continue
        c = given.get(k, real)
        inside = {"positive": lambda a: np.all(a > 0),
                  "unit_interval": lambda a: np.all((a > 0) & (a < 1))}.get(c.name)  # fmt: skip
        if inside is not None and not inside(v):
            shown = v if v.ndim == 0 else v.ravel()[:5]
            raise InputError(
                f"`init[{k!r}]` = {shown} is outside the parameter's domain ({c.name}): pass a "
                "starting value inside it."
            )
    sizes = {k: int(np.size(v)) for k, v in model.init_values.items()}
    for k, labels in model.label_items:
        if given.get(k, real).name != "positive_definite" and len(labels) != sizes[k]:
            raise InputError(
                f"`names[{k!r}]` has {len(labels)} labels, but init[{k!r}] has {sizes[k]} "
                "entries; give one label per entry (in row-major order)."
            )


def custom(
    log_prob: Callable[[Params, Any], jax.Array],
    *,
    constraints: Mapping[str, Constraint] | None = None,
    init: Mapping[str, Any] | Callable[[Any], Params] | None = None,
    names: Mapping[str, Sequence[str]] | None = None,
    prior: Mapping[str, Prior] | None = None,
    validate: Callable[[Any], Any] | None = None,
) -> CustomModel:
    """A model from a pointwise log-likelihood over a dict of parameters, without subclassing.

    The result is a :class:`~jaxmle.models.Model`: :func:`jaxmle.mle` (with its start from
    ``init`` when ``params0`` is None), :func:`jaxmle.fit` and :mod:`jaxmle.inference` accept
    it. Optimisers work on the unconstrained values (``log`` of a positive parameter, the
    logit of a probability); estimates, standard errors and tables are for the natural
    parameters. The standard errors are the natural-space inverse observed information, which
    at the optimum equals the delta method applied to the unconstrained fit (for a positive
    ``alpha = exp(u)``: ``se(alpha) = alpha · se(u)``); for a ``simplex`` it is taken along
    the simplex (``T(TᵀHT)⁻¹Tᵀ`` over its K − 1 free directions: the multinomial covariance
    for category probabilities), and AIC/BIC count K − 1 parameters for it.

    Args:
        log_prob: ``log_prob(params, data) -> (n,)``, one log-density per observation (not
            summed), with ``params`` a dict of natural parameters. Checked at first use.
        constraints: parameter name -> constraint (``jaxmle.models.positive``,
            ``unit_interval``, ``simplex``, ``positive_definite``, ``real``); parameters not
            named are real.
        init: the starting point: a dict of natural values, or a function ``data -> params``
            (for data-shaped parameters, e.g. ``lambda d: {"coef": jnp.zeros(d["X"].shape[1]),
            "alpha": 1.0}``). Without it, pass ``params0`` to :func:`jaxmle.mle`, and name
            every parameter in ``constraints``, ``names`` or ``prior`` (``real`` for an
            unconstrained one): the parameters are those keys then.
        names: parameter name -> one label per entry (row-major), the row labels of
            :func:`jaxmle.inference.summary` in place of ``coef[0]``, ... (for a
            positive-definite matrix, one label per row).
        prior: optional priors keyed by parameter name (MAP estimation), as for other models.
        validate: optional ``validate(data) -> data`` run on concrete data before anything
            else (raise :class:`jaxmle.InputError` for bad data); then float leaves are
            converted to JAX's default float and checked finite, integer leaves kept.

    Returns:
        A :class:`CustomModel`.

    Raises:
        InputError: a non-callable ``log_prob``; a constraint that is not a
            :class:`~jaxmle.models.Constraint`; ``constraints``, ``names`` or ``prior``
            naming a key that is not in the params (checked against ``init``: here for a
            dict, at first use for a function); ``names`` of the wrong length; an ``init``
            outside its domain. A ``log_prob`` that does not return shape ``(n,)`` (a scalar)
            raises at the first fit or summary.

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> def log_prob(p, x):
        ...     return jax.scipy.stats.norm.logpdf(x, p["mean"], jnp.sqrt(p["var"]))
        >>> model = jaxmle.models.custom(log_prob, constraints={"var": jaxmle.models.positive},
        ...                              init={"mean": 0.0, "var": 1.0})
        >>> res = jaxmle.mle(model, jnp.array([1.0, 2.0, 3.0, 6.0]))
        >>> [round(float(res.params[k]), 6) for k in ("mean", "var")]
        [3.0, 3.5]
    """
    if not callable(log_prob):
        raise InputError(
            f"`log_prob` must be a function log_prob(params, data) -> (n,); got "
            f"{type(log_prob).__name__}."
        )
    if validate is not None and not callable(validate):
        raise InputError(f"`validate` must be a function data -> data; got {validate!r}.")
    citems, litems = _constraint_items(constraints), _label_items(names)
    init_fn = init_values = None
    if callable(init) and not isinstance(init, Mapping):
        init_fn = canonical(init)
    elif init is not None:
        init_values = _init_values(init)
    if prior is not None and not isinstance(prior, Mapping):
        raise InputError(
            f"`prior` must be a dict from parameter name to prior, e.g. "
            f"{{'alpha': jaxmle.models.Normal(0.0, scale=1.0)}}; got {type(prior).__name__}."
        )
    declared = list(init_values or {})
    for k in [k for k, _ in citems] + [k for k, _ in litems] + list(prior or {}):
        if k not in declared:
            declared.append(k)
    if not declared and init_fn is None:
        raise InputError(
            "custom(): the model has no parameters: give `init` (a dict of starting values or a "
            "function data -> params), or name every parameter in `constraints` (use "
            "jaxmle.models.real for an unconstrained one)."
        )
    check = None if validate is None else canonical(validate)
    model = CustomModel(fn=canonical(log_prob), constraint_items=citems, label_items=litems,
                        init_fn=init_fn, validate_fn=check, declared=tuple(declared),
                        init_values=init_values,
                        prior=None if prior is None else dict(prior))  # fmt: skip
    if init_values is not None:
        _check_subset(model, tuple(init_values), "init")
        _check_init_values(model)
    return model
