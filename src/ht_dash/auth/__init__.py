"""The API token's life: storage (env > keyring > opt-in file), clipboard, JWT times, login and
regeneration flows. Used by the CLI commands and the Textual screens; never imports Textual.

Entry points:
- `resolve_token(runtime)` / `aresolve_token(runtime)` -> `ResolvedToken`
  (secret, location, warnings, problem)
- `store_for(runtime)` -> `TokenStore` (`DemoTokenStore` under --demo): load/save/delete, a* async
- `validate_and_store(client, store, secret, insecure=)` and `regenerate(client, store, current)`
- `clipboard.copy_text(...)`, `clipboard.copy_native(...)`, `clipboard.osc52_sequence(...)`
- `jwt.token_times(secret)` -> issued_at / expires_at
"""

from ht_dash.auth.errors import (
    KeyringDropsWrites,
    KeyringFailure,
    KeyringLocked,
    KeyringTimeout,
    KeyringUnavailable,
    TokenFileError,
    TokenStoreError,
)
from ht_dash.auth.flows import LoginOutcome, RegenerateOutcome, regenerate, validate_and_store
from ht_dash.api.jwt import TokenTimes, decode_claims, token_times
from ht_dash.auth.storage import (
    DEMO_LOCATION,
    KEYRING_SERVICE,
    TOKEN_ENV_VARS,
    DeleteResult,
    DemoTokenStore,
    KeyringProbe,
    ResolvedToken,
    SaveResult,
    TokenLocation,
    TokenStore,
    Where,
    aresolve_token,
    host_key,
    resolve_token,
    store_for,
)

__all__ = [
    "DEMO_LOCATION",
    "KEYRING_SERVICE",
    "TOKEN_ENV_VARS",
    "DeleteResult",
    "DemoTokenStore",
    "KeyringDropsWrites",
    "KeyringFailure",
    "KeyringLocked",
    "KeyringProbe",
    "KeyringTimeout",
    "KeyringUnavailable",
    "LoginOutcome",
    "RegenerateOutcome",
    "ResolvedToken",
    "SaveResult",
    "TokenFileError",
    "TokenLocation",
    "TokenStore",
    "TokenStoreError",
    "TokenTimes",
    "Where",
    "aresolve_token",
    "decode_claims",
    "host_key",
    "regenerate",
    "resolve_token",
    "store_for",
    "token_times",
    "validate_and_store",
]
