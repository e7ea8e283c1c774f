"""The app's token state in one object: the token, where it lives, where it would be stored,
what resolving it at start found, and whether it is being replaced (a 401 is then expected)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ht_dash.api.secret import Secret
from ht_dash.auth.storage import DemoTokenStore, ResolvedToken, TokenLocation, TokenStore

NOWHERE = "nowhere (this session only)"


@dataclass
class TokenState:
    token: Secret | None
    location: TokenLocation | None  # None: nowhere, this session only
    store: TokenStore | DemoTokenStore
    resolved: ResolvedToken | None = None  # what start-up resolution found (warnings, problem)
    regenerating: bool = False

    def use(self, token: Secret | None, location: TokenLocation | None) -> None:
        self.token, self.location = token, location

    @property
    def current(self) -> ResolvedToken:
        return ResolvedToken(self.token, self.location)

    @property
    def where(self) -> str:
        return self.location.label if self.location else NOWHERE

    @contextmanager
    def replacing(self) -> Iterator[None]:
        """While a regeneration runs: the old token dies, and that 401 is no reason to log in."""
        self.regenerating = True
        try:
            yield
        finally:
            self.regenerating = False
