"""The local usage meter: a metering reverse proxy (`ht-dash meter`) and a data source reading it.

- `proxy`: forwards a bot's requests to the real API and records each one;
- `recorder`: batched writes from the proxy's hot path into a store, retention;
- `store`: the stores behind one interface: SQLite (default), PostgreSQL (shared by a team);
- `metrics`: Prometheus exposition (`--metrics-listen`);
- `streams`: relays bots' WebSocket streams (Centrifugo) and counts them;
- `answers`: the meter's own JSON answers and error wording, shared by `proxy` and `streams`;
- `templates`: path and channel normalisation into templates;
- `source`: `MeterSource`, the `AccountSource` that reads the meter (`--source meter`);
- `bench`: measures the meter against its latency and throughput budgets.

Nothing here imports Textual.
"""

# Defaults the `ht-dash meter` parser shows; here so that building the CLI's parser (every
# command, `status` included) does not import the proxy and h11.
DEFAULT_UPSTREAM = "https://ht-api.coinmarketman.com"
DEFAULT_STREAM_UPSTREAM = "wss://ws.hypertracker.io"  # Centrifugo, `--stream-upstream`
STREAM_PATH = "/connection/websocket"
DEFAULT_LISTEN = "127.0.0.1:8787"
DEFAULT_STREAM_URL = f"ws://{DEFAULT_LISTEN}{STREAM_PATH}"  # a bot's stream through the meter
DEFAULT_RETENTION_DAYS = 90
DEFAULT_TIMEOUT_S = 30.0  # upstream answer, and each gap in a body either way
DEFAULT_HEADER_TIMEOUT_S = 10.0  # a connection's request head must be complete within this
DEFAULT_IDLE_TIMEOUT_S = 60.0  # a keep-alive connection with no request is closed after this
DEFAULT_MAX_CLIENTS = 1024  # lowered at start to what the open-file limit allows
DEFAULT_MAX_BUFFERED_MIB = 64  # request bodies held in memory across all connections
