"""A PrecisionWarning where float64 accuracy is claimed but jax_enable_x64 is off.

The suite runs with x64 on (conftest.py), so the float32 case runs in a fresh subprocess that
never turns it on: ``jaxmle.mle``, ``jaxmle.inference.summary`` and
``jaxmle.closed_form.ols`` each warn once, naming the fix; with x64 on nothing warns, and the
check is one attribute read (far below a 20 µs bound per call).
"""

import json
import os
import subprocess
import sys
import textwrap
import timeit
import warnings

import numpy as np

import jaxmle
from jaxmle._errors import PrecisionWarning
from jaxmle._validation import warn_if_float32

_SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import numpy as np
    import jax
    import jaxmle
    from jaxmle._errors import PrecisionWarning

    assert not jax.config.jax_enable_x64
    x = np.array([1.0, 2.0, 3.0, 6.0])
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = jaxmle.models.Gaussian()
    out = {}
    for name, call in [
        ("mle", lambda: jaxmle.mle(model, x)),
        ("summary", lambda: jaxmle.inference.summary(model, {"mean": 3.0, "variance": 3.5}, x)),
        ("ols", lambda: jaxmle.closed_form.ols(X, 1.0 + 2.0 * X[:, 0] + [0.1, -0.1, 0.0, 0.0])),
    ]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        hits = [w for w in caught if issubclass(w.category, PrecisionWarning)]
        out[name] = {"n": len(hits), "msg": [str(w.message) for w in hits],
                     "file": [w.filename for w in hits]}
    print(json.dumps(out))
    """
)


def test_float32_warns_once_per_call_and_names_the_fix(tmp_path):
    script = tmp_path / "float32.py"
    script.write_text(_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    where = {"mle": "jaxmle.mle", "summary": "jaxmle.inference.summary",
             "ols": "jaxmle.closed_form.ols"}  # fmt: skip
    for name, got in out.items():
        assert got["n"] == 1, (name, got)
        msg = got["msg"][0]
        assert msg.startswith(where[name] + ": float64 is off")
        assert 'jax.config.update("jax_enable_x64", True)' in msg
        assert "1e-4" in msg and "before creating any arrays" in msg
        assert got["file"] == [str(script)]  # attributed to the caller's line


def test_float64_does_not_warn_and_the_check_is_cheap():
    x = np.array([1.0, 2.0, 3.0, 6.0])
    model = jaxmle.models.Gaussian()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        res = jaxmle.mle(model, x)
        jaxmle.inference.summary(model, res, x)
        jaxmle.closed_form.ols(x[:, None], 2.0 * x + [0.1, -0.1, 0.0, 0.0])
    assert issubclass(PrecisionWarning, UserWarning)
    per_call = timeit.timeit(lambda: warn_if_float32("here", 2), number=20_000) / 20_000
    assert per_call < 20e-6  # one attribute read (~0.3 µs measured)
