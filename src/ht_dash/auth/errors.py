"""Token-storage errors. Each says what went wrong and what the user can do instead.

Messages never contain the token; text from third-party exceptions is scrubbed before use.
"""

from __future__ import annotations

from ht_dash.api.errors import HtError

ENV_HINT = "set HT_DASH_TOKEN in your shell for this session"
FILE_HINT = "run `ht-dash login --insecure-storage` to keep it in a plain-text file (mode 0600)"
INSTALL_HINT = (
    "on Linux, run a Secret Service provider (gnome-keyring or KeePassXC) inside a D-Bus "
    "session; `keyring --list-backends` shows what Python's keyring can use"
)


class TokenStoreError(HtError):
    """The token could not be read from, written to or removed from its storage."""

    title = "Token storage problem"


class KeyringUnavailable(TokenStoreError):
    """No usable keyring backend (keyring's fail backend, NoKeyringError, backend init errors)."""

    title = "No OS keyring"

    def __init__(self, message: str) -> None:
        super().__init__(
            message, hint=f"{ENV_HINT}, or {FILE_HINT}; to get an OS keyring: {INSTALL_HINT}"
        )


class KeyringTimeout(TokenStoreError):
    """The keyring did not answer in time: typically locked and waiting for an unlock prompt."""

    title = "Keyring not answering"

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            hint=(
                "unlock your keyring (log in to the desktop session, or answer its unlock "
                f"prompt) and try again; or {ENV_HINT}, or {FILE_HINT}"
            ),
        )


class KeyringLocked(TokenStoreError):
    """The keyring refused because it is locked (the unlock prompt was dismissed)."""

    title = "Keyring locked"

    def __init__(self, message: str) -> None:
        super().__init__(
            message, hint=f"unlock your keyring and try again; or {ENV_HINT}, or {FILE_HINT}"
        )


class KeyringDropsWrites(TokenStoreError):
    """The backend accepted a write but reading back gave something else (e.g. the null backend)."""

    title = "Keyring does not keep tokens"

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            hint=(
                "check PYTHON_KEYRING_BACKEND and keyringrc.cfg (`keyring diagnose` shows them); "
                f"or {ENV_HINT}, or {FILE_HINT}"
            ),
        )


class KeyringFailure(TokenStoreError):
    """Any other error raised by the keyring backend."""

    title = "Keyring error"

    def __init__(self, message: str) -> None:
        super().__init__(message, hint=f"{ENV_HINT}, or {FILE_HINT}")


class TokenFileError(TokenStoreError):
    """The plain-text token file could not be read, written or removed."""

    title = "Token file problem"
