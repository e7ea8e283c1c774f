"""The local usage meter: a metering reverse proxy (`ht-dash meter`) and a data source reading it.

- `proxy`: forwards a bot's requests to the real API and records each one;
- `recorder`: the SQLite store (batched writes, WAL, retention);
- `templates`: path normalisation into endpoint templates;
- `source`: `MeterSource`, the `AccountSource` that reads the meter (`--source meter`);
- `bench`: measures the meter against its latency and throughput budgets.

Nothing here imports Textual.
"""
