"""Login and regeneration without a screen: the CLI commands and the Textual screens both use these.

Order matters and is the point of this module: a token is validated before it is stored, and a
regenerated token is stored first, read back, then verified; if it cannot be stored, the outcome
carries it so the caller shows it. A regenerated token is never lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ht_dash.api.errors import HtError, NotOffered
from ht_dash.api.models import Profile, TokenInfo
from ht_dash.api.secret import Secret
from ht_dash.auth.errors import TokenStoreError
from ht_dash.auth.storage import ResolvedToken, SaveResult, TokenLocation, Where


class TokenClient(Protocol):
    def set_token(self, token: Secret | None) -> None: ...
    async def profile(self) -> Profile: ...
    async def token_info(self) -> TokenInfo: ...
    async def regenerate_token(self): ...
    async def check_token(self) -> None: ...


class AsyncStore(Protocol):
    async def asave(self, secret: Secret, *, insecure: bool = False) -> SaveResult: ...


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    profile: Profile | None  # None when the API does not offer the account's profile
    saved: SaveResult | None
    store_error: TokenStoreError | None
    checked: bool = True  # False: stored without any request to the API ("not checked")

    def who(self) -> str:
        if self.profile is not None:
            return f"{self.profile.name} <{self.profile.email}>"
        return "your token (checked)" if self.checked else "your token (not checked)"


async def check_or_not(
    client: TokenClient, secret: Secret, confirm_check: Callable[[], Awaitable[bool]] | None
) -> tuple[Profile | None, bool]:
    """The account's profile when the API offers it; else, if `confirm_check` agrees, one
    request to a cheap data endpoint (raises AuthError…). Returns (profile, checked)."""
    client.set_token(secret)
    try:
        return await client.profile(), True
    except NotOffered:
        pass
    if confirm_check is None or not await confirm_check():
        return None, False
    await client.check_token()
    return None, True


async def validate_and_store(
    client: TokenClient,
    store: AsyncStore,
    secret: Secret,
    *,
    insecure: bool = False,
    confirm_check: Callable[[], Awaitable[bool]] | None = None,
) -> LoginOutcome:
    """Check the token against the API (raises AuthError, NetworkError…: nothing stored), store it.

    Where the API does not offer the account profile (the real service), `confirm_check` is
    asked whether to spend one request on `check_token`; declined, the token is stored unchecked.
    A storage failure does not raise: it is returned so the caller can offer the alternatives.
    """
    profile, checked = await check_or_not(client, secret, confirm_check)
    try:
        saved = await store.asave(secret, insecure=insecure)
    except TokenStoreError as exc:
        return LoginOutcome(profile, None, exc, checked)
    return LoginOutcome(profile, saved, None, checked)


@dataclass(frozen=True, slots=True)
class RegenerateOutcome:
    """The result of a regeneration that reached the server. `token` is the new, only copy."""

    token: Secret
    info: TokenInfo
    saved: SaveResult | None
    store_error: TokenStoreError | None  # storing was attempted and failed
    not_saved_reason: str | None  # storing was not attempted (the token came from an env var)
    verified: bool
    verify_error: HtError | None

    @property
    def must_show(self) -> bool:
        """True when the new token exists nowhere but here: the caller must show it to the user."""
        return self.saved is None


def _safe_store_error(exc: Exception) -> TokenStoreError:
    if isinstance(exc, TokenStoreError):
        return exc
    return TokenStoreError(f"unexpected {type(exc).__name__} while storing the new token")


async def regenerate(
    client: TokenClient, store: AsyncStore, current: ResolvedToken | TokenLocation | None
) -> RegenerateOutcome:
    """Regenerate (the old token dies at once), store the new one where the old one lived, verify.

    Raises only when the API call itself fails (then nothing changed, or the caller cannot know:
    see the hint in the CLI). Everything after that is reported in the outcome.
    """
    location = current.location if isinstance(current, ResolvedToken) else current
    regenerated = await client.regenerate_token()
    new = regenerated.token
    client.set_token(new)

    saved: SaveResult | None = None
    store_error: TokenStoreError | None = None
    not_saved: str | None = None
    if location is not None and location.where is Where.ENV:
        not_saved = (
            f"the old token came from the {location.label}, which ht-dash cannot change; "
            "put the new token there"
        )
    else:
        insecure = location is not None and location.where is Where.FILE
        try:
            saved = await store.asave(new, insecure=insecure)
        except Exception as exc:  # noqa: BLE001 - whatever happens, the new token is kept
            store_error = _safe_store_error(exc)

    verified, verify_error = False, None
    try:
        info = await client.token_info()
        verified = info.token_id == regenerated.info.token_id
        if not verified:
            verify_error = HtError("the API reports a different token than the one just issued")
    except HtError as exc:
        verify_error = exc
    return RegenerateOutcome(
        new, regenerated.info, saved, store_error, not_saved, verified, verify_error
    )
