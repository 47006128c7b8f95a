"""The whole pre-training check behind ``leadscore validate``: everything ``train`` would refuse.

``train`` stops at the first problem it meets, after minutes of work; ``validate`` should find
them all in one pass, before any fit: the input contract (every structural and row-level
violation of both files), the training set the config defines (enough conversions, a split that
can be made, no feature declaration that clashes with a derived feature, a segment that is a
categorical feature) and the rules sheet (every field checked against the real feature names of
the training leads, with did-you-mean suggestions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.data.config import Config
from pipeline.data.errors import LeadScoreError
from pipeline.data.io import load_dataset


@dataclass
class CheckResult:
    """What ``validate`` found: problems (exit 2), warnings, and the counts of a clean pass."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    contract_ok: bool = False  # the files passed the input contract (training checks may fail)

    @property
    def ok(self) -> bool:
        """True when train would accept the data and config."""
        return not self.problems


def _problems(exc: LeadScoreError) -> list[str]:
    return [str(d) for d in exc.details] if exc.details else [str(exc)]


def check_training_inputs(config: Config, starter: Callable[[Any, Any], None] | None = None
                          ) -> CheckResult:
    """Run every check of the contract, the training set and the rules sheet; collect them all.

    ``starter(prepared, leads)`` (``leadscore init``) is called once the training set is built,
    or as far as the checks got (``None`` for what was not reached), and may write the rules
    sheet the check then reads: the training set is built once for both.
    """
    from pipeline.stages.prepare import prepare
    from pipeline.stages.train import check_minimum_data

    result = CheckResult()
    leads, activities, report = load_dataset(config)
    result.problems += [str(v) for v in report.violations]
    result.warnings += report.notes
    if not report.ok:
        return _check_rules(result, config, None, starter, None)
    result.contract_ok = True
    result.counts = {"lead_rows": len(leads),
                     "activity_rows": 0 if activities is None else len(activities),
                     "positives": int((leads["outcome"] == "won").sum())}
    try:
        prepared = prepare(config, leads, activities, parts=("train",))
        summary = prepared.training_set.summary()
        result.counts["training_set"] = summary
        result.warnings += list(prepared.notes)
        result.warnings += check_minimum_data(summary, config)
        prepared.segment()
    except LeadScoreError as exc:
        result.problems += _problems(exc)
        return _check_rules(result, config, None, starter, leads)
    return _check_rules(result, config, prepared, starter, leads)


def _check_rules(result: CheckResult, config: Config, prepared: Any,
                 starter: Callable[[Any, Any], None] | None, leads: Any) -> CheckResult:
    """The rules sheet: readable, and (with a training set) every field a real feature."""
    from pipeline.scorers.rules import check_sheet, load_rules

    if starter is not None:
        starter(prepared, leads)
    if config.rules is None:
        result.warnings.append("no rules file (rules: null): train compares the model with a "
                               "points table learned from the training split")
        return result
    try:
        book = load_rules(config.rules)
    except LeadScoreError as exc:
        result.problems += _problems(exc)
        return result
    if prepared is not None:
        problems, notes = check_sheet(book, prepared.scorer_context(book, str(config.rules)),
                                      str(config.rules))
        result.problems += problems
        result.warnings += notes
    return result
