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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ht_dash.api.jwt import TokenTimes, decode_claims, token_times
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

# Names are loaded on first use (PEP 562): `import ht_dash.auth.storage` on the CLI's start-up
# path then costs neither the flows nor the JWT module.
_WHERE: dict[str, str] = {
    "TokenTimes": "ht_dash.api.jwt",
    "decode_claims": "ht_dash.api.jwt",
    "token_times": "ht_dash.api.jwt",
    "KeyringDropsWrites": "ht_dash.auth.errors",
    "KeyringFailure": "ht_dash.auth.errors",
    "KeyringLocked": "ht_dash.auth.errors",
    "KeyringTimeout": "ht_dash.auth.errors",
    "KeyringUnavailable": "ht_dash.auth.errors",
    "TokenFileError": "ht_dash.auth.errors",
    "TokenStoreError": "ht_dash.auth.errors",
    "LoginOutcome": "ht_dash.auth.flows",
    "RegenerateOutcome": "ht_dash.auth.flows",
    "regenerate": "ht_dash.auth.flows",
    "validate_and_store": "ht_dash.auth.flows",
    "DEMO_LOCATION": "ht_dash.auth.storage",
    "DeleteResult": "ht_dash.auth.storage",
    "DemoTokenStore": "ht_dash.auth.storage",
    "KEYRING_SERVICE": "ht_dash.auth.storage",
    "KeyringProbe": "ht_dash.auth.storage",
    "ResolvedToken": "ht_dash.auth.storage",
    "SaveResult": "ht_dash.auth.storage",
    "TOKEN_ENV_VARS": "ht_dash.auth.storage",
    "TokenLocation": "ht_dash.auth.storage",
    "TokenStore": "ht_dash.auth.storage",
    "Where": "ht_dash.auth.storage",
    "aresolve_token": "ht_dash.auth.storage",
    "host_key": "ht_dash.auth.storage",
    "resolve_token": "ht_dash.auth.storage",
    "store_for": "ht_dash.auth.storage",
}

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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
