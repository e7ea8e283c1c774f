"""Facts of the HyperTracker service that are not part of the account-API contract."""

from __future__ import annotations

# Where a user manages the account in a browser: copy or regenerate the token, change the plan.
WEB_DASHBOARD = "https://app.coinmarketman.com/hypertracker/api-dashboard"

# The cheapest documented data call: a token check (`ht-dash auth check`, `k` on screen 1) asks it.
TOKEN_CHECK = "/hypertracker/state/status"
TOKEN_CHECK_COST = f"one request to GET {TOKEN_CHECK}, which may spend one usage token"
