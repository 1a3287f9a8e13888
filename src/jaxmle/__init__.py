"""jaxmle: maximum-likelihood and MAP estimation in JAX."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jaxmle")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
