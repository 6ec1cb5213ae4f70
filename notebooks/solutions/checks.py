"""The helpers the "your turn" checks share: call a learner's function and say what went wrong
instead of raising, so that a check cell prints "not yet: <hint>" and the notebook keeps running.

Two forms: :func:`call` reports a short problem ("stub", "it returned None ...") that the check
words itself (notebooks 00-03, 09, 10); :func:`attempt` returns the learner-facing hint
directly (notebooks 04-07).
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


def attempt(fn, *args, stub_hint: str):
    """``(result, None)``, or ``(None, hint)`` when ``fn(*args)`` raised: ``stub_hint`` for a
    cell still raising ``NotImplementedError``, else "not yet: your function raised ..."."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, stub_hint
    except Exception as err:  # a learner's bug becomes a hint, never a traceback
        return None, f"not yet: your function raised {type(err).__name__}: {err}"
