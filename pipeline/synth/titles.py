"""Job-title text: ~700 spellings per (seniority, department) and what each title reveals.

Spellings come with case noise, trailing spaces, blanks and placeholders. The module is more
than decoration: the true odds read seniority and department *through the title* (a blank or
placeholder title is ``unknown``, a generic one hides the department), so :func:`_render_titles`
returns the codes the text shows next to the text.
"""

from __future__ import annotations

import numpy as np

from pipeline.synth.sampling import _Grouped
from pipeline.synth.vocabulary import DEPARTMENTS, SENIORITIES

_DEPT_WORDS = {
    "sales": ("Sales", "Sales", "Business Development", "Revenue", "sales"),
    "marketing": ("Marketing", "Marketing", "Demand Generation", "Growth Marketing", "mktg"),
    "engineering": ("Engineering", "Software Engineering", "R&D", "Engineering", "eng"),
    "it": ("IT", "IT", "Information Technology", "IT Infrastructure", "Information Security"),
    "operations": ("Operations", "Operations", "Ops", "Supply Chain", "Logistics"),
    "finance": ("Finance", "Finance", "Financial Planning", "Accounting", "finance"),
    "hr": ("HR", "Human Resources", "People", "Talent Acquisition", "HR"),
    "product": ("Product", "Product Management", "Product", "UX", "product"),
}
_C_LEVEL = {
    "sales": ("Chief Revenue Officer", "CRO", "Chief Sales Officer"),
    "marketing": ("Chief Marketing Officer", "CMO", "cmo"),
    "engineering": ("Chief Technology Officer", "CTO", "cto"),
    "it": ("Chief Information Officer", "CIO", "CISO"),
    "operations": ("Chief Operating Officer", "COO"),
    "finance": ("Chief Financial Officer", "CFO"),
    "hr": ("Chief People Officer", "CHRO"),
    "product": ("Chief Product Officer", "CPO"),
}
# C-level titles that do not show a department.
_C_GENERIC = (
    "CEO",
    "Founder",
    "Co-Founder & CEO",
    "Owner",
    "President",
    "Managing Director",
    "founder",
    "CEO & Founder",
)
_FORMS = {
    "vp": (
        "VP {d}",
        "VP of {d}",
        "Vice President, {d}",
        "vp of {d}",
        "SVP {d}",
        "EVP, {d}",
        "V.P. {d}",
        "Vice President of {d}",
    ),
    "director": (
        "Director of {d}",
        "{d} Director",
        "Dir. of {d}",
        "Head of {d}",
        "Sr. Director, {d}",
        "Global Head of {d}",
    ),
    "manager": ("{d} Manager", "{d} mgr", "Manager - {d}", "{d} Team Lead", "Sr. {d} Manager"),
    "student": ("{d} Intern",),
}
_SPECIAL = {
    ("manager", "operations"): ("line supervisor", "Shift Supervisor", "Plant Manager"),
    ("manager", "marketing"): ("mktg mgr", "Marketing Manager"),
    ("manager", "sales"): ("Sales Manager", "Regional Sales Manager"),
    ("individual", "sales"): (
        "Account Executive",
        "SDR",
        "Sales Rep",
        "Business Development Rep",
        "Inside Sales Representative",
    ),
    ("individual", "marketing"): (
        "Marketing Specialist",
        "Content Writer",
        "Marketing Coordinator",
        "SEO Analyst",
    ),
    ("individual", "engineering"): (
        "Sr. Software Eng.",
        "Software Engineer",
        "Developer",
        "Data Scientist",
        "QA Engineer",
        "software dev",
    ),
    ("individual", "it"): (
        "Systems Administrator",
        "IT Analyst",
        "Network Engineer",
        "Help Desk Technician",
    ),
    ("individual", "operations"): (
        "Operations Analyst",
        "Logistics Coordinator",
        "Warehouse Associate",
    ),
    ("individual", "finance"): ("Accountant", "Financial Analyst", "Senior Accountant"),
    ("individual", "hr"): ("Recruiter", "HR Generalist", "Talent Partner"),
    ("individual", "product"): ("Product Designer", "UX Researcher", "Product Analyst"),
}
# Individual contributors and students whose title shows no department.
_GENERIC = {
    "individual": ("Consultant", "Analyst", "Specialist", "Associate", "Engineer"),
    "student": ("Student", "MBA candidate", "intern", "PhD student", "Graduate Student", "student"),
}
_PLACEHOLDERS = ("-", "n/a", ".", "Select")


def _title_table() -> tuple[_Grouped, np.ndarray]:
    """Title spellings per (seniority, department) group and whether each shows the department."""
    groups, shows = [], []
    for level in SENIORITIES:
        for dept in DEPARTMENTS:
            texts: list[str] = []
            flags: list[bool] = []
            if level == "c-level":
                texts += list(_C_LEVEL[dept]) * 2 + list(_C_GENERIC)
                flags += [True] * 2 * len(_C_LEVEL[dept]) + [False] * len(_C_GENERIC)
            for form in _FORMS.get(level, ()):
                for word in _DEPT_WORDS[dept]:
                    texts.append(form.replace("{d}", word))
                    flags.append(True)
            special = _SPECIAL.get((level, dept), ())
            if level == "individual":
                special = special * 2  # the department-specific titles are the common ones
            texts += list(special)
            flags += [True] * len(special)
            generic = _GENERIC.get(level, ())
            texts += list(generic)
            flags += [False] * len(generic)
            groups.append(texts)
            shows.append(flags)
    return _Grouped(groups), np.concatenate([np.asarray(f, dtype=bool) for f in shows])


_TITLES, _TITLE_SHOWS_DEPT = _title_table()


def _render_titles(
    rng: np.random.Generator, seniority: np.ndarray, dept: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Title text, and the seniority and department codes it shows (last code: unknown)."""
    n = seniority.size
    pick = _TITLES.pick(rng, seniority * len(DEPARTMENTS) + dept)
    titles = _TITLES.values[pick].copy()
    case = rng.random(n)
    lower, upper = case < 0.08, (case >= 0.08) & (case < 0.11)
    titles[lower] = np.char.lower(titles[lower].astype(str)).astype(object)
    titles[upper] = np.char.upper(titles[upper].astype(str)).astype(object)
    dirt = rng.random(n)
    padded = dirt < 0.03  # trailing spaces, as typed into forms
    titles[padded] = titles[padded] + " "
    blank = rng.random(n)
    missing = blank < 0.03
    placeholder = (blank >= 0.03) & (blank < 0.04)
    titles[missing] = None
    titles[placeholder] = np.asarray(_PLACEHOLDERS, dtype=object)[
        rng.integers(0, len(_PLACEHOLDERS), int(placeholder.sum()))
    ]
    unseen = missing | placeholder
    seen_level = np.where(unseen, len(SENIORITIES), seniority)
    seen_dept = np.where(unseen | ~_TITLE_SHOWS_DEPT[pick], len(DEPARTMENTS), dept)
    return titles, seen_level, seen_dept
