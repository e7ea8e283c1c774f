"""The floor for `ht-dash --demo status --json`: the smallest async CLI that does the same kind of
work — one GET through `httpx.AsyncClient` (over a MockTransport, as the demo answers in-process)
and the answer printed as JSON. Run as `python benchmarks/baseline_cli.py`."""

import sys

# As ht_dash/__init__.py does: httpx would otherwise import its own CLI (click, rich, pygments)
# whenever click is installed; neither program needs it, so neither pays for it.
sys.modules.setdefault("httpx._main", None)

import asyncio  # noqa: E402
import json  # noqa: E402

import httpx  # noqa: E402


def answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"plan": "surge", "tokens_used": 1234, "quota": 150000})


async def main() -> None:
    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(transport=transport, base_url="https://example.invalid") as client:
        response = await client.get("/status")
    json.dump(response.json(), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
