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
    length, the paper's 60-of-100 split) and ``r`` is the largest rank that still fits.
    Raises ``ValueError`` when the budget cannot hold the requested prompt plus a rank-1 offset.
    """
    method = normalize_method(method)
    for name, value in (("d_model", d_model), ("max_length", max_length), ("budget", budget)):
        if int(value) <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
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
    if num_virtual_tokens < 0:
        raise ValueError(f"num_virtual_tokens must be >= 0, got {num_virtual_tokens}.")
    free = budget - num_virtual_tokens * d_model
    if param_count(method, d_model, max_length, num_virtual_tokens, 1, **options) > budget:
        most = max(0, (budget - param_count(method, d_model, max_length, 0, 1, **options)) // d_model)
        raise ValueError(
            f"Budget {budget:,} cannot hold a {num_virtual_tokens}-token prompt ({num_virtual_tokens * d_model:,} "
            f"params) plus a rank-1 {method.upper()} offset: use at most {most} prompt tokens or a larger budget."
        )
    # Offset counts grow monotonically in r: step up while the next rank still fits.
    rank = max(1, free // (2 * d_model + max_length + 1))
    while param_count(method, d_model, max_length, num_virtual_tokens, rank + 1, **options) <= budget:
        rank += 1
    while rank > 1 and param_count(method, d_model, max_length, num_virtual_tokens, rank, **options) > budget:
        rank -= 1
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
