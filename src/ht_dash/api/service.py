"""Facts of the HyperTracker service that are not part of the account-API contract."""

from __future__ import annotations

# Where a user manages the account in a browser: copy or regenerate the token, change the plan.
WEB_DASHBOARD = "https://app.coinmarketman.com/hypertracker/api-dashboard"
