"""The demo bot's requests one by one: the stream behind screen 7 in `--demo`.

The same traffic the live view counts (`Traffic.second_counts`), drawn request by request from
stateless seeded noise, so any second can be produced on demand and ids never change: a request's
id is `second * 1000 + its index in that second`. A bucket's 429s are its last requests, as many as
`live` reports for it; everything else is 2xx except a small, endpoint-dependent share of errors.
"""

from __future__ import annotations

import bisect
import math
from datetime import UTC, datetime
from itertools import accumulate

from ht_dash.api.models import RequestLogPage, RequestRecord, SecondCounts
from ht_dash.demo.noise import normal, unit
from ht_dash.demo.usage import LIVE_INTERVAL_S, Traffic

_REQ_TIME, _REQ_ENDPOINT, _REQ_ERROR, _REQ_LAT, _REQ_BYTES = 31, 32, 33, 34, 35
WINDOW_S = 60
IDS_PER_SECOND = 1000
BASE_ERROR_RATE = 0.012
ERROR_STATUSES = (500, 502, 503, 400, 404)
# With nothing to start from, look back at most this far for the newest requests.
LOOKBACK_S = 6 * 3600


class DemoRequestLog:
    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        self.seed = traffic.seed
        self.log_id = f"demo-{self.seed}"
        weights = [e.calls_per_hour * e.active_share for e in traffic.endpoints]
        self._cumulative = list(accumulate(weights))

    def _throttled(self, bucket: int) -> int:
        limit = self.traffic.account.plan.rate_limit_per_minute
        if limit is None:
            return 0
        received = [self.traffic.bucket_requests(bucket - k) for k in range(4)]
        return min(received[0], max(0, sum(received) - limit))

    def _bucket(self, bucket: int) -> list[RequestRecord]:
        """Every request of one 15 s bucket, oldest first."""
        counts = self.traffic.second_counts(bucket)
        total = sum(counts)
        throttled_from = total - self._throttled(bucket)
        records: list[RequestRecord] = []
        index_in_bucket = 0
        for offset, count in enumerate(counts):
            second = bucket * LIVE_INTERVAL_S + offset
            offsets = sorted(unit(self.seed, _REQ_TIME, second, k) for k in range(count))
            for k, fraction in enumerate(offsets):
                rid = second * IDS_PER_SECOND + k
                records.append(
                    self._request(rid, second + fraction, index_in_bucket >= throttled_from)
                )
                index_in_bucket += 1
        return records

    def _request(self, rid: int, ts: float, throttled: bool) -> RequestRecord:
        seed = self.seed
        pick = unit(seed, _REQ_ENDPOINT, rid) * self._cumulative[-1]
        spec = self.traffic.endpoints[bisect.bisect_right(self._cumulative, pick)]
        retry_after = None
        if throttled:
            status = 429
            retry_after = float(WINDOW_S - int(ts) % WINDOW_S)  # when the minute frees up
            size = 92
        elif unit(seed, _REQ_ERROR, rid) < BASE_ERROR_RATE * spec.error_factor:
            status = ERROR_STATUSES[int(unit(seed, _REQ_ERROR, rid, 1) * len(ERROR_STATUSES))]
            size = 120
        else:
            status = 200
            size = 600 + int(40_000 * unit(seed, _REQ_BYTES, rid) ** 2)
        latency = spec.latency_ms * math.exp(0.35 * normal(seed, _REQ_LAT, rid))
        if throttled:  # refused at the door: far quicker than an answer
            latency *= 0.08
        return RequestRecord(
            id=rid,
            at=datetime.fromtimestamp(round(ts, 3), UTC),
            method=spec.method,
            path=spec.path,
            status=status,
            latency_ms=round(latency, 1),
            bytes=size,
            retry_after=retry_after,
            instance=None,
        )

    def second_counts(self, window_minutes: int, now: datetime) -> SecondCounts:
        """The window's complete seconds before `now`: requests, and the 429s among them (a
        bucket's last ones, as in `_bucket`)."""
        end_s = math.floor(now.timestamp())
        start_s = end_s - window_minutes * 60
        requests: list[int] = []
        throttled: list[int] = []
        for bucket in range(start_s // LIVE_INTERVAL_S, (end_s - 1) // LIVE_INTERVAL_S + 1):
            counts = self.traffic.second_counts(bucket)
            left = self._throttled(bucket)
            refused = [0] * LIVE_INTERVAL_S
            for offset in reversed(range(LIVE_INTERVAL_S)):
                refused[offset] = min(counts[offset], left)
                left -= refused[offset]
            for offset in range(LIVE_INTERVAL_S):
                if start_s <= bucket * LIVE_INTERVAL_S + offset < end_s:
                    requests.append(counts[offset])
                    throttled.append(refused[offset])
        return SecondCounts(
            start=datetime.fromtimestamp(start_s, UTC),
            requests=tuple(requests),
            throttled=tuple(throttled),
            limit_per_minute=self.traffic.account.plan.rate_limit_per_minute,
        )

    def page(self, after_id: int | None, limit: int, now: datetime) -> RequestLogPage:
        """Requests with id > after_id that arrived in the seconds before `now`, newest first."""
        now_s = math.floor(now.timestamp())
        floor_s = now_s - LOOKBACK_S if after_id is None else after_id // IDS_PER_SECOND
        newest: list[RequestRecord] = []
        newest_id = after_id
        truncated = False
        bucket = (now_s - 1) // LIVE_INTERVAL_S
        while bucket * LIVE_INTERVAL_S + LIVE_INTERVAL_S > floor_s:
            for record in reversed(self._bucket(bucket)):
                if record.at.timestamp() >= now_s:
                    continue  # still arriving: shown once its second is complete
                if after_id is not None and record.id <= after_id:
                    return RequestLogPage(self.log_id, tuple(newest), newest_id, truncated)
                if newest_id is None or record.id > newest_id:
                    newest_id = record.id
                if len(newest) == limit:
                    truncated = True
                    return RequestLogPage(self.log_id, tuple(newest), newest_id, truncated)
                newest.append(record)
            bucket -= 1
        return RequestLogPage(self.log_id, tuple(newest), newest_id, truncated)
