"""Real mode (an API without the log): the source chain answers screen 7 and the pacing advice from
the local meter, this token's records only."""

from __future__ import annotations

from ht_dash.api.secret import Secret
from ht_dash.config import Settings
from ht_dash.insights.pacing import pacing_summary
from ht_dash.runtime import Runtime
from realserver import REAL_TOKEN, RealServer
from test_real_mode import record_traffic


async def test_the_chain_reads_the_log_and_the_seconds_from_the_meter():
    with RealServer() as server:
        record_traffic(requests=30)  # this token's
        record_traffic(token="someone-else", requests=5, path="/fills")
        runtime = Runtime(settings=Settings(base_url=server.base_url, plan="pulse"))
        source = runtime.make_source(Secret(REAL_TOKEN))
        try:
            page = await source.recent_requests(None, 100)
            seconds = await source.second_counts(15)
        finally:
            await source.aclose()
    assert len(page.requests) == 30 and {r.path for r in page.requests} == {"/positions"}
    assert [r.id for r in page.requests] == sorted((r.id for r in page.requests), reverse=True)
    assert sum(seconds.requests) == 30 and seconds.limit_per_minute == 60
    assert pacing_summary(seconds).startswith("No minute over 60/min in 15 min")
