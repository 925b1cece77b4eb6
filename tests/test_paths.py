"""The one rule for names that become a folder or file name (adgenesis.paths), and safe_child."""

from __future__ import annotations

import pytest

from adgenesis.paths import SAFE_NAME_MAX, PathEscape, check_safe_name, is_safe_name, safe_child


@pytest.mark.parametrize("name", ["a", "router-classifier-v3", "design_default.2", "9lives", "x" * SAFE_NAME_MAX])
def test_plain_names_pass(name):
    assert is_safe_name(name) and check_safe_name(name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "-flag", "a/b", "..", "a..b", "a b", "name\n",
                                  "x" * (SAFE_NAME_MAX + 1), "café", None, 3])
def test_anything_else_is_refused(name):
    assert not is_safe_name(name)
    with pytest.raises(PathEscape, match="not a plain name"):
        check_safe_name(name)


def test_safe_child_stays_inside(tmp_path):
    assert safe_child(tmp_path, "a/b") == (tmp_path / "a" / "b").resolve()
    for bad in ("../x", "/etc", "~root", "a\\b", ""):
        with pytest.raises(PathEscape):
            safe_child(tmp_path, bad)
