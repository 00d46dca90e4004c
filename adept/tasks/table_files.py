"""Reading a data file (csv / jsonl / parquet) into a DataFrame, and telling missing cells apart; shared by
the paper tasks' data_dir files and a user's own file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EXTENSIONS = (".csv", ".jsonl", ".parquet")


def read_table(path: Path) -> pd.DataFrame:
    """A csv / jsonl / parquet file as a DataFrame (empty files give an empty frame)."""
    ext = path.suffix.lower()
    if path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        if ext == ".csv":
            return pd.read_csv(path, keep_default_na=False, na_values=[""])
        if ext == ".jsonl":
            return pd.read_json(path, lines=True, dtype=False, convert_dates=False)
        if ext == ".parquet":
            return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise ValueError(f"could not read {path}: {type(e).__name__}: {e}; check that it is valid "
                         f"{ext[1:]}") from e
    raise ValueError(f"{path}: unsupported file type {ext!r}; use one of {', '.join(EXTENSIONS)}")


def is_missing(v) -> bool:
    """True for None / NaN / NA scalars (a list or array is never missing)."""
    if v is None:
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, (list, tuple, dict, np.ndarray)) else False
    except (TypeError, ValueError):
        return False
