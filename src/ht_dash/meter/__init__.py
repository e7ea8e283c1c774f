"""The local usage meter: a metering reverse proxy (`ht-dash meter`) and a data source reading it.

- `proxy`: forwards a bot's requests to the real API and records each one;
- `recorder`: batched writes from the proxy's hot path into a store, retention;
- `store`: the stores behind one interface: SQLite (default), PostgreSQL (shared by a team);
- `metrics`: Prometheus exposition (`--metrics-listen`);
- `templates`: path normalisation into endpoint templates;
- `source`: `MeterSource`, the `AccountSource` that reads the meter (`--source meter`);
- `bench`: measures the meter against its latency and throughput budgets.

Nothing here imports Textual.
"""

# Defaults the `ht-dash meter` parser shows; here so that building the CLI's parser (every
# command, `status` included) does not import the proxy and h11.
DEFAULT_UPSTREAM = "https://ht-api.coinmarketman.com"
DEFAULT_LISTEN = "127.0.0.1:8787"
DEFAULT_RETENTION_DAYS = 90
