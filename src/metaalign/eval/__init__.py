"""Evaluation: the judge-free verifiable suite, LLM-judge win rates, pair accuracy, reports.

Owns metrics with bootstrap CIs, suites, reports and the Python entry points below. It does
not define checkers or the priority matrix (metaalign.preferences) nor generate text itself
(metaalign.engine). Importing this package pulls in no torch, numpy or matplotlib.
"""

from metaalign.eval.metrics import Estimate, ScoredCase, bootstrap_ci, proportion, verifiable_metrics
from metaalign.eval.report import Report, SystemResult, compare
from metaalign.eval.suite import Suite, SuiteCase, SuiteCheck, builtin_suite_path, load_suite, write_suite
from metaalign.eval.verifiable import EvalSystem, baseline_system, evaluate_systems, run_verifiable

__all__ = [
    "Estimate",
    "EvalSystem",
    "Report",
    "ScoredCase",
    "Suite",
    "SuiteCase",
    "SuiteCheck",
    "SystemResult",
    "baseline_system",
    "bootstrap_ci",
    "builtin_suite_path",
    "compare",
    "evaluate_systems",
    "load_suite",
    "proportion",
    "run_verifiable",
    "verifiable_metrics",
    "write_suite",
]
