"""Every test runs isolated: its own HT_DASH_HOME, an in-memory keyring, no token in the env."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend

pytest_plugins = (
    "fault_matrix",  # prints "fault matrix: N cases, N handled" (tests/fault_matrix.py)
    "pg_server",  # a throwaway PostgreSQL: fixtures pg_server, pg_url (tests/pg_server.py)
)


@pytest.fixture
def demo_app():
    """Builds the app on the demo backend, fixed clock and seed, no live timers:
    `demo_app("free")`, `demo_app(at=NOW, history_entries=50_000)` (tests/ui_harness.py)."""
    from ui_harness import build_demo_app

    return build_demo_app


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.entries:
            raise PasswordDeleteError("not found")
        del self.entries[(service, username)]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """No test reads or writes the developer's config, cache, keyring or token env vars."""
    home = tmp_path / "ht-dash-home"
    monkeypatch.setenv("HT_DASH_HOME", str(home))
    for name in (
        "HT_DASH_TOKEN",
        "HYPERTRACKER_API_TOKEN",
        "HYPERTRACKER_API_KEY",
        "HT_DASH_BASE_URL",
        "HT_DASH_CLIPBOARD",
        "HT_DASH_BELL",
        "HT_DASH_LIVE_INTERVAL",
        "HT_DASH_SOURCE",
        "HT_DASH_THEME",
        "HT_DASH_METER_STORE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    return home


@pytest.fixture(autouse=True)
def fresh_secret_registry():
    """Each test starts with no registered secrets: what it asserts about redaction must not
    depend on a token some earlier test happened to register (the registry is process-wide)."""
    from ht_dash import logs

    with logs._secrets_lock:
        saved = set(logs._secrets)
        logs._secrets.clear()
    yield
    with logs._secrets_lock:
        logs._secrets.clear()
        logs._secrets.update(saved)


@pytest.fixture(autouse=True)
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


# ---- keyring backends that misbehave (token storage tests; also for app tests) -------------------


class HangingKeyring(KeyringBackend):
    """Every call blocks until `release` is set: a locked Secret Service waiting for a prompt."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.release = threading.Event()
        self.calls = 0

    def _block(self, *args: object) -> None:
        self.calls += 1
        self.release.wait(30)

    get_password = set_password = delete_password = _block  # type: ignore[assignment]


class RefusingKeyring(MemoryKeyring):
    """Reads work, writes fail: e.g. a locked collection whose unlock prompt was dismissed."""

    def set_password(self, service: str, username: str, password: str) -> None:
        from keyring.errors import PasswordSetError

        raise PasswordSetError("Failed to unlock the collection!")


@pytest.fixture
def fail_keyring():
    """keyring's own 'no backend available' backend, as on a machine without Secret Service."""
    from keyring.backends import fail

    backend = fail.Keyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def null_keyring():
    """keyring's null backend: accepts writes, keeps nothing."""
    from keyring.backends import null

    backend = null.Keyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def hanging_keyring(monkeypatch):
    """A keyring that never answers; the storage timeout is cut to 0.2 s. Released at teardown."""
    from ht_dash.auth import storage

    monkeypatch.setattr(storage, "DEFAULT_KEYRING_TIMEOUT", 0.2)
    backend = HangingKeyring()
    keyring.set_keyring(backend)
    yield backend
    backend.release.set()


@pytest.fixture
def refusing_keyring():
    backend = RefusingKeyring()
    keyring.set_keyring(backend)
    return backend
