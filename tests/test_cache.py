"""The response cache: last good answer per endpoint, atomic, private, token-free."""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from faultserver import SENTINEL_TOKEN, sample_payloads
from ht_dash.api import Secret, contract
from ht_dash.api.models import RegeneratedToken
from ht_dash.feeds.cache import FORMAT_VERSION, Cached, ResponseCache, namespace_for
from ht_dash.logs import register_secret
from ht_dash.paths import cache_dir

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
PAYLOADS = sample_payloads(NOW)

# (cache key, contract path, parse, dump): every model the app shows
ENDPOINTS = [
    ("profile", contract.PROFILE, contract.parse_profile, contract.dump_profile),
    ("token", contract.TOKEN, contract.parse_token_info, contract.dump_token_info),
    (
        "subscription",
        contract.SUBSCRIPTION,
        contract.parse_subscription,
        contract.dump_subscription,
    ),
    ("live:15", contract.LIVE, contract.parse_live, contract.dump_live),
    ("metrics:90", contract.METRICS, contract.parse_metrics, contract.dump_metrics),
    (
        "usage:30d",
        contract.ENDPOINT_USAGE,
        contract.parse_endpoint_usage,
        contract.dump_endpoint_usage,
    ),
    ("billing", contract.NEXT_BILLING, contract.parse_next_billing, contract.dump_next_billing),
    ("history:all", contract.HISTORY, contract.parse_history, contract.dump_history),
]


@pytest.fixture
def cache(tmp_path) -> ResponseCache:
    return ResponseCache(tmp_path / "responses", "ht-api.example.test")


def subscription():
    return contract.parse_subscription(PAYLOADS[contract.SUBSCRIPTION])


@pytest.mark.parametrize(("key", "path", "parse", "dump"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_every_model_round_trips_with_its_saved_at(cache, key, path, parse, dump):
    model = parse(PAYLOADS[path])
    assert cache.save(key, model, dump, NOW) is True
    cached = cache.load(key, parse)
    assert cached == Cached(model, NOW)


def test_file_is_private_versioned_and_holds_the_wire_json(cache):
    assert cache.save("subscription", subscription(), contract.dump_subscription, NOW)
    path = cache.path_for("subscription")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == FORMAT_VERSION
    assert document["key"] == "subscription"
    assert datetime.fromisoformat(document["saved_at"]) == NOW
    assert document["data"] == contract.dump_subscription(subscription())
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_a_newer_answer_replaces_the_older(cache):
    older = subscription()
    newer = contract.parse_subscription({**PAYLOADS[contract.SUBSCRIPTION], "tokens_used": 20_000})
    cache.save("subscription", older, contract.dump_subscription, NOW)
    cache.save("subscription", newer, contract.dump_subscription, NOW + timedelta(minutes=5))
    cached = cache.load("subscription", contract.parse_subscription)
    assert cached is not None
    assert cached.model.tokens_used == 20_000
    assert cached.saved_at == NOW + timedelta(minutes=5)


def test_keys_with_parameters_do_not_collide(cache):
    base = PAYLOADS[contract.ENDPOINT_USAGE]
    for timeframe in ("30d", "90d"):
        model = contract.parse_endpoint_usage({**base, "timeframe": timeframe})
        cache.save(f"usage:{timeframe}", model, contract.dump_endpoint_usage, NOW)
    assert cache.load("usage:30d", contract.parse_endpoint_usage).model.timeframe == "30d"
    assert cache.load("usage:90d", contract.parse_endpoint_usage).model.timeframe == "90d"
    assert cache.path_for("usage:30d") != cache.path_for("usage_30d")


def test_missing_entry_is_none(cache):
    assert cache.load("subscription", contract.parse_subscription) is None


def test_demo_and_each_api_host_have_their_own_namespace(tmp_path):
    root = tmp_path / "responses"
    real = ResponseCache(
        root, namespace_for("https://ht-api.coinmarketman.com/api/external", demo=False)
    )
    demo = ResponseCache(
        root, namespace_for("https://ht-api.coinmarketman.com/api/external", demo=True)
    )
    local = ResponseCache(root, namespace_for("http://127.0.0.1:8765", demo=False))
    real.save("subscription", subscription(), contract.dump_subscription, NOW)
    assert demo.load("subscription", contract.parse_subscription) is None
    assert local.load("subscription", contract.parse_subscription) is None
    assert real.directory.name.startswith("ht-api.coinmarketman.com-")
    assert local.directory.name.startswith("127.0.0.1-8765-")
    assert demo.directory.name == "demo"


def test_default_cache_lives_in_the_platform_cache_dir():
    cache = ResponseCache.default("https://ht-api.coinmarketman.com/api/external", demo=False)
    assert cache.directory.parent == cache_dir() / "responses"


def test_a_token_is_never_written(cache):
    regenerated = RegeneratedToken(
        info=contract.parse_token_info(PAYLOADS[contract.TOKEN]), token=Secret(SENTINEL_TOKEN)
    )
    assert cache.save("token", regenerated, contract.dump_regenerated, NOW) is False
    assert cache.last_error == "not caching token: it holds a token"
    assert not cache.directory.exists()


def test_a_registered_secret_inside_any_payload_is_refused(cache):
    register_secret("opaque-non-jwt-secret-value-123")
    profile = contract.parse_profile(
        {**PAYLOADS[contract.PROFILE], "name": "opaque-non-jwt-secret-value-123"}
    )
    assert cache.save("profile", profile, contract.dump_profile, NOW) is False
    assert not cache.path_for("profile").exists()


def test_age_of_cached_data():
    cached = Cached(model=None, saved_at=NOW)
    assert cached.age(NOW + timedelta(minutes=4)) == timedelta(minutes=4)
    assert cached.age(NOW - timedelta(minutes=4)) == timedelta(0)  # clock skew never goes negative
    assert cached.age_text(NOW + timedelta(seconds=20)) == "just now"
    assert cached.age_text(NOW + timedelta(minutes=4)) == "4 min"
    assert cached.age_text(NOW + timedelta(hours=3, minutes=12)) == "3 h 12 min"
    assert cached.age_text(NOW + timedelta(hours=2)) == "2 h"
    assert cached.age_text(NOW + timedelta(days=1, hours=5)) == "1 day"
    assert cached.age_text(NOW + timedelta(days=9)) == "9 days"


def test_clear_removes_the_namespace_files(cache):
    cache.save("subscription", subscription(), contract.dump_subscription, NOW)
    cache.save(
        "profile", contract.parse_profile(PAYLOADS[contract.PROFILE]), contract.dump_profile, NOW
    )
    assert cache.clear() == 2
    assert cache.load("subscription", contract.parse_subscription) is None


# ---- faults: the disk misbehaves, the app keeps working ------------------------------------------

SAVED = NOW.isoformat()


def _doc(**fields) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.fault
def test_cache_dir_blocked_by_a_file_is_reported_not_raised(tmp_path):
    blocker = tmp_path / "responses"
    blocker.write_text("not a directory")
    cache = ResponseCache(blocker, "host")
    assert cache.save("subscription", subscription(), contract.dump_subscription, NOW) is False
    assert cache.last_error.startswith(f"cannot write the cache in {cache.directory}: ")
    assert cache.load("subscription", contract.parse_subscription) is None


@pytest.mark.fault
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_cache_dir_is_reported_not_raised(tmp_path):
    root = tmp_path / "responses"
    root.mkdir()
    root.chmod(0o500)
    try:
        cache = ResponseCache(root, "host")
        assert cache.save("subscription", subscription(), contract.dump_subscription, NOW) is False
        assert cache.last_error == f"cannot write the cache in {cache.directory}: Permission denied"
    finally:
        root.chmod(0o700)


@pytest.mark.fault
def test_read_only_file_system_is_reported_not_raised(cache, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "open", read_only)
    assert cache.save("subscription", subscription(), contract.dump_subscription, NOW) is False
    assert cache.last_error == f"cannot write the cache in {cache.directory}: Read-only file system"


@pytest.mark.fault
def test_full_disk_keeps_the_previous_good_copy_and_leaves_no_temp_file(cache, monkeypatch, caplog):
    cache.save("subscription", subscription(), contract.dump_subscription, NOW)
    newer = contract.parse_subscription({**PAYLOADS[contract.SUBSCRIPTION], "tokens_used": 1})

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with caplog.at_level(logging.DEBUG, logger="ht_dash"):
        for _ in range(3):
            assert cache.save("subscription", newer, contract.dump_subscription, NOW) is False
    monkeypatch.undo()
    assert (
        cache.last_error == f"cannot write the cache in {cache.directory}: No space left on device"
    )
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning, not one per poll"
    cached = cache.load("subscription", contract.parse_subscription)
    assert cached is not None and cached.model.tokens_used == 12_345
    assert [p.suffix for p in cache.directory.iterdir()] == [".json"]


@pytest.mark.fault
def test_failure_between_write_and_rename_keeps_the_old_file(cache, monkeypatch):
    cache.save("subscription", subscription(), contract.dump_subscription, NOW)

    def interrupted(src, dst):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "replace", interrupted)
    assert cache.save("subscription", subscription(), contract.dump_subscription, NOW) is False
    monkeypatch.undo()
    assert cache.load("subscription", contract.parse_subscription) is not None
    assert len(list(cache.directory.iterdir())) == 1


@pytest.mark.fault
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe garbage",
        _doc(format=1, key="subscription", saved_at=SAVED, data={})[:-12],
        b"[1, 2, 3]",
        _doc(format=99, key="subscription", saved_at=SAVED, data={}),
        _doc(key="subscription", saved_at=SAVED, data={}),
        _doc(format=1, key="profile", saved_at=SAVED, data={}),
        _doc(format=1, key="subscription", saved_at=12, data={}),
        _doc(format=1, key="subscription", saved_at="2026-11-25T14:00:00", data={}),
        _doc(format=1, key="subscription", saved_at=SAVED, data={}),
        b"[" * 100_000,
    ],
    ids=[
        "empty",
        "binary",
        "truncated",
        "not-an-object",
        "other-version",
        "no-version",
        "other-key",
        "bad-saved-at",
        "naive-saved-at",
        "invalid-payload",
        "deeply-nested",
    ],
)
def test_corrupt_or_foreign_file_is_ignored(cache, content):
    path = cache.path_for("subscription")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert cache.load("subscription", contract.parse_subscription) is None
    # and a fresh answer simply replaces it
    assert cache.save("subscription", subscription(), contract.dump_subscription, NOW)
    assert cache.load("subscription", contract.parse_subscription) is not None


@pytest.mark.fault
def test_unreadable_entry_is_ignored(cache):
    cache.path_for("subscription").mkdir(parents=True)  # a directory where the file should be
    assert cache.load("subscription", contract.parse_subscription) is None
