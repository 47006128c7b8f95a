"""The ``scoring:`` section: the displayed scale, the bands, the MQL rule, grades and output.

The score a scorer computes is always its calibrated conversion probability; this section says
how it is shown (``scale``), where the hot / warm / cold bands start (``bands``: shares of the
validation leads by default, or fixed cut-offs) and which leads are marketing-qualified (``mql``:
one rule applied to every scorer through its own calibrated probability,
:mod:`pipeline.explain.thresholds`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from pipeline.data.dataset_schema import _Frozen

#: the settings this section replaced, and what to write instead (refused, never ignored)
RETIRED = {
    "scoring.mql_score": "scoring.mql (share: 0.2, per_week: 50 or precision: 0.3; the line is "
                         "learned per scorer from its calibrated probability)",
    "points.mql_capacity": "scoring.mql.share (one MQL rule for every scorer)",
    "points.mql_precision": "scoring.mql.precision (one MQL rule for every scorer)",
}


def refuse_retired(data: Any, section: str) -> Any:
    """A retired key gets a one-line hint naming its replacement."""
    if isinstance(data, dict):
        for key in data:
            if f"{section}.{key}" in RETIRED:
                raise ValueError(f"{section}.{key} is no longer read: use "
                                 f"{RETIRED[f'{section}.{key}']}")
    return data


class OddsScale(_Frozen):
    """The scorecard scale: ``points`` at odds ``odds`` (won : not won), ``pdo`` points per
    doubling of the odds."""

    points: float = Field(500.0, description="scale odds: score of a lead whose odds of "
                          "converting are `scoring.odds.odds`")
    odds: float = Field(1.0, gt=0, description="scale odds: the odds (won : not won) that score "
                        "`scoring.odds.points` (1: a 50 % probability)")
    pdo: float = Field(20.0, gt=0, description="scale odds: points that double the odds of "
                       "converting (the scorecard convention)")


class BandsConfig(_Frozen):
    """Hot / warm / cold: shares of the validation leads (learned at train time) or fixed scores."""

    shares: dict[str, float] = Field(
        {"hot": 0.1, "warm": 0.2, "cold": 0.7}, description="band name -> share of the "
        "validation leads in it, best band first, adding up to 1 (cut-offs learned at train time "
        "on each scorer's calibrated probability, shown in score units); unused when `scores` "
        "is set")
    scores: dict[str, float] | None = Field(
        None, description="or: band name -> lowest displayed score of the band (a lead takes the "
        "highest band its score reaches, the lowest band takes the rest); fixed cut-offs, "
        "never overridden")

    @model_validator(mode="before")
    @classmethod
    def _old_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and data and all(
                isinstance(v, int | float) for v in data.values()):
            raise ValueError("scoring.bands is now {shares: ...} or {scores: ...}: to keep fixed "
                             f"cut-offs write scoring.bands.scores: {data}")
        return data

    @model_validator(mode="after")
    def _one_form(self) -> BandsConfig:
        if self.scores is not None and "shares" in self.model_fields_set:
            raise ValueError("scoring.bands: set shares or scores, not both")
        if self.scores is None:
            if any(not 0 < v <= 1 for v in self.shares.values()) or not self.shares:
                raise ValueError("scoring.bands.shares: each share must be in (0, 1]")
            if abs(sum(self.shares.values()) - 1.0) > 1e-6:
                raise ValueError("scoring.bands.shares must add up to 1 (the last band takes "
                                 f"the rest), got {sum(self.shares.values()):g}")
        if self.scores is not None and not self.scores:
            raise ValueError("scoring.bands.scores needs at least one band")
        return self

    def band_shares(self) -> dict[str, float] | None:
        """Shares best band first, or ``None`` when fixed scores are set."""
        if self.scores is not None:
            return None
        return dict(self.shares)


class MqlConfig(_Frozen):
    """The one MQL rule of every scorer: a capacity or a precision target."""

    share: float | None = Field(
        0.2, gt=0, lt=1, description="capacity: share of leads sales can work (the top "
        "share of validation leads by each scorer's calibrated probability); unset when "
        "per_week or precision is given")
    per_week: float | None = Field(
        None, gt=0, description="or capacity in leads per week, turned into a share with the "
        "training leads' arrival rate")
    precision: float | None = Field(
        None, gt=0, le=1, description="or a precision target: the lowest line whose validation "
        "MQLs convert at least this often (n/a when no line reaches it)")

    @model_validator(mode="before")
    @classmethod
    def _other_rule_replaces_the_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and "share" not in data and (
                data.get("per_week") is not None or data.get("precision") is not None):
            return {**data, "share": None}
        return data

    @model_validator(mode="after")
    def _one_rule(self) -> MqlConfig:
        given = [k for k in ("share", "per_week", "precision") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"scoring.mql: set one of share, per_week, precision (got "
                             f"{', '.join(given)})")
        return self

    def rule(self) -> tuple[str, float]:
        """``(which, value)``: ``share``, ``per_week`` or ``precision`` and its target."""
        for key in ("per_week", "precision", "share"):
            if getattr(self, key) is not None:
                return key, float(getattr(self, key))
        raise ValueError("scoring.mql: set one of share, per_week, precision")


class ScoringConfig(_Frozen):
    """How scores are shown, banded and qualified; fit/engagement grade cut points."""

    scale: Literal["auto", "probability", "percentile", "odds"] = Field(
        "auto", description="the displayed `score`: probability (calibrated conversion "
        "probability in %), percentile (among the training leads), odds (scorecard points, "
        "`scoring.odds`); auto: probability unless it shows fewer than 10 distinct values over "
        "the middle 80 % of training leads (a low base rate), then percentile (said in the "
        "training output and the report). Every output also carries `probability` and "
        "`percentile`")
    odds: OddsScale = OddsScale()
    bands: BandsConfig = BandsConfig()
    mql: MqlConfig = MqlConfig()
    grade_quantiles: list[float] = Field(
        [0.8, 0.5, 0.2], description="quantiles of the training leads' fit-factor points that "
        "cut grades A / B / C / D, best first", min_length=3, max_length=3)
    engagement_quantiles: list[float] = Field(
        [0.8, 0.5, 0.2], description="quantiles of the training leads' engagement-factor points "
        "that cut levels 1 / 2 / 3 / 4", min_length=3, max_length=3)
    batch_size: int = Field(
        50_000, gt=0, description="leads per bucket of `leadscore score` (`--batch-size` wins): "
        "inputs are spilled into ceil(leads / batch_size) buckets")
    top_reasons: int = Field(
        3, ge=1, le=3, description="reasons shown per scored lead (largest factor points first): "
        "the output's reason_1..reason_3")

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        return refuse_retired(data, "scoring")

class RoutingConfig(_Frozen):
    """The hand-off file of ``leadscore score --route``: the MQLs, best first, sized to sales.

    The MQL rule (``scoring.mql``) decides who qualifies; ``capacity_per_week`` caps how many of
    them one week hands over (the report's conversions/week handed to sales applies the same
    cap, :mod:`pipeline.explain.routing`). One scoring run is taken to cover one week unless
    ``score --weeks`` says otherwise.
    """

    capacity_per_week: int | None = Field(
        None, gt=0, description="most leads handed to sales per week, best first; the MQLs "
        "beyond it are held back and counted (they stay in the score output with mql true). "
        "null: no cap beyond the MQL rule, which already sizes the list (`scoring.mql`: a "
        "share, or leads per week)")
    format: Literal["generic", "salesforce", "hubspot"] = Field(
        "generic", description="column names of the routing file (`--route-format` wins): "
        "generic (LeadScore's own names), salesforce (Lead API names for Data Loader: Id, "
        "Rating and LeadScore_*__c custom fields), hubspot (contact property labels for the "
        "import tool: Record ID, Lifecycle Stage and LeadScore custom properties); see "
        "README, For sales operations")
