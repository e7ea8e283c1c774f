"""The account-API client, models and errors. Never imports Textual."""

from ht_dash.api.client import AccountClient, check_base_url
from ht_dash.api.contract import DEFAULT_BASE_URL
from ht_dash.api.errors import (
    AuthError,
    BadPayload,
    BadRequest,
    ConfigError,
    HtError,
    InsecureBaseURL,
    NetworkError,
    NotAvailable,
    NotOffered,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from ht_dash.api.secret import Secret, mask

__all__ = [
    "DEFAULT_BASE_URL",
    "AccountClient",
    "AuthError",
    "BadPayload",
    "BadRequest",
    "ConfigError",
    "HtError",
    "InsecureBaseURL",
    "NetworkError",
    "NotAvailable",
    "NotOffered",
    "QuotaExhausted",
    "RateLimited",
    "Secret",
    "ServerError",
    "check_base_url",
    "mask",
]
