"""Golden title spellings -> (seniority, department)."""

from __future__ import annotations

import pandas as pd
import pytest

from features.firmographic import email_domain_type, parse_title, parse_titles

GOLDEN = [
    ("VP Sales", "vp", "sales"),
    ("Vice President, Operations", "vp", "operations"),
    ("vp of marketing", "vp", "marketing"),
    ("SVP, Global Sales", "vp", "sales"),
    ("EVP Finance", "vp", "finance"),
    ("V.P. Engineering", "vp", "engineering"),
    ("Vice-President Human Resources", "vp", "hr"),
    ("Chief Technology Officer", "c-level", "engineering"),
    ("CTO", "c-level", "engineering"),
    ("CEO & Founder", "c-level", "executive"),
    ("Co-Founder", "c-level", "executive"),
    ("Chief Marketing Officer", "c-level", "marketing"),
    ("CFO", "c-level", "finance"),
    ("CIO", "c-level", "it"),
    ("Owner", "c-level", "executive"),
    ("President", "c-level", "executive"),
    ("Managing Director", "c-level", "executive"),
    ("Dir. of IT", "director", "it"),
    ("Director of Sales", "director", "sales"),
    ("Head of Marketing", "director", "marketing"),
    ("Sr. Director, Product", "director", "product"),
    ("marketing director", "director", "marketing"),
    ("Marketing Manager", "manager", "marketing"),
    ("mktg mgr", "manager", "marketing"),
    ("IT Manager", "manager", "it"),
    ("line supervisor", "manager", "operations"),
    ("Team Lead, Engineering", "manager", "engineering"),
    ("Sales Team Leader", "manager", "sales"),
    ("Plant Superintendent", "manager", "operations"),
    ("Sr. Software Eng.", "individual", "engineering"),
    ("Software Engineer II", "individual", "engineering"),
    ("data scientist", "individual", "engineering"),
    ("Financial Analyst", "individual", "finance"),
    ("Account Executive", "individual", "sales"),
    ("SDR", "individual", "sales"),
    ("Recruiter", "individual", "hr"),
    ("Accountant", "individual", "finance"),
    ("UX designer", "individual", "product"),
    ("Logistics Coordinator", "individual", "operations"),
    ("Student", "student", "other"),
    ("MBA candidate", "student", "other"),
    ("Marketing Intern", "student", "marketing"),
    ("PhD student, computer science", "student", "other"),
    ("graduate", "student", "other"),
    ("", "unknown", "unknown"),
    (None, "unknown", "unknown"),
    ("  --  ", "unknown", "unknown"),
    ("Teacher", "individual", "other"),
]


@pytest.mark.parametrize(("title", "seniority", "department"), GOLDEN)
def test_golden_titles(title, seniority, department):
    assert parse_title(title) == (seniority, department)


def test_case_and_spacing_do_not_matter():
    assert parse_title("  VICE   PRESIDENT  sales ") == parse_title("vice president sales")


def test_vectorised_matches_scalar():
    titles = pd.Series([t for t, _, _ in GOLDEN] * 3)
    parsed = parse_titles(titles)
    assert list(zip(parsed["seniority"], parsed["department"], strict=True)) == [
        parse_title(t) for t in titles
    ]


def test_email_domain_type():
    emails = pd.Series(["a@gmail.com", "B@Acme.COM", "c@rivalscore.com", None, "not-an-email"])
    kind = email_domain_type(emails, ["gmail.com"], ["rivalscore.com"])
    assert kind.tolist()[:3] == ["free_mail", "corporate", "competitor"]
    assert kind.isna().tolist()[3:] == [True, True]
