"""The embedded simulated backend behind `ht-dash --demo`. Never imports Textual.

backend = DemoBackend(seed=7, clock=FixedClock(...))
client = AccountClient(DEFAULT_BASE_URL, backend.token, transport=backend.transport())
"""

from ht_dash.demo.backend import DemoBackend
from ht_dash.demo.transport import DemoTransport

__all__ = ["DemoBackend", "DemoTransport"]
