"""``python -m jaxmle``: the ``jaxmle`` command (see :mod:`jaxmle.cli`)."""

import sys

from .cli import main

sys.exit(main())
