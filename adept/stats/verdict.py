"""A difference result in words: who is ahead, by how much, with the interval and p-value."""

from __future__ import annotations

import math
from collections.abc import Mapping

from adept.stats.checks import _check_confidence, _check_probability


def _fmt(x: float, ref: float) -> str:
    """``x`` with decimals suited to the magnitude ``ref`` of the numbers shown together (2.3, 0.023, 45.0)."""
    digits = 1 if ref <= 0 else max(1, 1 - math.floor(math.log10(ref)))
    s = f"{x:.{digits}f}"
    return "0" + s[2:] if s.startswith("-0") and float(s) == 0 else s


def _fmt_p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3g}" if p < 0.1 else f"p = {p:.2f}"  # 0.0497 stays below 0.05 when read


def verdict(result: Mapping, *, higher_is_better: bool = True, names: tuple[str, str] = ("A", "B"),
            unit: str = "points", scale: float = 1.0, alpha: float | None = None) -> str:
    """Words for a difference result (``diff = A - B``, ``low``, ``high``, ``confidence``, optional
    ``p_value``), e.g. ``"A is ahead of B by 2.3 points (95% CI 0.4 to 4.1, p = 0.02)."``.

    A method is called ahead only when the interval excludes 0 *and* (when there is one) ``p < alpha``
    (default ``1 - confidence``); an interval that includes 0 is always "no detectable difference".
    ``scale`` multiplies the numbers (100 turns 0/1 accuracy differences into percentage points); ``unit``
    follows them ("" for none). ``higher_is_better=False`` for losses and errors: then ahead means lower.
    A one-seed result (``n_seeds == 1``) gets a sentence saying run-to-run variation is not included.
    """
    missing = [k for k in ("diff", "low", "high", "confidence") if k not in result]
    if missing:
        raise ValueError(f"verdict needs a difference result with diff, low, high and confidence; missing {missing}.")
    if len(names) != 2:
        raise ValueError(f"names must be two names (A, B), got {names!r}.")
    a_name, b_name = (str(n) for n in names)
    conf = _check_confidence(result["confidence"])
    alpha = 1 - conf if alpha is None else _check_probability(alpha, "alpha")
    diff, low, high = (float(result[k]) * scale for k in ("diff", "low", "high"))
    p = result.get("p_value")
    ref = max(abs(diff), abs(low), abs(high))
    u = f" {unit}" if unit else ""
    pct = f"{100 * conf:g}%"
    p_txt = f", {_fmt_p(float(p))}" if p is not None else ""
    caveat = " One seed: run-to-run variation is not in the interval." if result.get("n_seeds") == 1 else ""
    if low <= 0 <= high:
        text = (f"no detectable difference between {a_name} and {b_name}: {a_name} - {b_name} = "
                f"{_fmt(diff, ref)}{u}, the {pct} interval ({_fmt(low, ref)}, {_fmt(high, ref)}) includes 0{p_txt}")
        if p is not None and float(p) < alpha:
            text += (" (the per-example test holds for these training runs only; the seed-to-seed spread keeps 0 "
                     "in the interval)")
        return text + "." + caveat
    if p is not None and float(p) >= alpha:
        return (f"inconclusive: {a_name} - {b_name} = {_fmt(diff, ref)}{u}, the {pct} interval ({_fmt(low, ref)}, "
                f"{_fmt(high, ref)}) excludes 0 but the paired permutation test gives {_fmt_p(float(p))}." + caveat)
    positive = low > 0  # the interval excludes 0: it lies above (A - B > 0) or below it
    winner, loser = (a_name, b_name) if positive == higher_is_better else (b_name, a_name)
    sign = 1.0 if positive else -1.0  # the advantage as a positive number, its interval likewise
    lo_adv, hi_adv = sorted((sign * low, sign * high))
    direction = "" if higher_is_better else "; lower is better"
    return (f"{winner} is ahead of {loser} by {_fmt(sign * diff, ref)}{u} ({pct} CI {_fmt(lo_adv, ref)} to "
            f"{_fmt(hi_adv, ref)}{p_txt}{direction})." + caveat)
