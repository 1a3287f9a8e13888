"""Value keys of settings: when two optimisers, schedules or functions are the same study.

An optax transformation is a pair of closures, so ``optax.adam(1e-2)`` built twice gives two
objects that compare unequal although they compute the same thing. One walk over such a value
builds a *value key*: functions by code (bytecode with its constants and names), closed-over
values, defaults, attributes and the globals they read; numbers by type and exact bits; arrays
by dtype, shape and a SHA-256 of their bytes. Whatever the walk cannot describe faithfully is
*opaque*: it is never merged with anything. The key serves two purposes:

- :func:`canonical` (in-process): maps a value to the first-seen one with the same key, so
  that jit, which compares static values by ``==`` (identity, for closures), reuses the
  compiled program. Modules, classes and plain hashable objects are keyed by identity or
  their own equality, which is faithful within one process.
- :func:`stable_digest` (across processes): a digest that a later process computes again for
  the same study, used by checkpoints (:mod:`jaxmle._checkpoint`) to tell whether a folder
  belongs to the study asked for. Identity and ``hash`` mean nothing in another process, so
  this key names what a new process would load: code from an installed distribution (or the
  standard library) by its module, name and the distribution's version; the user's own
  functions and classes by content; instances by class and attributes. No ``id()``, memory
  address or ``hash`` of a string enters it, and sets are sorted, so it does not depend on
  ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import importlib.machinery
import json
import os
import sys
import sysconfig
import threading
import types
from collections.abc import Iterable
from typing import Any

import jax
import numpy as np

__all__ = ["canonical", "stable_digest", "stable_key"]


class _OpaqueError(Exception):
    """A value the key cannot describe faithfully: the object keeps its identity."""

    def __init__(self, what: str = "a value") -> None:
        super().__init__(what)
        self.what = what
        self.where: str | None = None  # the innermost function that reads it

    def __str__(self) -> str:
        return self.what + (f" (read by {self.where})" if self.where else "")


_REGISTRY_SIZE = 256
_registry: dict[Any, Any] = {}  # value key -> first-seen object, least recently used first
_registry_lock = threading.Lock()
_MAX_DEPTH = 64


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return names


def _array_key(a: np.ndarray) -> tuple:
    if a.dtype.hasobject:
        raise _OpaqueError("an array of Python objects")
    data = np.ascontiguousarray(a).tobytes()
    return ("array", a.dtype.str, a.shape, hashlib.sha256(data).hexdigest())


def _is_typed_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


class _Keyer:
    """Builds in-process value keys; one per :func:`canonical` call (memo of keyed functions).

    The hooks (``_global``, ``_object``, ``_code``...) are where :class:`_StableKeyer` differs.
    """

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}
        self.active: set[int] = set()

    def key(self, obj: Any, depth: int = 0) -> Any:
        """A hashable key equal for two objects only when they behave the same (or raises)."""
        if depth > _MAX_DEPTH:
            raise _OpaqueError(f"a value nested more than {_MAX_DEPTH} levels deep")
        t = type(obj)
        if obj is None or t in (bool, int, str):
            return (t.__name__, obj)
        if t is bytes:
            return ("bytes", obj.hex())
        if t is float:
            return ("float", obj.hex())  # exact bits: 0.0 and -0.0 differ, as do 1 and 1.0
        if t is complex:
            return ("complex", obj.real.hex(), obj.imag.hex())
        if isinstance(obj, np.generic):
            return ("scalar", _array_key(np.asarray(obj)))
        if isinstance(obj, np.dtype):
            return ("dtype", obj.str, str(obj))
        if isinstance(obj, np.ndarray):
            return _array_key(obj)
        if isinstance(obj, jax.Array):
            if isinstance(obj, jax.core.Tracer):
                raise _OpaqueError("a traced value")
            if _is_typed_key(obj):
                impl = str(jax.random.key_impl(obj))
                return ("key", impl, _array_key(np.asarray(jax.random.key_data(obj))))
            return ("jax", _array_key(np.asarray(obj)))
        if isinstance(obj, types.ModuleType | type):
            return self._global(obj, depth)
        if t is types.FunctionType:
            return self._function(obj, depth)
        if id(obj) in self.active:  # a data structure that contains itself
            raise _OpaqueError("a structure that contains itself")
        self.active.add(id(obj))
        try:
            return self._container(obj, t, depth + 1)
        finally:
            self.active.discard(id(obj))

    def _container(self, obj: Any, t: type, d: int) -> Any:
        if t in (tuple, list) or (isinstance(obj, tuple) and hasattr(t, "_fields")):
            # Plain tuples and lists, and named tuples (GradientTransformation) with their type.
            return (self._type(t, d), tuple(self.key(v, d) for v in obj))
        if t is dict:
            # Insertion order kept: dicts that differ only in order are not merged (conservative).
            return ("dict", tuple((self.key(k, d), self.key(v, d)) for k, v in obj.items()))
        if issubclass(t, functools.partial):  # (and subclasses: jax.tree_util.Partial)
            tag = "partial" if t is functools.partial else ("partial", self._type(t, d))
            return (tag, self.key(obj.func, d), self.key(obj.args, d),
                    self.key(obj.keywords, d))  # fmt: skip
        if t is types.MethodType:
            return ("method", self.key(obj.__func__, d), self.key(obj.__self__, d))
        return self._object(obj, t, d)

    # -- hooks: in-process identity and equality ---------------------------------------

    def _type(self, t: type, d: int) -> Any:
        return t

    def _global(self, obj: Any, depth: int) -> Any:
        return ("global", obj)  # modules and classes are singletons: identity

    def _read(self, value: Any, names: set[str], d: int) -> Any:
        return self.key(value, d)  # a global a function reads

    def _object(self, obj: Any, t: type, d: int) -> Any:
        try:
            hash(obj)
        except TypeError:
            raise _OpaqueError(f"an unhashable {t.__qualname__}") from None
        # Any other hashable value (an enum member, a jitted function, an instance) compares
        # as jit compares static arguments: by its own equality (identity by default), within
        # its exact type (two IntEnums equal as ints stay apart).
        return ("object", t, obj)

    def _code(self, code: types.CodeType, d: int) -> Any:
        return code  # code objects compare by value: bytecode, constants, names, line

    def _namespace(self, fn: types.FunctionType) -> Any:
        return id(fn.__globals__)  # the defining namespace (kept alive by the registered object)

    def _reads_globals(self, fn: types.FunctionType) -> bool:
        return True

    def _cycle(self, fn: types.FunctionType) -> Any:
        return ("cycle", fn)

    def _fold(self, out: tuple) -> Any:
        return out

    # -- functions ---------------------------------------------------------------------

    def _function(self, fn: types.FunctionType, depth: int) -> Any:
        """A function by code, defaults, closed-over values, attributes and globals it reads."""
        if id(fn) in self.memo:
            return self.memo[id(fn)]
        if id(fn) in self.active:
            # Recursion through globals: this very function, whose key is being built.
            return self._cycle(fn)
        self.active.add(id(fn))
        try:
            d = depth + 1
            read = ()
            if self._reads_globals(fn):
                g = fn.__globals__
                names = _code_names(fn.__code__)
                read = tuple(sorted((name, self._read(g[name], names, d))
                                    for name in names if name in g))  # fmt: skip
            cells = []
            for c in fn.__closure__ or ():
                try:
                    contents = c.cell_contents
                except ValueError:  # an empty cell
                    cells.append(("empty",))
                    continue
                cells.append(self.key(contents, d))
            out = (
                "function",
                self._code(fn.__code__, d),
                self._namespace(fn),
                read,
                self.key(fn.__defaults__, d),
                self.key(fn.__kwdefaults__, d),
                tuple(cells),
                self.key(dict(fn.__dict__), d),  # e.g. __wrapped__, __signature__
            )
        finally:
            self.active.discard(id(fn))
        out = self._fold(out)
        self.memo[id(fn)] = out
        return out


def canonical(obj: Any) -> Any:
    """The first-seen object with the same value key as ``obj`` (``obj`` itself when new).

    Two ``optax.adam(1e-2)`` built apart then hit the same compiled program; ``adam(1e-3)``,
    another schedule, or anything the key cannot describe faithfully stays distinct.

    Args:
        obj: an optax transformation or factory, or a static setting (e.g. a line search).

    Returns:
        ``obj`` or an equivalent object seen before.

    Example:
        >>> import optax
        >>> canonical(optax.adam(1e-2)) is canonical(optax.adam(1e-2))
        True
        >>> canonical(optax.adam(1e-2)) is canonical(optax.adam(1e-3))
        False
    """
    try:
        key = _Keyer().key(obj)
        with _registry_lock:
            hit = _registry.pop(key, obj)
            _registry[key] = hit  # most recently used last
            while len(_registry) > _REGISTRY_SIZE:
                del _registry[next(iter(_registry))]
    except Exception:  # _OpaqueError, or a value whose hash or equality misbehaves
        return obj
    return hit


# --------------------------------------------------------------------------------------------
# Across processes.

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement (or at run time)
_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)
# Class attributes that document rather than compute (a docstring edit must not refuse a
# resume), or are derived from the rest (dataclass fields: __init__ closes over the defaults).
_CLASS_METADATA = frozenset({
    "__dict__", "__weakref__", "__doc__", "__module__", "__qualname__", "__annotations__",
    "__dataclass_fields__", "__dataclass_params__", "__orig_bases__", "__parameters__",
    "_abc_impl", "__firstlineno__", "__static_attributes__",
})  # fmt: skip
_DESCRIPTORS = (types.MethodDescriptorType, types.WrapperDescriptorType,
                types.ClassMethodDescriptorType, types.GetSetDescriptorType,
                types.MemberDescriptorType)  # fmt: skip


@functools.cache
def _distributions() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


@functools.cache
def _library(module: str) -> str | None:
    """What a module's code comes with (``"optax 0.2.8"``), or None for the user's own code.

    Code that comes with an installed distribution (or the standard library) is the same in
    a new process while the version is; the user's scripts and notebooks may be edited
    between two runs, so their code is keyed by content.
    """
    top = module.partition(".")[0]
    if top in sys.builtin_module_names or (top in sys.stdlib_module_names and _in_stdlib(top)):
        return "python " + ".".join(map(str, sys.version_info[:3]))
    dists = _distributions().get(top)
    if not dists:
        return None
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in sorted(set(dists)):
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist} ?")
    return ", ".join(out)


def _in_stdlib(top: str) -> bool:
    # A user's own test.py or code.py is not the standard library's module of that name.
    file = getattr(sys.modules.get(top), "__file__", None)
    paths = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
    return file is None or any(file.startswith(p + os.sep) for p in paths if p)


def _is_extension(module: str) -> bool:
    if module in sys.builtin_module_names:
        return True
    file = getattr(sys.modules.get(module), "__file__", None) or ""
    return file.endswith(_EXTENSIONS)


def _python_defined(t: type) -> bool:
    """Whether all of an instance's state is in its ``__dict__`` and slots (no C-level state)."""
    return all(c is object or (c.__flags__ & _HEAPTYPE and not _is_extension(c.__module__))
               for c in t.__mro__)  # fmt: skip


def _is_metadata(cls: type, name: str, value: Any) -> bool:
    if name in _CLASS_METADATA:
        return True
    # An enum's members (keyed where used, by name and value) and its machinery (_sunder_).
    return issubclass(cls, enum.Enum) and (
        isinstance(value, cls) or (name[:1] == name[-1:] == "_" and name[1:2] != "_")
    )


def _json(key: Any) -> str:
    return json.dumps(key, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _slots(t: type) -> Iterable[str]:
    for c in t.__mro__:
        slots = vars(c).get("__slots__", ())
        for s in (slots,) if isinstance(slots, str) else slots:
            if s in ("__dict__", "__weakref__"):
                continue
            if s.startswith("__") and not s.endswith("__"):  # name mangling
                s = f"_{c.__name__.lstrip('_')}{s}"
            yield s


class _StableKeyer(_Keyer):
    """Builds keys made of strings, integers, booleans and None only (JSON), for any process.

    Functions are folded into digests as soon as keyed, so a value reached many times (a
    helper every optax closure reads) costs one entry, and the JSON text stays small.
    """

    def __init__(self) -> None:
        super().__init__()
        self.modules: set[int] = set()

    def _type(self, t: type, d: int) -> Any:
        return t.__name__ if t in (tuple, list) else self._class(t, d)

    def _global(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, type):
            return self._class(obj, depth + 1)
        return self._module(obj, None, depth + 1)

    def _read(self, value: Any, names: set[str], d: int) -> Any:
        if isinstance(value, types.ModuleType):
            return self._module(value, names, d)
        return self.key(value, d)

    def _module(self, mod: types.ModuleType, names: set[str] | None, d: int) -> Any:
        name = mod.__name__
        lib = _library(name)
        if lib is not None:
            return ("module", name, lib)
        if names is None or id(mod) in self.modules:
            # The user's own module, reached without knowing which of its names are used.
            raise _OpaqueError(f"the module {name}")
        # The user's module, as a function reads it (``mymodule.helper(x)``): the attributes
        # whose names the function's code mentions.
        self.modules.add(id(mod))
        try:
            attrs = tuple(sorted((n, self._read(getattr(mod, n), names, d))
                                 for n in names if hasattr(mod, n)))  # fmt: skip
        finally:
            self.modules.discard(id(mod))
        return ("module", name, attrs)

    def _class(self, cls: type, d: int) -> Any:
        mod, qual = cls.__module__, cls.__qualname__
        lib = _library(mod) if isinstance(mod, str) else None
        if lib is not None and "<locals>" not in qual:
            return ("type", mod, qual, lib)
        if id(cls) in self.memo:
            return self.memo[id(cls)]
        if id(cls) in self.active:
            return ("cycle", str(mod), qual)
        self.active.add(id(cls))
        try:
            # The user's class, by content: bases, metaclass and the namespace's members.
            meta = type(cls)
            out = ("class", str(mod), qual,
                   tuple(self._class(b, d + 1) for b in cls.__bases__),
                   None if meta is type else self._class(meta, d + 1),
                   tuple((k, self._member(v, d + 1)) for k, v in sorted(vars(cls).items())
                         if not _is_metadata(cls, k, v)))  # fmt: skip
        finally:
            self.active.discard(id(cls))
        out = ("class", _sha(_json(out)))
        self.memo[id(cls)] = out
        return out

    def _member(self, v: Any, d: int) -> Any:
        if isinstance(v, staticmethod | classmethod):
            return (type(v).__name__, self.key(v.__func__, d))
        if isinstance(v, property):
            return ("property", self.key(v.fget, d), self.key(v.fset, d), self.key(v.fdel, d))
        if isinstance(v, functools.cached_property):
            return ("cached_property", self.key(v.func, d))
        return self.key(v, d)

    def _object(self, obj: Any, t: type, d: int) -> Any:
        if obj is Ellipsis:
            return ("ellipsis",)
        if isinstance(obj, enum.Enum):
            return ("enum", self._class(t, d), obj.name, self.key(obj.value, d))
        if t in (set, frozenset):
            # Sorted by key, not by hash (the order of a set of strings varies per process).
            return (t.__name__, tuple(sorted((self.key(v, d) for v in obj), key=_json)))
        named = self._named(obj)
        if named is not None:
            return named
        if isinstance(obj, types.BuiltinFunctionType):  # math.sin, tuple.__new__, [].append
            owner = obj.__self__
            if isinstance(owner, types.ModuleType):
                return ("builtin", self._module(owner, None, d), obj.__name__)
            return ("builtin", self.key(owner, d), obj.__name__)
        if isinstance(obj, _DESCRIPTORS):
            return ("descriptor", self._class(obj.__objclass__, d), obj.__name__)
        if isinstance(obj, types.MethodWrapperType):
            return ("method-wrapper", self.key(obj.__self__, d), obj.__name__)
        if t.__module__.startswith("jaxlib") and hasattr(obj, "__wrapped__"):
            # ``jax.jit(f)``: the function it compiles (jit's options do not change values).
            return ("jit", self._class(t, d), self.key(obj.__wrapped__, d))
        if _python_defined(t):
            state = []
            if hasattr(obj, "__dict__"):
                state += sorted((str(k), self.key(v, d)) for k, v in vars(obj).items())
            state += [(s, self.key(getattr(obj, s), d) if hasattr(obj, s) else ("unset",))
                      for s in _slots(t)]  # fmt: skip
            return ("instance", self._class(t, d), tuple(state))
        raise _OpaqueError(f"a {t.__module__}.{t.__qualname__}")

    def _named(self, obj: Any) -> Any:
        """A library's global object (``jnp.sin``, ``np.sin``, ``jax.nn.relu``) by its name."""
        try:
            mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
            if not (isinstance(mod, str) and isinstance(qual, str)) or "<" in qual:
                return None
            lib = _library(mod)
            target = sys.modules.get(mod) if lib is not None else None
            for part in qual.split("."):
                target = getattr(target, part, None)
        except Exception:  # an object whose attributes misbehave: not a named global
            return None
        return ("named", mod, qual, lib) if target is obj else None

    def _code(self, code: types.CodeType, d: int) -> Any:
        # Everything that decides what the code computes; not line numbers, so that a line
        # added above a function (or an edited comment) does not refuse a resume.
        consts = tuple(self._code(c, d) if isinstance(c, types.CodeType) else self.key(c, d)
                       for c in code.co_consts)  # fmt: skip
        return ("code", code.co_name, code.co_argcount, code.co_posonlyargcount,
                code.co_kwonlyargcount, code.co_flags, code.co_code.hex(), consts,
                code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
                getattr(code, "co_exceptiontable", b"").hex())  # fmt: skip

    def _namespace(self, fn: types.FunctionType) -> Any:
        return str(fn.__globals__.get("__name__"))

    def _reads_globals(self, fn: types.FunctionType) -> bool:
        # A library's globals are its own code, fixed by its version (part of the key).
        return _library(self._namespace(fn)) is None

    def _cycle(self, fn: types.FunctionType) -> Any:
        # The function whose key is being built, named by where it lives and its code.
        code = _sha(_json(self._code(fn.__code__, 0)))
        return ("cycle", self._namespace(fn), fn.__qualname__, code)

    def _fold(self, out: tuple) -> Any:
        lib = _library(out[2])
        return ("fn", out[2], lib, _sha(_json(out)))

    def _function(self, fn: types.FunctionType, depth: int) -> Any:
        try:
            return super()._function(fn, depth)
        except _OpaqueError as err:
            if err.where is None:
                err.where = f"{fn.__module__}.{fn.__qualname__}"
            raise


def stable_key(obj: Any) -> str:
    """The cross-process value key of ``obj`` as a JSON text (see the module docs).

    Args:
        obj: a setting: an optimiser, schedule, model, function, numbers, arrays, containers.

    Returns:
        A JSON text equal in any process for equal settings, and different whenever the
        in-process key (:func:`canonical`) tells the settings apart.

    Raises:
        _OpaqueError: ``obj`` holds something that cannot be identified across processes (a
            lock, a C-level object, an unknown module); the message names it.

    Example:
        >>> stable_key((1, 0.5))
        '["tuple",[["int",1],["float","0x1.0000000000000p-1"]]]'
    """
    try:
        return _json(_StableKeyer().key(obj))
    except _OpaqueError:
        raise
    except Exception as err:  # an attribute or equality that misbehaves while being walked
        raise _OpaqueError(f"a {type(obj).__qualname__} ({type(err).__name__}: {err})") from err


def stable_digest(obj: Any) -> str:
    """A 32-hex-digit SHA-256 digest of :func:`stable_key` (equal across processes).

    Args:
        obj: a setting (see :func:`stable_key`).

    Returns:
        The digest.

    Raises:
        _OpaqueError: as :func:`stable_key`.

    Example:
        >>> import optax
        >>> stable_digest(optax.adam(1e-2)) == stable_digest(optax.adam(1e-2))
        True
        >>> stable_digest(optax.adam(1e-2)) == stable_digest(optax.adam(1e-3))
        False
    """
    return _sha(stable_key(obj))
