"""Property: every valid record of every event survives encode then decode unchanged."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import EVENT_NAMES, decode, encode, validate
from tests.unit.schema_strategies import records


@pytest.mark.parametrize("event_name", EVENT_NAMES)
@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decode_inverts_encode(event_name, data):
    record = data.draw(records(event_name), label="record")
    validate(event_name, record)
    encoded = encode(event_name, record)
    assert decode(encoded) == (event_name, record)


@pytest.mark.parametrize("event_name", EVENT_NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_encoding_is_deterministic_and_the_decoded_record_reencodes_identically(event_name, data):
    record = data.draw(records(event_name), label="record")
    encoded = encode(event_name, record)
    _, decoded = decode(encoded)
    assert encode(event_name, decoded) == encoded
