"""docs/account-api.md documents exactly what the client calls and the demo serves."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ht_dash.api import contract
from ht_dash.clock import FixedClock
from ht_dash.demo import DemoBackend

DOC = (Path(__file__).parent.parent / "docs" / "account-api.md").read_text(encoding="utf-8")
AT = datetime(2026, 11, 25, 14, 3, 7, tzinfo=UTC)

PATHS = {
    name: getattr(contract, name)
    for name in dir(contract)
    if name.isupper()
    and isinstance(getattr(contract, name), str)
    and getattr(contract, name).startswith("/account")
}
DOCUMENTED = {
    path: method
    for method, path in re.findall(r"^### `(GET|POST) (/account/[a-z/]+)`", DOC, flags=re.M)
}


def test_every_contract_path_is_documented_and_nothing_else():
    assert set(PATHS.values()) == set(DOCUMENTED)


def _fields(value, prefix=""):
    """Every field name of a JSON answer, as dotted paths (list items under `name[]`)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{prefix}{key}"
            yield from _fields(item, f"{prefix}{key}.")
    elif isinstance(value, list) and value:
        yield from _fields(value[0], f"{prefix[:-1]}[]." if prefix else "")


QUERIES = {
    contract.ENDPOINT_USAGE: {"timeframe": "30d"},
    contract.ENDPOINT_DAILY: {"method": "GET", "path": "/fills", "timeframe": "30d"},
    contract.METRICS: {"days": 90},
}


@pytest.mark.parametrize("path", sorted(set(PATHS.values())))
def test_every_field_the_demo_serves_is_in_the_doc(path):
    backend = DemoBackend(seed=7, clock=FixedClock(AT), plan_id="stream")
    method = DOCUMENTED[path]

    async def call():
        async with httpx.AsyncClient(
            transport=backend.transport(), base_url="https://demo.invalid/api/external"
        ) as http:
            return await http.request(
                method,
                path,
                params=QUERIES.get(path),
                headers={"Authorization": f"Bearer {backend.token.reveal()}"},
            )

    import asyncio

    response = asyncio.run(call())
    assert response.status_code in (200, 201)
    section = DOC.split(f"`{method} {path}`", 1)[1].split("\n### ", 1)[0]
    for field in _fields(response.json()):
        leaf = field.split(".")[-1].removesuffix("[]")
        names = (f"`{leaf}`", f"`{field}`", f".{leaf}`", f"`{field}.", f"`{field}[]")
        assert any(name in section for name in names), (
            f"{path}: field {field!r} is served but not documented"
        )
