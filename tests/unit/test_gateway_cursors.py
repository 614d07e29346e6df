"""Page cursors: opaque to clients, valid only for the caller and list they were issued for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.cursors import CursorSigner
from gateway.problems import Problem

SIGNER = CursorSigner(b"secret")
positions = st.lists(st.one_of(st.integers(-(2**53), 2**53), st.text(max_size=20), st.booleans()),
                     max_size=4)


@given(positions)
def test_a_cursor_gives_back_its_position(position):
    assert SIGNER.open(SIGNER.seal("ada", "tray", position), "ada", "tray") == position


@pytest.mark.parametrize(("user", "resource"), [("bob", "tray"), ("ada", "viewers:x")])
def test_a_cursor_is_bound_to_its_caller_and_list(user, resource):
    cursor = SIGNER.seal("ada", "tray", [1, "x"])
    with pytest.raises(Problem) as refused:
        SIGNER.open(cursor, user, resource)
    assert refused.value.status == 400
    assert refused.value.document.errors[0].field == "cursor"


@given(st.text(max_size=80))
def test_nothing_but_issued_cursors_opens(text):
    with pytest.raises(Problem):
        SIGNER.open(text, "ada", "tray")


def test_an_altered_position_is_refused():
    payload, mac = SIGNER.seal("ada", "tray", [0, "a"]).split(".")
    forged = SIGNER.seal("ada", "tray", [5, "z"]).split(".")[0]
    with pytest.raises(Problem):
        SIGNER.open(f"{forged}.{mac}", "ada", "tray")
    assert payload != forged


def test_another_secret_does_not_open_it():
    cursor = SIGNER.seal("ada", "tray", [1])
    with pytest.raises(Problem):
        CursorSigner(b"other").open(cursor, "ada", "tray")
