"""Test-wide settings: float64 everywhere (accuracy is claimed in float64)."""

import jax

# The library never flips this itself; the test fixtures (like the CLI entry point) do.
jax.config.update("jax_enable_x64", True)
