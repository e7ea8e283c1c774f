"""Where the API token lives, in order of precedence:

1. `HT_DASH_TOKEN` / `HYPERTRACKER_API_TOKEN` in the environment (read only, never saved);
2. the OS keyring: service "ht-dash", username = the API host (one entry per host);
3. a plain-text file `<config dir>/tokens/<host>.token`, mode 0600, only when the user chose it
   (`ht-dash login --insecure-storage`).

Keyring calls run on a daemon thread with a timeout: a locked Secret Service can block forever and
a missing D-Bus can stall, and neither may freeze the app or keep the process from exiting. Every
method here is synchronous but bounded; from async code call the `a*` variants (or
`asyncio.to_thread`). Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import importlib
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ht_dash.api.secret import Secret, token_text
from ht_dash.auth.errors import (
    KeyringDropsWrites,
    KeyringFailure,
    KeyringLocked,
    KeyringTimeout,
    KeyringUnavailable,
    TokenFileError,
    TokenStoreError,
)

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from ht_dash.runtime import Runtime

KEYRING_SERVICE = "ht-dash"
TOKEN_ENV_VARS = ("HT_DASH_TOKEN", "HYPERTRACKER_API_TOKEN")
DEFAULT_KEYRING_TIMEOUT = 4.0

T = TypeVar("T")


class Where(enum.Enum):
    ENV = "environment"
    KEYRING = "keyring"
    FILE = "file"
    DEMO = "demo"


@dataclass(frozen=True, slots=True)
class TokenLocation:
    """Where a token came from or went to, with the label shown to the user."""

    where: Where
    label: str
    path: Path | None = None

    @property
    def insecure(self) -> bool:
        return self.where is Where.FILE

    @property
    def saved(self) -> bool:
        """True when ht-dash keeps it (logout removes it); false for env vars and the demo."""
        return self.where in (Where.KEYRING, Where.FILE)

    def __str__(self) -> str:
        return self.label


DEMO_LOCATION = TokenLocation(Where.DEMO, "built-in demo backend (your keyring is not used)")


@dataclass(frozen=True, slots=True)
class ResolvedToken:
    """The token to use (or None), where it came from, and anything the user should know."""

    secret: Secret | None
    location: TokenLocation | None
    warnings: tuple[str, ...] = ()
    problem: TokenStoreError | None = None  # why a storage could not be read, if one failed

    @property
    def found(self) -> bool:
        return self.secret is not None

    @property
    def warning(self) -> str | None:
        """All warnings as one line (None when there are none)."""
        return "; ".join(self.warnings) or None


@dataclass(frozen=True, slots=True)
class SaveResult:
    location: TokenLocation
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeleteResult:
    removed: tuple[TokenLocation, ...] = ()
    problems: tuple[TokenStoreError, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyringProbe:
    """Whether the OS keyring can be used right now, without writing anything."""

    usable: bool
    backend: str
    problem: TokenStoreError | None = None


# ---- helpers ---------------------------------------------------------------------------------


def host_key(base_url: str) -> str:
    """The keyring username / file stem for a base URL: its host, plus the port if one is given."""
    parts = urlsplit(base_url.strip())
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError("base URL has no host")
    return f"{host}:{parts.port}" if parts.port else host


def display_path(path: Path) -> str:
    """`~/…` for paths under the home directory."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except (ValueError, RuntimeError):
        return str(path)


def token_file_path(host: str, config_dir: Path | None = None) -> Path:
    from ht_dash.paths import config_dir as default_config_dir

    stem = "".join(c if c.isalnum() or c in ".-" else "_" for c in host)
    return (config_dir or default_config_dir()) / "tokens" / f"{stem}.token"


def scrub(text: str, secret: Secret | None = None, limit: int = 200) -> str:
    """Third-party error text with the token removed (should a backend echo it), shortened."""
    if secret is not None:
        text = text.replace(secret.reveal(), "[token]")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def backend_label(backend: Any) -> str:
    """A short human name for a keyring backend: SecretService, macOS Keychain, …"""
    module = type(backend).__module__
    known = {
        "keyring.backends.SecretService": "SecretService",
        "keyring.backends.libsecret": "libsecret",
        "keyring.backends.kwallet": "KWallet",
        "keyring.backends.macOS": "macOS Keychain",
        "keyring.backends.Windows": "Windows Credential Manager",
        "keyring.backends.null": "null backend",
        "keyring.backends.fail": "none",
    }
    if module == "keyring.backends.chainer":
        inner = [backend_label(b) for b in getattr(backend, "backends", ())]
        return " + ".join(inner) if inner else "empty chain"
    if module in known:
        return known[module]
    if module.startswith("keyrings.alt"):
        return f"keyrings.alt {type(backend).__name__}"
    return f"{module}.{type(backend).__name__}"


def _why_no_keyring() -> str:
    """Why keyring fell back to its fail backend, for the platforms' usual backends."""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return f"PYTHON_KEYRING_BACKEND is set to {os.environ['PYTHON_KEYRING_BACKEND']}"
    if sys.platform == "darwin":
        candidates = [("keyring.backends.macOS", "Keyring", "macOS Keychain")]
    elif sys.platform == "win32":
        candidates = [("keyring.backends.Windows", "WinVaultKeyring", "Windows Credential Manager")]
    else:
        candidates = [("keyring.backends.SecretService", "Keyring", "Secret Service")]
    reasons = []
    for module, name, label in candidates:
        try:
            _ = getattr(importlib.import_module(module), name).priority
        except Exception as exc:  # noqa: BLE001 - any failure here is the explanation we want
            text = scrub(str(exc)).removeprefix("Unable to initialize SecretService: ")
            reasons.append(f"{label}: {text or type(exc).__name__}")
    return "; ".join(reasons) or "keyring found no usable backend"


# ---- running keyring calls off the calling thread --------------------------------------------

_pending_lock = threading.Lock()
_pending: threading.Event | None = None  # set when the last timed-out call finally returns


def _run_with_timeout(fn: Callable[[], T], timeout: float, doing: str) -> T:
    """Run `fn` on a daemon thread; raise KeyringTimeout if it does not return within `timeout`.

    A daemon thread (not an executor) so that a call that never returns cannot block exit. While an
    earlier call is still stuck, new calls wait for it first instead of piling up threads.
    """
    global _pending
    with _pending_lock:
        previous = _pending
    if previous is not None and not previous.wait(timeout):
        raise KeyringTimeout(
            f"the OS keyring has not answered an earlier request for over {timeout:g} s"
        )
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="ht-dash-keyring", daemon=True).start()
    if not done.wait(timeout):
        with _pending_lock:
            _pending = done
        raise KeyringTimeout(
            f"the OS keyring did not answer within {timeout:g} s while {doing} "
            "(it may be locked and waiting for an unlock prompt)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _translate(
    exc: BaseException, label: str, doing: str, secret: Secret | None
) -> TokenStoreError:
    """A keyring/backend exception as one of ours, with a message that names the backend."""
    import keyring.errors as kerr

    if isinstance(exc, TokenStoreError):
        return exc
    text = scrub(str(exc), secret)
    if isinstance(exc, kerr.NoKeyringError):
        return KeyringUnavailable(f"no OS keyring is available ({_why_no_keyring()})")
    if isinstance(exc, kerr.InitError):
        return KeyringUnavailable(f"the OS keyring ({label}) could not start: {text}")
    if isinstance(exc, kerr.KeyringLocked):
        return KeyringLocked(f"the OS keyring ({label}) is locked: {text or 'unlock was refused'}")
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return KeyringFailure(f"the OS keyring ({label}) failed while {doing} ({detail})")


# ---- the store -------------------------------------------------------------------------------


@dataclass
class TokenStore:
    """Reads, saves and removes the token for one API host. Never raises for a missing token."""

    host: str
    env: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)  # holds tokens
    timeout: float = field(default_factory=lambda: DEFAULT_KEYRING_TIMEOUT)
    config_dir: Path | None = None
    backend: KeyringBackend | None = None  # None: whatever `keyring.get_keyring()` gives
    _label: str | None = field(default=None, init=False, repr=False)

    @classmethod
    def for_base_url(cls, base_url: str, **kwargs: Any) -> TokenStore:
        return cls(host_key(base_url), **kwargs)

    @property
    def file_path(self) -> Path:
        return token_file_path(self.host, self.config_dir)

    @property
    def file_location(self) -> TokenLocation:
        path = self.file_path
        return TokenLocation(Where.FILE, f"plain-text file {display_path(path)} (insecure)", path)

    @property
    def keyring_location(self) -> TokenLocation:
        return TokenLocation(Where.KEYRING, f"OS keyring ({self._label or 'keyring'})")

    # -- keyring primitives

    def _keyring(
        self, op: Callable[[KeyringBackend], T], doing: str, secret: Secret | None = None
    ) -> T:
        label = self._label or "keyring"

        def call() -> T:
            nonlocal label
            import keyring
            from keyring.backends import fail

            backend = self.backend or keyring.get_keyring()
            label = backend_label(backend)
            self._label = label
            if isinstance(backend, fail.Keyring):
                raise KeyringUnavailable(f"no OS keyring is available ({_why_no_keyring()})")
            return op(backend)

        try:
            return _run_with_timeout(call, self.timeout, doing)
        except KeyringTimeout:
            raise
        except Exception as exc:  # noqa: BLE001 - every backend error becomes a TokenStoreError
            raise _translate(exc, label, doing, secret) from None

    def probe_keyring(self) -> KeyringProbe:
        """Can the keyring be read right now? (A read, no write: a null backend passes this.)"""
        try:
            self._keyring(
                lambda b: b.get_password(KEYRING_SERVICE, self.host), "checking for a token"
            )
        except TokenStoreError as exc:
            return KeyringProbe(False, self._label or "none", exc)
        if self._label == "null backend":
            return KeyringProbe(
                False,
                self._label,
                KeyringDropsWrites(
                    "the configured keyring is keyring's null backend, which stores nothing"
                ),
            )
        return KeyringProbe(True, self._label or "keyring")

    def read_keyring(self) -> Secret | None:
        value = self._keyring(
            lambda b: b.get_password(KEYRING_SERVICE, self.host), "reading the token"
        )
        if value is None or not token_text(str(value)):
            return None
        return Secret(str(value))

    def write_keyring(self, secret: Secret) -> TokenLocation:
        """Store, then read back: a backend that drops writes is reported, not trusted."""

        def op(backend: KeyringBackend) -> str | None:
            backend.set_password(KEYRING_SERVICE, self.host, secret.reveal())
            return backend.get_password(KEYRING_SERVICE, self.host)

        stored = self._keyring(op, "storing the token", secret)
        if stored != secret.reveal():
            got = "nothing" if stored is None else "a different value"
            raise KeyringDropsWrites(
                f"the OS keyring ({self._label}) accepted the token but reading it back gave {got}"
            )
        return self.keyring_location

    def delete_keyring(self) -> bool:
        """Remove this host's entry; True if there was one."""
        import keyring.errors as kerr

        def op(backend: KeyringBackend) -> bool:
            if backend.get_password(KEYRING_SERVICE, self.host) is None:
                return False
            try:
                backend.delete_password(KEYRING_SERVICE, self.host)
            except kerr.PasswordDeleteError:
                return False
            return True

        return self._keyring(op, "removing the token")

    # -- file primitives

    def read_file(self) -> tuple[Secret | None, tuple[str, ...]]:
        path = self.file_path
        try:
            text = path.read_text(encoding="utf-8")
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            return None, ()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise TokenFileError(
                f"cannot read the token file {display_path(path)}: {reason}",
                hint="fix its permissions, or delete it and run `ht-dash login` again",
            ) from None
        warnings: list[str] = []
        if os.name == "posix" and mode & 0o077:
            warnings.append(
                f"the token file {display_path(path)} is readable by others (mode {mode:o}); "
                f"run `chmod 600 {path}`"
            )
        if not token_text(text):
            warnings.append(f"the token file {display_path(path)} is empty")
            return None, tuple(warnings)
        return Secret(text), tuple(warnings)

    def write_file(self, secret: Secret) -> TokenLocation:
        """Atomically write the token with mode 0600 (directory 0700)."""
        path = self.file_path
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(OSError):
                os.chmod(path.parent, 0o700)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(tmp, flags, 0o600)
            try:
                os.write(fd, (secret.reveal() + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
            if path.read_text(encoding="utf-8").strip() != secret.reveal():
                raise TokenFileError(
                    f"the token file {display_path(path)} did not read back intact"
                )
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            reason = exc.strerror or type(exc).__name__
            raise TokenFileError(
                f"cannot write the token file {display_path(path)}: {reason}",
                hint="check that the config directory is writable, or set HT_DASH_TOKEN instead",
            ) from None
        return self.file_location

    def delete_file(self) -> bool:
        try:
            self.file_path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise TokenFileError(
                f"cannot remove the token file {display_path(self.file_path)}: {exc.strerror}",
                hint=f"delete it by hand: rm {self.file_path}",
            ) from None
        return True

    # -- the operations the app and commands use

    def from_env(self) -> tuple[Secret, TokenLocation] | None:
        for name in TOKEN_ENV_VARS:
            value = self.env.get(name, "")
            if token_text(value):
                return Secret(value), TokenLocation(Where.ENV, f"environment variable {name}")
        return None

    def load(self) -> ResolvedToken:
        """The token by precedence. Storage problems are reported in `.problem`, never raised."""
        env = self.from_env()
        if env is not None:
            return ResolvedToken(env[0], env[1])
        problem: TokenStoreError | None = None
        try:
            secret = self.read_keyring()
        except TokenStoreError as exc:
            secret, problem = None, exc
        if secret is not None:
            warnings = ()
            if self.file_path.exists():
                warnings = (
                    f"an older plain-text copy is still at {display_path(self.file_path)}; "
                    "`ht-dash logout` and a fresh `ht-dash login` remove it",
                )
            return ResolvedToken(secret, self.keyring_location, warnings)
        try:
            file_secret, file_warnings = self.read_file()
        except TokenFileError as exc:
            return ResolvedToken(None, None, (), problem or exc)
        if file_secret is not None:
            warnings = (f"the token is stored in plain text at {display_path(self.file_path)}",)
            return ResolvedToken(file_secret, self.file_location, warnings + file_warnings, problem)
        return ResolvedToken(None, None, file_warnings, problem)

    def save(self, secret: Secret, *, insecure: bool = False) -> SaveResult:
        """Keyring (verified by reading back), or the plain-text file when `insecure` was chosen.

        Raises TokenStoreError when the token could not be stored; nothing is written in plain
        text unless `insecure` is true.
        """
        warnings: list[str] = []
        if not insecure:
            location = self.write_keyring(secret)
            try:
                if self.delete_file():
                    warnings.append(
                        f"removed the plain-text copy at {display_path(self.file_path)}"
                    )
            except TokenFileError as exc:
                warnings.append(str(exc))
            return SaveResult(location, tuple(warnings))
        location = self.write_file(secret)
        # A keyring entry would shadow the file; remove it (nothing to do without a keyring).
        try:
            self.delete_keyring()
        except KeyringUnavailable:
            pass
        except TokenStoreError as exc:
            warnings.append(
                f"could not check the OS keyring for an older token, which would take precedence: "
                f"{exc.message}"
            )
        return SaveResult(location, tuple(warnings))

    def delete(self) -> DeleteResult:
        """Remove the keyring entry and the file, whichever exist."""
        removed: list[TokenLocation] = []
        problems: list[TokenStoreError] = []
        try:
            if self.delete_keyring():
                removed.append(self.keyring_location)
        except KeyringUnavailable:
            pass  # no keyring: nothing can be stored there
        except TokenStoreError as exc:
            problems.append(exc)
        try:
            if self.delete_file():
                removed.append(self.file_location)
        except TokenFileError as exc:
            problems.append(exc)
        return DeleteResult(tuple(removed), tuple(problems))

    # -- async variants (each bounded by the keyring timeout)

    async def aload(self) -> ResolvedToken:
        return await asyncio.to_thread(self.load)

    async def asave(self, secret: Secret, *, insecure: bool = False) -> SaveResult:
        return await asyncio.to_thread(self.save, secret, insecure=insecure)

    async def adelete(self) -> DeleteResult:
        return await asyncio.to_thread(self.delete)

    async def aprobe_keyring(self) -> KeyringProbe:
        return await asyncio.to_thread(self.probe_keyring)


class DemoTokenStore:
    """The demo's token lives in the demo backend; no keyring or file is ever touched."""

    host = "demo"

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def load(self) -> ResolvedToken:
        return ResolvedToken(self._runtime.demo_backend.token, DEMO_LOCATION)

    def save(self, secret: Secret, *, insecure: bool = False) -> SaveResult:
        if secret != self._runtime.demo_backend.token:
            raise TokenStoreError("the demo backend does not accept outside tokens")
        return SaveResult(DEMO_LOCATION)

    def delete(self) -> DeleteResult:
        return DeleteResult()

    def probe_keyring(self) -> KeyringProbe:
        return KeyringProbe(True, "not used in demo mode")

    async def aload(self) -> ResolvedToken:
        return self.load()

    async def asave(self, secret: Secret, *, insecure: bool = False) -> SaveResult:
        return self.save(secret, insecure=insecure)

    async def adelete(self) -> DeleteResult:
        return self.delete()

    async def aprobe_keyring(self) -> KeyringProbe:
        return self.probe_keyring()


def store_for(runtime: Runtime, **kwargs: Any) -> TokenStore | DemoTokenStore:
    """The store the app and every command use for this run (--demo never touches the keyring)."""
    if runtime.demo:
        return DemoTokenStore(runtime)
    return TokenStore.for_base_url(runtime.base_url, **kwargs)


def resolve_token(runtime: Runtime, **kwargs: Any) -> ResolvedToken:
    """The one way to get the token for a run: the demo's, or env > keyring > file."""
    return store_for(runtime, **kwargs).load()


async def aresolve_token(runtime: Runtime, **kwargs: Any) -> ResolvedToken:
    return await asyncio.to_thread(resolve_token, runtime, **kwargs)
