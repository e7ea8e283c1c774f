"""Token storage: precedence, keyring failure modes, the 0600 file, demo isolation, JWT times."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from datetime import UTC, datetime

import pytest

from ht_dash.api.secret import Secret
from ht_dash.auth import (
    KEYRING_SERVICE,
    KeyringDropsWrites,
    KeyringFailure,
    KeyringTimeout,
    KeyringUnavailable,
    TokenStore,
    Where,
    resolve_token,
    token_times,
)
from ht_dash.auth.storage import host_key

BASE = "https://ht-api.coinmarketman.com/api/external"
HOST = "ht-api.coinmarketman.com"


def jwt(claims: dict, signature: str = "c2lnbmF0dXJlLXNlbnRpbmVs") -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


KEYRING_TOKEN = Secret(jwt({"sub": "u1", "iat": 1_760_000_000}, "keyringsig"))
FILE_TOKEN = Secret(jwt({"sub": "u1", "iat": 1_760_000_000}, "filesig"))


def store(**kwargs) -> TokenStore:
    return TokenStore.for_base_url(BASE, **kwargs)


# ---- precedence -----------------------------------------------------------------------------


def test_env_beats_keyring_beats_file(memory_keyring, monkeypatch):
    s = store()
    s.write_file(FILE_TOKEN)
    assert s.load().secret == FILE_TOKEN
    assert s.load().location.where is Where.FILE

    memory_keyring.set_password(KEYRING_SERVICE, HOST, KEYRING_TOKEN.reveal())
    resolved = s.load()
    assert resolved.secret == KEYRING_TOKEN
    assert resolved.location.label.startswith("OS keyring (")

    monkeypatch.setenv("HYPERTRACKER_API_TOKEN", "from-hypertracker-env-var")
    assert store().load().location.label == "environment variable HYPERTRACKER_API_TOKEN"
    monkeypatch.setenv("HT_DASH_TOKEN", "from-ht-dash-env-var")
    resolved = store().load()
    assert resolved.secret == Secret("from-ht-dash-env-var")
    assert resolved.location.label == "environment variable HT_DASH_TOKEN"
    assert not resolved.location.saved


def test_store_repr_does_not_dump_the_environment(monkeypatch):
    monkeypatch.setenv("HT_DASH_TOKEN", "env-token-sentinel-4242")
    s = store()
    resolved = s.load()
    assert "env-token-sentinel-4242" not in repr(s) + repr(resolved) + str(resolved)


def test_blank_env_var_is_ignored(memory_keyring, monkeypatch):
    monkeypatch.setenv("HT_DASH_TOKEN", "   ")
    memory_keyring.set_password(KEYRING_SERVICE, HOST, KEYRING_TOKEN.reveal())
    assert store().load().secret == KEYRING_TOKEN


def test_keyring_entry_is_per_host(memory_keyring):
    TokenStore.for_base_url(BASE).save(KEYRING_TOKEN)
    TokenStore.for_base_url("http://127.0.0.1:8080/api").save(FILE_TOKEN)
    assert memory_keyring.entries == {
        (KEYRING_SERVICE, HOST): KEYRING_TOKEN.reveal(),
        (KEYRING_SERVICE, "127.0.0.1:8080"): FILE_TOKEN.reveal(),
    }
    assert host_key("https://EXAMPLE.test/x") == "example.test"


def test_env_token_never_saved(memory_keyring, monkeypatch, isolated_home):
    monkeypatch.setenv("HT_DASH_TOKEN", "env-only-token-value")
    store().load()
    assert memory_keyring.entries == {}
    assert not any(isolated_home.rglob("*.token"))


# ---- plain-text file ------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_file_is_0600_in_0700_dir_and_says_insecure(isolated_home):
    s = store()
    result = s.save(FILE_TOKEN, insecure=True)
    path = isolated_home / "config" / "tokens" / f"{HOST}.token"
    assert result.location.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text().strip() == FILE_TOKEN.reveal()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    assert "plain-text file" in result.location.label and "(insecure)" in result.location.label
    loaded = s.load()
    assert loaded.location.insecure
    assert any("plain text" in w for w in loaded.warnings)


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_file_readable_by_others_is_flagged(isolated_home):
    s = store()
    s.write_file(FILE_TOKEN)
    os.chmod(s.file_path, 0o644)
    assert any("readable by others" in w for w in s.load().warnings)


def test_saving_to_keyring_removes_plaintext_copy(memory_keyring):
    s = store()
    s.save(FILE_TOKEN, insecure=True)
    result = s.save(KEYRING_TOKEN)
    assert not s.file_path.exists()
    assert any("removed the plain-text copy" in w for w in result.warnings)


def test_saving_to_file_removes_shadowing_keyring_entry(memory_keyring):
    s = store()
    s.save(KEYRING_TOKEN)
    s.save(FILE_TOKEN, insecure=True)
    assert memory_keyring.entries == {}
    assert s.load().secret == FILE_TOKEN


def test_delete_removes_keyring_entry_and_file(memory_keyring):
    s = store()
    s.write_file(FILE_TOKEN)
    memory_keyring.set_password(KEYRING_SERVICE, HOST, KEYRING_TOKEN.reveal())
    result = s.delete()
    assert [loc.where for loc in result.removed] == [Where.KEYRING, Where.FILE]
    assert memory_keyring.entries == {} and not s.file_path.exists()
    assert s.load().secret is None


# ---- keyring failure modes ------------------------------------------------------------------


def test_fail_backend_is_reported_as_no_keyring_with_what_to_do(fail_keyring, isolated_home):
    s = store()
    resolved = s.load()
    assert resolved.secret is None
    assert isinstance(resolved.problem, KeyringUnavailable)
    assert "no OS keyring is available" in resolved.problem.message
    hint = resolved.problem.hint
    assert "HT_DASH_TOKEN" in hint and "--insecure-storage" in hint and "gnome-keyring" in hint
    with pytest.raises(KeyringUnavailable):
        s.save(KEYRING_TOKEN)
    assert not s.file_path.exists()  # never falls back to plain text on its own
    assert s.probe_keyring().usable is False


def test_fail_backend_still_finds_the_file(fail_keyring):
    s = store()
    s.save(FILE_TOKEN, insecure=True)  # the keyring clean-up step must not fail the save
    assert s.load().secret == FILE_TOKEN


def test_null_backend_drops_writes_and_is_caught(null_keyring):
    s = store()
    with pytest.raises(KeyringDropsWrites) as info:
        s.save(KEYRING_TOKEN)
    assert "reading it back gave nothing" in info.value.message
    assert "PYTHON_KEYRING_BACKEND" in info.value.hint
    probe = s.probe_keyring()
    assert not probe.usable and probe.backend == "null backend"


def test_hanging_backend_times_out_and_says_so(hanging_keyring):
    s = store()
    started = time.monotonic()
    resolved = s.load()
    assert time.monotonic() - started < 5
    assert isinstance(resolved.problem, KeyringTimeout)
    assert "did not answer within 0.2 s" in resolved.problem.message
    assert "unlock" in resolved.problem.hint
    with pytest.raises(KeyringTimeout, match="answer"):
        s.save(KEYRING_TOKEN)


def test_refusing_backend_error_names_backend_not_token(refusing_keyring):
    with pytest.raises(KeyringFailure) as info:
        store().save(KEYRING_TOKEN)
    text = str(info.value)
    assert "PasswordSetError" in text and "Failed to unlock" in text
    assert KEYRING_TOKEN.reveal() not in text


# ---- demo isolation -------------------------------------------------------------------------


class FakeDemo:
    token = Secret("demo-token-value-123456")


def test_demo_mode_never_touches_the_keyring(hanging_keyring, monkeypatch):
    from ht_dash.config import Settings
    from ht_dash.runtime import Runtime

    monkeypatch.setenv("HT_DASH_TOKEN", "env-token-not-for-demo")
    monkeypatch.setattr(Runtime, "demo_backend", property(lambda self: FakeDemo()))
    resolved = resolve_token(Runtime(settings=Settings(), demo=True))
    assert resolved.secret == FakeDemo.token
    assert resolved.location.where is Where.DEMO
    assert hanging_keyring.calls == 0


def test_resolve_token_outside_demo_uses_the_store(memory_keyring):
    from ht_dash.config import Settings
    from ht_dash.runtime import Runtime

    store().save(KEYRING_TOKEN)
    assert resolve_token(Runtime(settings=Settings(base_url=BASE))).secret == KEYRING_TOKEN


# ---- JWT times ------------------------------------------------------------------------------


def test_token_times_from_iat_and_exp():
    times = token_times(Secret(jwt({"iat": 1_760_000_000, "exp": 1_760_086_400})))
    assert times.issued_at == datetime(2025, 10, 9, 8, 53, 20, tzinfo=UTC)
    assert times.expires_at == datetime(2025, 10, 10, 8, 53, 20, tzinfo=UTC)
    assert times.expired(datetime(2025, 10, 11, tzinfo=UTC))


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", jwt({"iat": "yesterday"}), jwt({"iat": True}), "x.!!!.y", jwt([1])],  # type: ignore[list-item]
)
def test_token_times_of_odd_tokens_are_unknown(token):
    times = token_times(token)
    assert times.issued_at is None and times.expires_at is None


def test_auth_and_its_commands_never_import_textual():
    import subprocess
    import sys

    code = (
        "import sys, ht_dash.auth, ht_dash.auth.clipboard, ht_dash.commands.auth\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
