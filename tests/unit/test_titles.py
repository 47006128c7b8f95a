"""Golden job-title spellings -> (seniority, department), including the traps."""

from __future__ import annotations

import pandas as pd
import pytest

from features.firmographic import DEPARTMENTS, SENIORITIES, parse_title, parse_titles

GOLDEN = [
    # vice presidents: before C-level, since "Vice President" contains "President"
    ("VP Sales", "vp", "sales"),
    ("Vice President, Operations", "vp", "operations"),
    ("vp of marketing", "vp", "marketing"),
    ("SVP, Global Sales", "vp", "sales"),
    ("EVP Finance", "vp", "finance"),
    ("V.P. Engineering", "vp", "engineering"),
    ("Vice-President Human Resources", "vp", "hr"),
    ("VP-Sales", "vp", "sales"),
    ("Assistant Vice President, Finance", "vp", "finance"),
    ("VP of Sales & Marketing", "vp", "sales"),
    ("Vice President", "vp", "other"),
    # C-level, founders, owners
    ("Chief Technology Officer", "c-level", "engineering"),
    ("CTO", "c-level", "engineering"),
    ("c.t.o.", "c-level", "engineering"),
    ("CEO & Founder", "c-level", "executive"),
    ("Pres. & C.E.O.", "c-level", "executive"),
    ("Co-Founder", "c-level", "executive"),
    ("Founder/CEO", "c-level", "executive"),
    ("Chief Marketing Officer", "c-level", "marketing"),
    ("Chief Operating Officer", "c-level", "operations"),
    ("Chief Revenue Officer", "c-level", "sales"),
    ("Chief People Officer", "c-level", "hr"),
    ("Chief Information Security Officer", "c-level", "it"),
    ("CFO", "c-level", "finance"),
    ("Interim CFO", "c-level", "finance"),
    ("CIO", "c-level", "it"),
    ("Owner", "c-level", "executive"),
    ("President", "c-level", "executive"),
    ("Managing Director", "c-level", "executive"),
    ("Managing Partner", "c-level", "executive"),
    ("Chairman of the Board", "c-level", "executive"),
    ("Geschäftsführer", "c-level", "executive"),
    # directors
    ("Dir. of IT", "director", "it"),
    ("Dir., IT", "director", "it"),
    ("Director of Sales", "director", "sales"),
    ("Head of Marketing", "director", "marketing"),
    ("Head of People", "director", "hr"),
    ("Sr. Director, Product", "director", "product"),
    ("Sr. Dir. Engineering", "director", "engineering"),
    ("marketing director", "director", "marketing"),
    ("Assistant Director of Marketing", "director", "marketing"),
    ("Directeur Marketing", "director", "marketing"),
    ("Chief of Staff", "director", "other"),  # "chief", but not an officer
    # managers and leads
    ("Marketing Manager", "manager", "marketing"),
    ("mktg mgr", "manager", "marketing"),
    ("IT Manager", "manager", "it"),
    ("line supervisor", "manager", "operations"),
    ("Team Lead, Engineering", "manager", "engineering"),
    ("Sales Team Leader", "manager", "sales"),
    ("Plant Superintendent", "manager", "operations"),
    ("Tech Lead", "manager", "engineering"),
    ("BDR team lead", "manager", "sales"),
    ("Customer Success Manager", "manager", "operations"),
    ("Product Marketing Manager", "manager", "marketing"),
    ("Assistant Manager - Operations", "manager", "operations"),
    ("Student Success Manager", "manager", "other"),  # a manager, not a student
    ("Partner Manager", "manager", "other"),  # not a partner of the firm
    ("Gerente de Ventas", "manager", "sales"),
    # individual contributors
    ("Sr. Software Eng.", "individual", "engineering"),
    ("Software Engineer II", "individual", "engineering"),
    ("jr. data analyst", "individual", "other"),
    ("data scientist", "individual", "engineering"),
    ("DevOps Engineer", "individual", "engineering"),
    ("Network Engineer", "individual", "it"),
    ("Sales Engineer", "individual", "sales"),
    ("Financial Analyst", "individual", "finance"),
    ("FP&A Analyst", "individual", "finance"),
    ("Account Executive", "individual", "sales"),
    ("SDR", "individual", "sales"),
    ("Inside Sales Rep", "individual", "sales"),
    ("Recruiter", "individual", "hr"),
    ("Accountant", "individual", "finance"),
    ("UX designer", "individual", "product"),
    ("Logistics Coordinator", "individual", "operations"),
    ("R&D Specialist", "individual", "engineering"),
    ("Product Owner", "individual", "product"),  # not an owner of the company
    ("Executive Assistant to the CEO", "individual", "executive"),  # not the CEO
    ("Lead Generation Specialist", "individual", "other"),  # "lead" is the prospect here
    ("HR Business Partner", "individual", "hr"),
    ("Teacher", "individual", "other"),
    ("Consultant", "individual", "other"),
    # students
    ("Student", "student", "other"),
    ("MBA candidate", "student", "other"),
    ("Marketing Intern", "student", "marketing"),
    ("Summer Intern, Finance", "student", "finance"),
    ("PhD student, computer science", "student", "other"),
    ("graduate", "student", "other"),
    ("Graduate Trainee", "student", "other"),
    ("Undergraduate Research Assistant", "student", "other"),
    # nothing to go on
    ("", "unknown", "unknown"),
    (None, "unknown", "unknown"),
    (float("nan"), "unknown", "unknown"),
    ("  --  ", "unknown", "unknown"),
    ("N/A", "unknown", "unknown"),
    ("123", "unknown", "unknown"),
]


@pytest.mark.parametrize(("title", "seniority", "department"), GOLDEN)
def test_golden_titles(title, seniority, department):
    assert parse_title(title) == (seniority, department)


def test_golden_list_is_broad():
    assert len(GOLDEN) >= 40
    assert {s for _, s, _ in GOLDEN} == set(SENIORITIES)
    assert {d for _, _, d in GOLDEN} == set(DEPARTMENTS)


@pytest.mark.parametrize("spelling", ["  VICE   PRESIDENT  sales ", "Vice President - Sales",
                                      "vice president, sales.", "VICE-PRESIDENT (SALES)"])
def test_case_spacing_and_punctuation_do_not_matter(spelling):
    assert parse_title(spelling) == parse_title("vice president sales") == ("vp", "sales")


def test_vectorised_matches_scalar_and_keeps_index():
    titles = pd.Series([t for t, _, _ in GOLDEN] * 3, index=range(100, 100 + 3 * len(GOLDEN)))
    parsed = parse_titles(titles)
    assert parsed.index.equals(titles.index)
    assert list(zip(parsed["seniority"], parsed["department"], strict=True)) == [
        parse_title(t) for t in titles
    ]
    as_text = parse_titles(titles.astype("str"))
    assert as_text["seniority"].tolist() == parsed["seniority"].tolist()
