"""The paper's analyses on a trained (or any) PT / DePT / ADePT model, and inference folding.

What each analysis computes, what the ADePT paper expects and how to read its chart: docs/analyses.md.
Notation: :mod:`adept.analysis.common`. One module per idea:

=============  =========================================================================================
``offsets``    offset statistics: the official code's per-dimension statistic, ``||Δ|| / ||e||``,
               distinct offsets, offset norm by position, ADePT's top / bottom tokens
``position``   position vs input: the same token at other slots, variance at a slot, tokens per DePT
               row, the shift demo, per-token offsets of a text
``pca``        2-D PCA of the offsets
``pilot``      the pilot experiment: ``k`` neutral tokens prepended at test time
``batched``    scoring many built inputs at once (length buckets, the prompt's keys/values once)
``pilot_stats`` the pilot's bands, slopes and DePT - ADePT slope difference over seeds x examples
``attention``  first-layer attention and the relative-attention change
``latency``    batch-1 latency of PT, DePT, ADePT, folded ADePT and PT with ADePT's prompt length, with
               per-round spread and ratio intervals
``run``        a run's model, :func:`analyze_run` (the ``analysis/*.json`` artifacts), :func:`load_analysis`
``fold``       :func:`fold_model`, :func:`load_folded`, :func:`fold_run`
``cli``        ``python -m adept analyze`` / ``fold`` (:func:`register_cli`)
=============  =========================================================================================

The pure functions take a :class:`adept.methods.PromptTunedModel` and token ids (tested on tiny backbones);
the run level reads and writes MLflow. No Streamlit here: the app reads the artifacts
(``adept.tracking.load_json_artifact``) and plots them.
"""

from adept.analysis.attention import (
    attention_analysis,
    attention_comparison,
    eager_attention,
    first_layer_attention,
    layer_attention,
    relative_attention_change,
)
from adept.analysis.batched import batched_predictions, per_example_scores
from adept.analysis.cli import add_analyze_arguments, add_fold_arguments, cli_analyze, cli_fold, register_cli
from adept.analysis.common import ANALYSIS_DIR, encode_examples
from adept.analysis.fold import (
    DEPT_TABLE,
    FOLD_REPORT,
    FOLDED_POSITIONS,
    FOLDED_TABLE,
    fold_model,
    fold_run,
    load_folded,
)
from adept.analysis.fold import _outputs as _outputs  # private: tests/test_analysis.py
from adept.analysis.latency import _infer as _infer  # private: adept/bench.py
from adept.analysis.latency import ab_timings, cost_verdict, latency, ratio_interval
from adept.analysis.offsets import offset_statistics, paper_stat
from adept.analysis.pca import offset_pca, pca_2d
from adept.analysis.pilot import (
    NEUTRAL_TEXT,
    PILOT_KS,
    evaluate_ids,
    neutral_token_ids,
    pilot_experiment,
    pilot_inputs,
    prepend_tokens,
)
from adept.analysis.pilot_stats import load_pilot_runs, pilot_evidence
from adept.analysis.position import (
    position_variance,
    position_vs_input,
    same_token_offset_difference,
    shift_demo,
    token_offsets,
    tokens_per_position,
)
from adept.analysis.run import (
    ANALYSIS_VERSION,
    ARTIFACT_NAMES,
    analyze_run,
    default_sizes,
    load_analysis,
    load_run_model,
    summary_lines,
)

__all__ = [
    "ANALYSIS_DIR", "ANALYSIS_VERSION", "ARTIFACT_NAMES", "DEPT_TABLE", "FOLDED_POSITIONS", "FOLDED_TABLE",
    "FOLD_REPORT", "NEUTRAL_TEXT", "PILOT_KS", "ab_timings", "add_analyze_arguments", "add_fold_arguments",
    "analyze_run", "attention_analysis", "attention_comparison", "batched_predictions", "cli_analyze", "cli_fold",
    "cost_verdict", "default_sizes", "eager_attention", "encode_examples", "evaluate_ids", "first_layer_attention",
    "fold_model", "fold_run", "latency", "layer_attention", "load_analysis", "load_folded", "load_pilot_runs",
    "load_run_model", "neutral_token_ids", "offset_pca", "offset_statistics", "paper_stat", "pca_2d",
    "per_example_scores", "pilot_evidence", "pilot_experiment", "pilot_inputs", "position_variance",
    "position_vs_input", "prepend_tokens", "ratio_interval", "register_cli", "relative_attention_change",
    "same_token_offset_difference", "shift_demo", "summary_lines", "token_offsets", "tokens_per_position",
]
