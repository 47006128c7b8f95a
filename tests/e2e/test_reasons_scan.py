"""Every reason of a 40,000-lead scoring run reads right: no absence earning points, no "1
emails", no activity cited twice through two of its windows."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest

from pipeline.data.io import load_dataset
from tests.conftest import demo_config

pytestmark = pytest.mark.slow
AS_OF = pd.Timestamp("2026-06-30T23:59:59")
REASONS = ["reason_1", "reason_2", "reason_3"]

#: An absence: "No website visits in the last 30 days", "Not active ...", "0x", "0 emails".
ABSENCE = re.compile(r"^(?:No|Not) |\b0x\b|(?<![\d.,$])\b0 [a-z]")
#: "1" before a plural noun ("1 emails", "1 sales calls", "1 days").
ONE_PLURAL = re.compile(r"\b1 (?:[a-z-]+ )?(?:emails|visits|assets|webinars|forms|events|calls|"
                        r"times|activities|days|employees|downloads|registrations|pages|"
                        r"studies|messages)\b")
POINTS = re.compile(r": ([+-]\d+)$")


def _activity(reason: str) -> str:
    """The reason without its numbers and window: two windows of one activity read the same."""
    text = POINTS.sub("", reason)
    text = re.sub(r" in (?:the last )?(?:\d+ days|1 day|day)$", "", text)
    return re.sub(r"\d[\d,.]*", "#", text.replace("once", "# times"))


def violations(scored: pd.DataFrame) -> dict[str, list[str]]:
    """Reason strings breaking each rule (every lead, every reason column)."""
    found: dict[str, list[str]] = {"absence with points": [], "1 plural": [],
                                   "window twice": []}
    for row in scored[REASONS].itertuples(index=False):
        texts = [t for t in row if isinstance(t, str) and t]
        for text in texts:
            points = POINTS.search(text)
            assert points, f"reason without points: {text!r}"
            if ABSENCE.search(text) and int(points.group(1)) > 0:
                found["absence with points"].append(text)
            if ONE_PLURAL.search(text):
                found["1 plural"].append(text)
        bases = [_activity(t) for t in texts]
        if len(set(bases)) < len(bases):
            found["window twice"].append(" | ".join(texts))
    return found


@pytest.fixture(scope="module")
def scored_40k(trained, tmp_path_factory):
    """The small world's packages scoring a fresh 40,000-lead world, explanations on; the model
    kind's candidates too (TreeSHAP and logistic shares, whichever the model kind ships)."""
    from pipeline.synth.world import write_world

    _, result, _, _ = trained
    data = tmp_path_factory.mktemp("world40k") / "data"
    write_world(data, 40_000, seed=23)
    leads, activities, report = load_dataset(demo_config(data))
    report.raise_if_failed()
    packages = dict(result.packages)
    model = result.packages["model"]
    for name, candidate in model.scorer.candidate_scorers().items():
        packages[f"candidate {name}"] = dataclasses.replace(model, scorer=candidate)
    # as of day 14 (what the model was trained on: engaged leads, many counts) and as of one late
    # date (most leads long quiet: absences and recency)
    day_14 = pd.Series(pd.to_datetime(leads["created_at"]).to_numpy() + pd.Timedelta(days=14),
                       index=leads["lead_id"].astype(str).to_numpy())
    scored = {}
    for kind, package in packages.items():
        scored[kind] = pd.concat([package.score_leads(leads, activities, when)
                                  for when in (day_14, AS_OF)], ignore_index=True)
    return scored


def test_every_reason_of_a_40k_run_reads_right(scored_40k):
    assert {"rules", "learned_points", "model", "candidate lightgbm"} <= set(scored_40k)
    for kind, scored in scored_40k.items():
        assert len(scored) == 2 * 40_000
        texts = scored[REASONS].stack()
        texts = texts[texts.astype(bool)]
        assert len(texts) > 80_000, f"{kind}: too few reasons to scan"
        found = violations(scored)
        assert found == {"absence with points": [], "1 plural": [], "window twice": []}, kind


def test_absences_still_speak_against_a_lead(scored_40k):
    # the scan must see absences at all: "No sales calls in the last 30 days: -3" is allowed
    assert "candidate lightgbm" in scored_40k
    texts = scored_40k["candidate lightgbm"][REASONS].stack()
    against = texts[texts.str.match(r"^(?:No|Not) .*: -\d+$")]
    assert len(against) > 0


def test_the_scan_catches_each_broken_reason():
    bad = pd.DataFrame({"reason_1": ["Visited the website 0x in 30 days: +5",
                                     "Was sent 1 emails in 30 days: +1",
                                     "Visited pricing 3 times in 7 days: +4"],
                        "reason_2": ["No sales calls in the last 30 days: +2", "",
                                     "Visited pricing 5 times in 30 days: +2"],
                        "reason_3": ["", "Had 1 sales calls in 7 days: +1", ""]})
    found = violations(bad)
    assert len(found["absence with points"]) == 2
    assert len(found["1 plural"]) == 2
    assert len(found["window twice"]) == 1
