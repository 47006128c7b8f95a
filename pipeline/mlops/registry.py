"""MLflow registry: aliases, the promotion gate, and the versions listing.

``@challenger`` becomes ``@champion`` only through :func:`promote_challenger`, which scores the
challenger, the champion, the rules and the learned points on one holdout taken from the splits
the training runs saved (logged with each run as ``split.parquet``), never on one rebuilt from
today's config and data. The holdout is the champion's saved test split while none of its leads
is in the challenger's training rows; once the data moved on, the challenger's test leads that
neither model trained on. Each package builds those leads' features with its own fitted builder.
:func:`gate` reads paired bootstrap 95 % intervals of the differences, not point estimates. The
registry uses aliases, not the deprecated stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.data.config import Config, PromotionConfig
from pipeline.data.errors import ModelError
from pipeline.evaluation.metrics import paired_differences, ranking_metrics
from pipeline.scorers import kinds
from pipeline.stages.prepare import prepare_saved

CHAMPION, CHALLENGER = "champion", "challenger"
SPLIT_ARTIFACT = "split.parquet"


def model_uri(name: str, alias: str) -> str:
    """``models:/<name>@<alias>``."""
    return f"models:/{name}@{alias}"


def alias_version(name: str, alias: str) -> str | None:
    """Version number behind an alias, or None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def load_registered_package(uri: str):
    """The ScoringPackage inside a logged pyfunc model (``models:/...`` or ``runs:/...``)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from pipeline.explain.package import load_package

    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    except (MlflowException, OSError) as exc:
        raise ModelError(f"{uri}: cannot load model ({str(exc).splitlines()[0]})") from None
    path = Path(local) / "artifacts" / "package.pkl"
    return load_package(path)


def saved_split(name: str, version: str) -> pd.DataFrame:
    """The split the training run of a registered version saved (lead_id, as_of, y, split)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    run_id = (MlflowClient().get_model_version(name, version).tags or {}).get("run_id")
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=SPLIT_ARTIFACT)
    except (MlflowException, OSError, TypeError):
        raise ModelError(f"{name} v{version}: its training run logged no {SPLIT_ARTIFACT} "
                         "(trained before the gate judged on saved splits); retrain") from None
    return pd.read_parquet(local)


FIT_PARTS = ("train", "valid")  # the rows a training run fitted on; never judged on


@dataclass(frozen=True)
class Comparison:
    """One paired comparison of the gate: the challenger minus another scorer on the holdout."""

    metric: str  # "AUC" or "Brier"
    against: str  # "champion", "rules", "learned points"
    diff: float
    low: float
    high: float
    bound: str  # which end of the interval the rule reads: "lower" or "upper"
    limit: float
    passed: bool

    def rule(self) -> str:
        """The rule as read, e.g. ``lower bound > -0.005``."""
        side = self.low if self.bound == "lower" else self.high
        wanted = ">" if self.bound == "lower" else "<"
        failed = "=" if side == self.limit else ("<" if wanted == ">" else ">")
        return f"{self.bound} bound {wanted if self.passed else failed} {self.limit:g}"

    def reason(self) -> str:
        """``AUC vs champion -0.0040 (95% CI -0.0110 to +0.0030) lower bound < -0.005``."""
        return (f"{self.metric} vs {self.against} {self.diff:+.4f} (95% CI {self.low:+.4f} to "
                f"{self.high:+.4f}) {self.rule()}")


@dataclass(frozen=True)
class GateDecision:
    """Outcome of the promotion gate with the figures behind it."""

    promote: bool
    reasons: tuple[str, ...]
    figures: dict[str, float]
    comparisons: tuple[Comparison, ...] = ()
    holdout: str = ""

    def summary(self) -> str:
        """One line for the console and the registry tag."""
        verdict = "PROMOTE" if self.promote else "KEEP CHAMPION"
        return f"{verdict}: " + "; ".join(self.reasons)


def gate(y: np.ndarray, challenger: np.ndarray, policy: PromotionConfig, *,
         rules: np.ndarray, points: np.ndarray | None = None,
         champion: np.ndarray | None = None, holdout: str = "unnamed holdout",
         seed: int = 0) -> GateDecision:
    """Apply the promotion policy to probabilities of the same holdout leads.

    Every difference is the challenger minus another scorer, with a paired bootstrap 95 %
    interval (``policy.n_boot`` resamples seeded by ``seed``, the same rows for every scorer).
    The challenger is promoted only if all hold:

    - AUC vs the champion: lower bound > ``-auc_tolerance`` (a loss beyond the tolerance is
      ruled out; an identical retrain has a zero-width interval and passes);
    - AUC vs the rules: lower bound > ``rules_margin`` (significantly better than the rules);
    - AUC vs the learned points: lower bound > ``-auc_tolerance``, i.e. not significantly worse
      than the simple learned table by more than the tolerance;
    - Brier vs the champion: upper bound < ``brier_tolerance``;
    - adaptive (equal-mass) ECE of the challenger <= ``max_ece`` (the equal-width ECE is
      reported beside it, not judged).

    No champion: the champion rules are skipped (said in the reasons). ``points`` None (a
    registry from before the learned points were registered): that rule is skipped, said too.
    ``holdout`` names the leads in the reasons, with their lead and conversion counts.
    """
    y = np.asarray(y)
    others = {"rules": rules}
    if champion is not None:
        others["champion"] = champion
    if points is not None:
        others["learned points"] = points
    diffs = paired_differences(y, challenger, others, n_boot=policy.n_boot, seed=seed)
    mine = ranking_metrics(y, challenger)

    def compare(metric: str, against: str, bound: str, limit: float) -> Comparison:
        key = metric.lower()
        d = diffs[against]
        low, high = d[f"{key}_diff_ci_low"], d[f"{key}_diff_ci_high"]
        passed = low > limit if bound == "lower" else high < limit
        return Comparison(metric, against, d[f"{key}_diff"], low, high, bound, limit, passed)

    comparisons, reasons = [], []
    if champion is not None:
        comparisons.append(compare("AUC", "champion", "lower", -policy.auc_tolerance))
    else:
        reasons.append("no champion yet")
    comparisons.append(compare("AUC", "rules", "lower", policy.rules_margin))
    if points is not None:
        comparisons.append(compare("AUC", "learned points", "lower", -policy.auc_tolerance))
    if champion is not None:
        comparisons.append(compare("Brier", "champion", "upper", policy.brier_tolerance))
    reasons += [c.reason() for c in comparisons]
    if points is None:
        reasons.append("no learned points registered with this challenger (trained before "
                       "they were): not compared")
    calibrated = mine["ece_adaptive"] <= policy.max_ece
    reasons.append(f"adaptive ECE {mine['ece_adaptive']:.4f} {'<=' if calibrated else '>'} "
                   f"{policy.max_ece:g} (equal-width {mine['ece']:.4f})")
    leads, conversions = len(y), int(np.sum(y))
    where = f"{holdout}, {leads} leads, {conversions} conversions"
    reasons.append(f"holdout: {where}")
    figures = {"challenger_auc": mine["roc_auc"], "challenger_ece": mine["ece"],
               "challenger_ece_adaptive": mine["ece_adaptive"], "challenger_brier": mine["brier"],
               "rules_auc": ranking_metrics(y, rules)["roc_auc"],
               "holdout_leads": float(leads), "holdout_conversions": float(conversions)}
    if champion is not None:
        figures["champion_auc"] = ranking_metrics(y, champion)["roc_auc"]
    if points is not None:
        figures["points_auc"] = ranking_metrics(y, points)["roc_auc"]
    ok = calibrated and all(c.passed for c in comparisons)
    return GateDecision(bool(ok), tuple(reasons), figures, tuple(comparisons), where)


def choose_holdout(challenger_split: pd.DataFrame,
                   champion_split: pd.DataFrame | None) -> tuple[pd.DataFrame, str]:
    """The leads every package is judged on (rows of a saved split, all ``split='test'``).

    The champion's saved test split while none of its leads is in the challenger's training or
    validation rows (the champion's record is measured on the leads it was chosen on); when the
    data moved on, a fresh common holdout: the challenger's test leads in neither model's
    training or validation rows. No champion: the challenger's own saved test split.
    """
    def test_rows(split: pd.DataFrame) -> pd.DataFrame:
        return split[split["split"] == "test"].assign(lead_id=lambda t: t["lead_id"].astype(str))

    def fitted(split: pd.DataFrame) -> set[str]:
        return set(split.loc[split["split"].isin(FIT_PARTS), "lead_id"].astype(str))

    if champion_split is None:
        return test_rows(challenger_split), "challenger's saved test split"
    champion_test = test_rows(champion_split)
    if not champion_test["lead_id"].isin(fitted(challenger_split)).any():
        return champion_test, "champion's saved test split"
    fresh = test_rows(challenger_split)
    fresh = fresh[~fresh["lead_id"].isin(fitted(champion_split))]
    if fresh["y"].nunique() < 2:
        raise ModelError(f"no common holdout: the challenger trained on the champion's test "
                         f"leads, and of its own test leads {len(fresh)} are new to both models "
                         f"with {int(fresh['y'].sum())} conversions; retrain on a later export")
    return fresh, "fresh common holdout (the data moved on)"


def holdout_probabilities(package, config: Config, leads: pd.DataFrame,
                          activities: pd.DataFrame | None,
                          holdout: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(y, probability) of one package on the holdout leads, features from its own builder."""
    prepared = prepare_saved(config, leads, activities, holdout, package.builder)
    X, y = prepared.rows("test")
    return y, package.scorer.predict_proba(X)[:, 1]


@dataclass(frozen=True)
class _Registered:
    """A registered kind as the gate sees it: its name, the alias it is judged under, version."""

    name: str
    alias: str | None = None
    version: str | None = None


def _companion(config: Config, kind: str) -> _Registered:
    # The rules / learned points trained with the challenger (@challenger), else the champion's.
    name = kinds.get(kind).registered_name(config)
    for alias in (CHALLENGER, CHAMPION):
        version = alias_version(name, alias)
        if version is not None:
            return _Registered(name, alias, version)
    return _Registered(name)


def promote_challenger(config: Config, data, dry_run: bool = False) -> GateDecision:
    """Judge @challenger against @champion, the rules and the learned points on one holdout
    (:func:`choose_holdout`) with :func:`gate`; maybe promote the challenger and the rules and
    learned points trained with it."""
    from mlflow import MlflowClient

    leads, activities = data
    name = kinds.get(kinds.CHALLENGER).registered_name(config)
    challenger_version = alias_version(name, CHALLENGER)
    if challenger_version is None:
        raise ModelError(f"{name}: no @challenger version (run `leadscore train` first)")
    champion_version = alias_version(name, CHAMPION)
    rival = champion_version not in (None, challenger_version)
    holdout, source = choose_holdout(saved_split(name, challenger_version),
                                     saved_split(name, champion_version) if rival else None)

    def probabilities(uri: str) -> tuple[np.ndarray, np.ndarray]:
        return holdout_probabilities(load_registered_package(uri), config, leads, activities,
                                     holdout)

    y, challenger_p = probabilities(model_uri(name, CHALLENGER))
    rules = _companion(config, kinds.REFERENCE)
    if rules.alias is None:
        raise ModelError(f"{rules.name}: no registered rules version (run `leadscore train`)")
    rules_p = probabilities(model_uri(rules.name, rules.alias))[1]
    points = _companion(config, kinds.POINTS_TABLE)
    points_p = probabilities(model_uri(points.name, points.alias))[1] if points.alias else None
    champion_p = None
    if rival:
        champion_p = probabilities(model_uri(name, CHAMPION))[1]
    elif champion_version == challenger_version:
        champion_p = challenger_p
    decision = gate(y, challenger_p, config.promotion, rules=rules_p, points=points_p,
                    champion=champion_p, holdout=source, seed=config.seed)
    if not dry_run:
        client = MlflowClient()
        client.set_model_version_tag(name, challenger_version, "gate", decision.summary())
        if decision.promote:
            client.set_registered_model_alias(name, CHAMPION, challenger_version)
            for companion in (rules, points):
                if companion.version is not None:
                    client.set_registered_model_alias(companion.name, CHAMPION,
                                                      companion.version)
    return decision


def list_versions(config: Config) -> list[dict[str, Any]]:
    """Every registered version of every registered kind, newest first."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    rows = []
    for kind in kinds.registered():
        name = kind.registered_name(config)
        try:
            versions = client.search_model_versions(f"name='{name}'")
            # search_model_versions leaves ModelVersion.aliases empty; the model has them.
            aliases = client.get_registered_model(name).aliases or {}
        except MlflowException:
            continue
        by_version: dict[str, list[str]] = {}
        for alias, number in aliases.items():
            by_version.setdefault(str(number), []).append(alias)
        for v in sorted(versions, key=lambda v: -int(v.version)):
            metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
            rows.append({
                "model": name, "version": v.version,
                "aliases": ",".join(sorted(by_version.get(str(v.version), []))),
                "roc_auc": f"{metrics['roc_auc']:.4f}" if "roc_auc" in metrics else "",
                "ece": f"{metrics['ece']:.4f}" if "ece" in metrics else "",
                "ece_adaptive": f"{metrics['ece_adaptive']:.4f}" if "ece_adaptive" in metrics
                else "",
                "created": pd.Timestamp(v.creation_timestamp, unit="ms").strftime(
                    "%Y-%m-%d %H:%M"),
                "gate": (v.tags or {}).get("gate", ""),
            })
    return rows
