"""The suite's scheduling list names modules that exist (a renamed one would silently run last)."""

from tests.conftest import LONGEST_FIRST, ROOT


def test_every_longest_first_module_exists_once():
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    assert [m for m in LONGEST_FIRST if not (ROOT / m).is_file()] == []
