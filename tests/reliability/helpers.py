"""What the reliability tests share: the CLI run in this process or as a real one, a snapshot of everything a
store holds, and the checks that a refused input left it exactly as it was and that no store is left lying."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Every config the tests train: tiny, seconds per run, every method's parts exercised (ADePT: dropout).
TINY = {"method": "adept", "backbone": "tiny-llama", "task": "rotten-tomatoes", "max_steps": 8, "eval_every": 4,
        "eval_examples": 8, "test_examples": 8, "batch_size": 4, "max_train_examples": 64, "warmup_steps": 2,
        "max_length": 48, "init": "random", "experiment": "rel"}
TINY_FLAGS = ["--backbone", "tiny-bert", "--max-steps", "2", "--eval-every", "2", "--eval-examples", "4",
              "--test-examples", "4", "--batch-size", "2", "--warmup-steps", "0", "--experiment", "rel", "--quiet"]


@dataclass
class Result:
    rc: int
    out: str
    err: str


def cli(*argv: str) -> Result:
    """``python -m adept ARGV`` in this process (the same ``main``); its exit code, stdout and stderr."""
    from adept.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # argparse
            rc = exc.code if isinstance(exc.code, int) else 2
    return Result(rc, out.getvalue(), err.getvalue())


def cli_process(*argv: str, env: dict | None = None, timeout: float = 300) -> Result:
    """``python -m adept ARGV`` as its own process, from the repository root."""
    proc = subprocess.run([sys.executable, "-m", "adept", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    return Result(proc.returncode, proc.stdout, proc.stderr)


def one_error_line(result: Result) -> str:
    """The single ``error: ...`` line of a refused command (and no traceback)."""
    lines = [ln for ln in result.err.splitlines() if ln.strip()]
    assert "Traceback" not in result.err, result.err
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


def snapshot(home: Path) -> dict:
    """Everything a store holds that a refused input could change: each run's status and its numbers of
    params, metrics, tags; the queue files; every artifact file with its size."""
    import sqlite3

    db = home / "mlflow.db"
    runs = {}
    if db.exists():
        with sqlite3.connect(db) as conn:
            for run_id, status in conn.execute("SELECT run_uuid, status FROM runs"):
                counts = tuple(conn.execute(f"SELECT COUNT(*) FROM {t} WHERE run_uuid = ?", (run_id,)).fetchone()[0]
                               for t in ("params", "metrics", "tags"))
                runs[run_id] = (status, counts)
    files = {}
    for folder in ("artifacts", "queue"):
        for path in sorted((home / folder).rglob("*")) if (home / folder).exists() else []:
            if path.is_file():
                files[str(path.relative_to(home))] = path.stat().st_size
    return {"runs": runs, "files": files}


def assert_store_sound(home: Path) -> None:
    """No RUNNING run; no half-written artifact (a folder swap left half done, a manifest that does not match
    its files, a JSON artifact that does not parse); no queue file of a run that is not waiting."""
    from adept import tracking

    snap = snapshot(home)
    assert not [r for r, (status, _) in snap["runs"].items() if status == "RUNNING"], snap["runs"]
    artifacts = home / "artifacts"
    for path in artifacts.rglob("*") if artifacts.exists() else []:
        assert not path.name.startswith((".partial-", ".old-")), path
        if path.name == "manifest.json":
            assert tracking.manifest_problem(path.parent) is None, path.parent
        if path.suffix == ".json" and path.is_file():
            json.loads(path.read_text())
    for path in (home / "queue").glob("*.json") if (home / "queue").exists() else []:
        assert snap["runs"].get(path.stem, ("?",))[0] == "SCHEDULED", path


def assert_untouched(home: Path, before: dict) -> None:
    """The store is exactly as ``before`` (no run created, none changed, no file written) and sound."""
    assert snapshot(home) == before
    assert_store_sound(home)
