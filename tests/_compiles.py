"""Counting XLA compilations in tests: one listener for the whole test process.

``with compiles() as c: ...`` leaves the number of backend compiles inside the block in
``c["n"]``. jax.monitoring listeners cannot be removed, so registering one per test module
would count every compile several times over; this module registers it once.
"""

from __future__ import annotations

import contextlib
import threading

import jax

_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_events: list[float] = []
_lock = threading.Lock()


def _on_event(name: str, duration: float, **_kw) -> None:
    if name == _COMPILE_EVENT:
        with _lock:
            _events.append(duration)


jax.monitoring.register_event_duration_secs_listener(_on_event)


@contextlib.contextmanager
def compiles():
    box = {"n": 0}
    start = len(_events)
    try:
        yield box
    finally:
        box["n"] = len(_events) - start
