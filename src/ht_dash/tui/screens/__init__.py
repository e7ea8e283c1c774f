"""One module per screen. `SCREENS` lists the dashboard screens: the web dashboard's six in its
order, then the request log."""

from __future__ import annotations

# (mode name, key, tab label, module, class)
SCREENS: tuple[tuple[str, str, str, str, str], ...] = (
    ("token", "1", "Token", "ht_dash.tui.screens.token", "TokenScreen"),
    ("metrics", "2", "Metrics", "ht_dash.tui.screens.metrics", "MetricsScreen"),
    ("endpoints", "3", "Endpoints", "ht_dash.tui.screens.endpoints", "EndpointsScreen"),
    ("limits", "4", "Limits", "ht_dash.tui.screens.limits", "LimitsScreen"),
    ("billing", "5", "Billing", "ht_dash.tui.screens.billing", "BillingScreen"),
    ("history", "6", "History", "ht_dash.tui.screens.history", "HistoryScreen"),
    ("requests", "7", "Log", "ht_dash.tui.screens.requests", "RequestsScreen"),
)
