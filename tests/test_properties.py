"""Property: any JSON given to any `contract.parse_*` yields its model or raises BadPayload.

Two sources of input: arbitrary JSON values, and valid payloads mutated the way a changed or broken
server would (a key dropped, a value swapped for another JSON type, a list emptied or doubled).
Deterministic: derandomized, no example database.
"""

from __future__ import annotations

import copy
import inspect
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultserver import SENTINEL_TOKEN, sample_payloads
from ht_dash.api import BadPayload, contract

PARSERS = {
    name: func
    for name, func in inspect.getmembers(contract, inspect.isfunction)
    if name.startswith("parse_")
}

_payloads = sample_payloads(datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
VALID: dict[str, Any] = {
    "parse_profile": _payloads[contract.PROFILE],
    "parse_token_info": _payloads[contract.TOKEN],
    "parse_regenerated": {**_payloads[contract.TOKEN], "token": SENTINEL_TOKEN},
    "parse_subscription": _payloads[contract.SUBSCRIPTION],
    "parse_live": {
        **_payloads[contract.LIVE],
        "streams": {"connections_open": 2, "connection_limit": 5, "messages_per_minute": 900},
    },
    "parse_metrics": {
        **_payloads[contract.METRICS],
        "previous_summary": _payloads[contract.METRICS]["summary"],
        "daily": _payloads[contract.METRICS]["daily"][:3],
    },
    "parse_endpoint_usage": _payloads[contract.ENDPOINT_USAGE],
    "parse_endpoint_daily": _payloads[contract.ENDPOINT_DAILY],
    "parse_next_billing": _payloads[contract.NEXT_BILLING],
    "parse_history": {**_payloads[contract.HISTORY], "next_cursor": "c2"},
    "parse_request_log": _payloads[contract.REQUESTS],
    "parse_second_counts": _payloads[contract.SECONDS],
}

SETTINGS = settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["2026-11-25T14:00:00Z", "2026-11-25", "", "day", "month", "-1", "NaN"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)

WIRE_KEYS = sorted({key for payload in VALID.values() for key in payload})


def test_every_parser_has_a_valid_example():
    assert set(VALID) == set(PARSERS), "a new parse_* needs a valid payload here"
    for name, parse in PARSERS.items():
        parse(copy.deepcopy(VALID[name]))


def parse_or_bad_payload(parse, data: Any) -> None:
    try:
        parse(data)
    except BadPayload as exc:
        assert exc.message  # and says something
    # any other exception propagates and fails the property


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(data=json_values)
def test_any_json_value_yields_the_model_or_bad_payload(name, data):
    parse_or_bad_payload(PARSERS[name], data)


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(data=st.dictionaries(st.sampled_from(WIRE_KEYS), json_values, max_size=12))
def test_objects_with_the_right_keys_and_wrong_values(name, data):
    parse_or_bad_payload(PARSERS[name], data)


def _locations(value: Any, path: tuple = ()) -> list[tuple]:
    """Every (container path, key) inside a payload."""
    found: list[tuple] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        found.append((*path, key))
        found += _locations(child, (*path, key))
    return found


def _parent(payload: Any, location: tuple) -> Any:
    for key in location[:-1]:
        payload = payload[key]
    return payload


@st.composite
def mutated(draw, name: str) -> Any:
    payload = copy.deepcopy(VALID[name])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        locations = _locations(payload)
        if not locations:
            break
        location = draw(st.sampled_from(locations))
        parent, key = _parent(payload, location), location[-1]
        operation = draw(st.sampled_from(["drop", "swap", "null", "empty", "double", "negate"]))
        if operation == "drop":
            del parent[key]
        elif operation == "swap":
            parent[key] = draw(json_values)
        elif operation == "null":
            parent[key] = None
        elif operation == "empty":
            parent[key] = type(parent[key])() if isinstance(parent[key], list | dict | str) else 0
        elif operation == "double" and isinstance(parent[key], list):
            parent[key] = parent[key] * 2
        elif (
            operation == "negate"
            and isinstance(parent[key], int | float)
            and not isinstance(parent[key], bool)
        ):
            parent[key] = -parent[key] or -1
    return payload


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(data=st.data())
def test_mutated_valid_payloads_yield_the_model_or_bad_payload(name, data):
    parse_or_bad_payload(PARSERS[name], data.draw(mutated(name)))
