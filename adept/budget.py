"""Equal trainable-parameter budget: (method, d, s, budget) -> (l, r).

The paper compares PT, DePT and ADePT at the same number of trainable parameters. With model width
``d``, maximum input length ``s``, soft-prompt length ``l`` and rank ``r``:

    PT:    l * d
    DePT:  l * d + r * (s + d)                       (A: s x r, B: r x d)
    ADePT: l * d + r * (2 d + 1) + d                 (A: d x r, a: r, B: r x d, b: d)

ADePT ablations change the offset network's count (see :func:`offset_param_count`); the solver takes
the same options, so an ablation is compared at the same budget too.

For d=768, s=256, budget 76,800: PT l=100; DePT l=60 r=30 (76,800); ADePT l=60 r=19 (76,051).
"""

from __future__ import annotations

import math

METHODS = ("pt", "dept", "adept")
ACTIVATIONS = ("relu", "gelu", "identity")


class Solution(tuple):
    """``(num_virtual_tokens, rank)``, compares equal to a plain tuple, plus what the budget left.

    Attributes: ``params`` (trainable parameters used), ``budget`` and ``unused = budget - params``.
    """

    def __new__(cls, num_virtual_tokens: int, rank: int, params: int, budget: int):
        obj = super().__new__(cls, (num_virtual_tokens, rank))
        obj.params = params
        obj.budget = budget
        obj.unused = budget - params
        return obj

    @property
    def num_virtual_tokens(self) -> int:
        return self[0]

    @property
    def rank(self) -> int:
        return self[1]

    def __repr__(self) -> str:
        return f"Solution(l={self[0]}, r={self[1]}, params={self.params:,}, unused={self.unused:,})"


def normalize_method(method: str) -> str:
    """Lower-case ``method`` and check it is one of pt / dept / adept."""
    name = str(method).strip().lower()
    if name not in METHODS:
        raise ValueError(f"Unknown method {method!r}: choose one of 'pt', 'dept', 'adept'.")
    return name


def offset_param_count(
    method: str,
    d_model: int,
    max_length: int,
    rank: int,
    *,
    depth: int = 1,
    bias: bool = True,
) -> int:
    """Trainable parameters of the offset part alone (no soft prompt, no head).

    DePT: ``r (s + d)``. ADePT with ``depth`` hidden layers of width ``r``:
    ``d r + (depth - 1) r^2 + r d`` weights, plus ``depth r + d`` biases when ``bias``.
    """
    method = normalize_method(method)
    if method == "pt" or rank == 0:
        return 0
    if method == "dept":
        return rank * (max_length + d_model)
    weights = 2 * d_model * rank + (depth - 1) * rank * rank
    return weights + ((depth * rank + d_model) if bias else 0)


def param_count(
    method: str, d_model: int, max_length: int, num_virtual_tokens: int, rank: int, **options
) -> int:
    """Trainable parameters of soft prompt plus offsets: ``l d + offset_param_count``."""
    return num_virtual_tokens * d_model + offset_param_count(method, d_model, max_length, rank, **options)


# Sizes past these are typos, not experiments: the solver refuses them with a message instead of
# computing (and a caller allocating) something absurd.
MAX_BUDGET = 10**10
MAX_D_MODEL = 2**17
MAX_LENGTH = 2**20


def _size(name: str, value, cap: int, minimum: int = 1) -> int:
    """``value`` as an int in ``[minimum, cap]``; ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value in (
            float("inf"), float("-inf")) or int(value) != value:
        raise ValueError(f"{name} must be a whole number, got {value!r}.")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be {'a positive integer' if minimum == 1 else f'>= {minimum}'}, "
                         f"got {value!r}.")
    if value > cap:
        raise ValueError(f"{name} {value:,} is over the cap of {cap:,}: check the number (a typo?).")
    return value


def max_rank(method: str, d_model: int, max_length: int, free: int, *, depth: int = 1, bias: bool = True) -> int:
    """The largest rank ``r`` whose offset count (:func:`offset_param_count`) fits in ``free`` parameters
    (0 when not even rank 1 fits), in closed form:

    DePT:           ``r (s + d) <= free``                  ->  ``r = floor(free / (s + d))``
    ADePT depth 1:  ``r (2d + b) + b d <= free``           ->  ``r = floor((free - b d) / (2d + b))``
    ADePT depth k:  ``(k-1) r^2 + (2d + k b) r + b d <= free``: the positive root of the quadratic, floored
    with an exact integer square root and checked at ``r`` and ``r + 1``

    with ``b = 1`` when the offset network has biases, else 0.
    """
    method = normalize_method(method)
    if method == "pt":
        return 0
    if method == "dept":
        return max(0, free // (max_length + d_model))
    b = 1 if bias else 0
    c = free - b * d_model
    if c <= 0:
        return 0
    lin = 2 * d_model + depth * b
    if depth <= 1:
        return c // lin
    a = depth - 1
    r = (math.isqrt(lin * lin + 4 * a * c) - lin) // (2 * a)

    def fits(rank: int) -> bool:
        return a * rank * rank + lin * rank <= c

    while fits(r + 1):  # isqrt floors: at most one step either way
        r += 1
    while r > 0 and not fits(r):
        r -= 1
    return r


def solve(
    method: str,
    d_model: int,
    max_length: int,
    budget: int,
    num_virtual_tokens: int | None = None,
    **options,
) -> Solution:
    """Largest configuration of ``method`` whose trainable count does not exceed ``budget``.

    PT: ``l = floor(budget / d)``, ``r = 0``. DePT / ADePT: ``l`` is given (default: 60 % of PT's
    length, the paper's 60-of-100 split) and ``r`` is the largest rank that still fits
    (:func:`max_rank`, closed form: the time does not grow with the budget).
    Raises ``ValueError`` when the budget cannot hold the requested prompt plus a rank-1 offset, and for
    sizes past :data:`MAX_BUDGET`, :data:`MAX_D_MODEL`, :data:`MAX_LENGTH`.
    """
    method = normalize_method(method)
    d_model = _size("d_model", d_model, MAX_D_MODEL)
    max_length = _size("max_length", max_length, MAX_LENGTH)
    budget = _size("budget", budget, MAX_BUDGET)
    if num_virtual_tokens is not None:
        num_virtual_tokens = _size("num_virtual_tokens", num_virtual_tokens, MAX_LENGTH, minimum=0)
    if method == "pt":
        length = budget // d_model if num_virtual_tokens is None else num_virtual_tokens
        if length <= 0:
            raise ValueError(f"Budget {budget:,} is smaller than one prompt vector ({d_model:,}): raise it.")
        used = param_count("pt", d_model, max_length, length, 0)
        if used > budget:
            raise ValueError(
                f"A PT prompt of {length} tokens needs {used:,} parameters, over the budget {budget:,}; "
                f"use at most {budget // d_model} tokens."
            )
        return Solution(length, 0, used, budget)

    if num_virtual_tokens is None:
        num_virtual_tokens = (budget // d_model) * 6 // 10
    free = budget - num_virtual_tokens * d_model
    rank = max_rank(method, d_model, max_length, free, **options)
    if rank < 1:
        most = max(0, (budget - param_count(method, d_model, max_length, 0, 1, **options)) // d_model)
        raise ValueError(
            f"Budget {budget:,} cannot hold a {num_virtual_tokens}-token prompt ({num_virtual_tokens * d_model:,} "
            f"params) plus a rank-1 {method.upper()} offset: use at most {most} prompt tokens or a larger budget."
        )
    used = param_count(method, d_model, max_length, num_virtual_tokens, rank, **options)
    return Solution(num_virtual_tokens, rank, used, budget)


def equal_budget_table(
    d_model: int, max_length: int, budget: int, num_virtual_tokens: int | None = None, **options
) -> list[dict]:
    """The three methods solved at one budget: rows ``{method, l, r, params, unused}``."""
    rows = []
    for method in METHODS:
        sol = solve(method, d_model, max_length, budget, None if method == "pt" else num_virtual_tokens, **options)
        rows.append({"method": method, "l": sol[0], "r": sol[1], "params": sol.params, "unused": sol.unused})
    return rows
