"""The default action offer meets exports whose activity log holds only some of its events."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.data.errors import ConfigError
from tests.conftest import demo_config

# a Marketo-like log: web visits, forms and email, no demo requests, webinars or sales calls
MARKETO_TYPES = {"web_visit": ["1"], "form_submit": ["2"], "email_sent": ["6"],
                 "email_open": ["10"], "email_click": ["11"]}


def test_built_in_actions_without_logged_events_are_left_out_not_refused(tmp_path: Path):
    cfg = demo_config(tmp_path, dataset={"activity_types": MARKETO_TYPES})
    offered, left_out = cfg.actions.offered(cfg.logged_activity_types())
    assert list(offered) == ["pricing_page"]  # a web visit to the pricing page
    assert left_out == ["demo_request", "webinar", "sales_call", "content_download"]
    assert cfg.offered_actions() == offered


def test_the_full_vocabulary_offers_every_built_in_action(tmp_path: Path):
    cfg = demo_config(tmp_path)
    assert list(cfg.offered_actions()) == list(cfg.actions.offer)


def test_an_action_the_user_defines_on_an_unlogged_event_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"actions\.define\.call_me: activity type 'sales_call'"):
        demo_config(tmp_path, dataset={"activity_types": MARKETO_TYPES}, actions={
            "offer": ["call_me"], "define": {"call_me": {
                "label": "Call", "activity_type": "sales_call"}}})
