"""The helper every "your turn" check shares: call a learner's function and say what went wrong
instead of raising, so that a check cell prints "not yet: <hint>" and the notebook keeps running.
"""

from __future__ import annotations


def call(fn, *args, convert=None, kind: str = "a value"):
    """``(result, None)``, or ``(None, problem)`` when calling ``fn(*args)`` fails.

    ``problem`` is "stub" for a cell still raising ``NotImplementedError``, else a short hint.
    ``convert`` (e.g. ``np.asarray``) turns the result into what the check compares; if it
    fails, the hint says that ``fn`` did not return ``kind``.
    """
    try:
        out = fn(*args)
    except NotImplementedError:
        return None, "stub"
    except Exception as err:  # a learner's bug: report it, never raise
        return None, f"calling it raised {type(err).__name__}: {err}"
    if out is None:
        return None, "it returned None: end the function with return ..."
    if convert is None:
        return out, None
    try:
        return convert(out), None
    except (TypeError, ValueError, RuntimeError):
        return None, f"it returned a {type(out).__name__}, not {kind}"
