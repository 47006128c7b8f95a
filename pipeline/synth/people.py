"""Fake contact PII: names, email addresses and phone numbers.

Kept apart from the lead's traits because nothing downstream may learn from it (features never
read PII): the only signal an address carries is its domain type (corporate, free mail or
competitor), which :mod:`pipeline.synth.leads` decides before the text is rendered here.
"""

from __future__ import annotations

import numpy as np

from pipeline.synth.companies import _Companies
from pipeline.synth.sampling import _codes
from pipeline.synth.vocabulary import FREE_MAIL, FREE_MAIL_P

_FIRST = (
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ivy",
    "Jon",
    "Kim",
    "Lena",
    "Mo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Vik",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Aiden",
    "Bianca",
    "Carlos",
    "Dana",
    "Elif",
    "Felix",
    "Gita",
    "Hannah",
    "Igor",
    "Julia",
    "Kofi",
    "Laura",
    "Mateo",
    "Noor",
    "Olga",
    "Pedro",
    "Rahul",
    "Sofia",
    "Tom",
    "Lukas",
    "Amara",
    "Chen",
    "Maya",
    "Liam",
)
_LAST = (
    "Smith",
    "Garcia",
    "Chen",
    "Patel",
    "Muller",
    "Rossi",
    "Kim",
    "Nguyen",
    "Silva",
    "Okafor",
    "Jensen",
    "Dubois",
    "Kowalski",
    "Haddad",
    "Sato",
    "Brown",
    "Johnson",
    "Williams",
    "Jones",
    "Miller",
    "Davis",
    "Lopez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Lee",
    "Walker",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Martinez",
    "Hernandez",
    "Singh",
    "Kumar",
    "Sharma",
    "Wang",
    "Li",
    "Zhang",
    "Santos",
    "Costa",
    "Bakker",
    "Visser",
    "Cohen",
    "Novak",
    "Ivanova",
    "Mensah",
    "OBrien",
)
_PHONE_CC = ("+1", "+44", "+49", "+33", "+91", "+1", "+61", "+31", "+55", "+65")


def _people(
    rng: np.random.Generator, n: int, company: np.ndarray, domain_type: np.ndarray, pool: _Companies
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fake names, email addresses and phone numbers (PII: features never read them)."""
    first = np.asarray(_FIRST, dtype=object)[rng.integers(0, len(_FIRST), n)]
    last = np.asarray(_LAST, dtype=object)[rng.integers(0, len(_LAST), n)]
    f = np.char.lower(first.astype(str)).astype(object)
    la = np.char.lower(last.astype(str)).astype(object)
    digits = rng.integers(1, 99, n).astype(str).astype(object)
    fmt = rng.integers(0, 4, n)
    initial = f.astype(str).astype("U1").astype(object)
    corporate = np.select(
        [fmt == 0, fmt == 1, fmt == 2], [f + "." + la, initial + la, f], f + "_" + la
    )
    free_local = np.select(
        [fmt == 0, fmt == 1, fmt == 2],
        [f + "." + la + digits, f + la, f + "_" + la + digits],
        f + "." + la,
    )
    free_domain = np.asarray(FREE_MAIL, dtype=object)[_codes(rng, FREE_MAIL_P, n)]
    local = np.where(domain_type == 1, free_local, corporate)
    domain = np.where(domain_type == 1, free_domain, pool.domain[company])
    email = local + "@" + domain
    number = rng.integers(2_000_000_000, 9_999_999_999, n).astype(str).astype(object)
    cc = np.asarray(_PHONE_CC, dtype=object)[pool.country[company]]
    phone = np.where(rng.random(n) < 0.2, number, cc + " " + number)
    phone[rng.random(n) < 0.12] = None
    return first + " " + last, email, phone
