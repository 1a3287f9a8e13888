"""Test-wide settings: float64 everywhere (accuracy is claimed in float64)."""

import os

import jax
import pytest

# The library never flips this itself; the test fixtures (like the CLI entry point) do.
jax.config.update("jax_enable_x64", True)

# The CLI turns the persistent compilation cache on by default; the suite must not write into
# the user's cache folder (tests/test_cache.py sets its own folders for its subprocesses).
os.environ.setdefault("JAXMLE_NO_COMPILATION_CACHE", "1")
os.environ.setdefault("JAXMLE_NO_QUICK_FLAGS", "1")  # in-process --quick: the suite's XLA flags
# In-process runs of several studies one after the other (tests/test_cli.py runs --jobs 2).
os.environ.setdefault("JAXMLE_JOBS", "1")


@pytest.fixture(autouse=True)
def _float64_stays_on():
    """A test that turns float64 off and leaves it off fails here, not in every later test.

    (xdist runs the rest of a worker's tests in that process: one leak once made 220 later
    tests fail in float32.)
    """
    yield
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
        pytest.fail("the test left jax_enable_x64 off; restore it (try/finally)")
