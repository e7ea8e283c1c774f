"""The non-UI flows the login and token screens use: validate-then-store, store-then-verify."""

from __future__ import annotations

import pytest

from ht_dash.api.client import AccountClient
from ht_dash.api.errors import AuthError
from ht_dash.api.secret import Secret
from ht_dash.auth import (
    KEYRING_SERVICE,
    KeyringFailure,
    KeyringTimeout,
    ResolvedToken,
    TokenStore,
    Where,
    regenerate,
    validate_and_store,
)
from test_auth_cli import HOST, SENTINEL, FakeTokenAPI

BASE = f"https://{HOST}/api/external"


class RecordingStore(TokenStore):
    """A real TokenStore that logs the order of saves relative to API requests."""

    def __init__(self, api: FakeTokenAPI) -> None:
        super().__init__(HOST)
        self.api = api
        self.saved_after_requests: list[int] = []

    def save(self, secret, *, insecure=False):
        self.saved_after_requests.append(len(self.api.requests))
        return super().save(secret, insecure=insecure)


def client_for(api: FakeTokenAPI, token: Secret | None = None) -> AccountClient:
    return AccountClient(BASE, token, transport=api.transport())


async def test_regenerate_stores_first_then_verifies(memory_keyring):
    api = FakeTokenAPI()
    store = RecordingStore(api)
    current = ResolvedToken(Secret(SENTINEL), store.keyring_location)
    async with client_for(api, Secret(SENTINEL)) as client:
        outcome = await regenerate(client, store, current)
    assert store.saved_after_requests == [1]  # after the POST, before the verifying GET
    assert len(api.requests) == 2
    assert outcome.saved is not None and outcome.saved.location.where is Where.KEYRING
    assert outcome.verified and not outcome.must_show
    assert memory_keyring.entries[(KEYRING_SERVICE, HOST)] == api.token.reveal()


async def test_regenerate_keeps_the_token_when_storing_fails(refusing_keyring):
    api = FakeTokenAPI()
    store = TokenStore(HOST)
    async with client_for(api, Secret(SENTINEL)) as client:
        outcome = await regenerate(
            client, store, ResolvedToken(Secret(SENTINEL), store.keyring_location)
        )
    assert outcome.must_show
    assert outcome.token == api.token  # the only copy, handed to the caller
    assert isinstance(outcome.store_error, KeyringFailure)
    assert outcome.verified  # the API accepts it even though it is not stored


async def test_regenerate_with_hanging_keyring_still_returns_the_token(hanging_keyring):
    api = FakeTokenAPI()
    store = TokenStore(HOST)
    async with client_for(api, Secret(SENTINEL)) as client:
        outcome = await regenerate(client, store, None)
    assert outcome.must_show and isinstance(outcome.store_error, KeyringTimeout)
    assert outcome.token == api.token


async def test_regenerate_keeps_file_storage_when_the_user_chose_it(memory_keyring):
    api = FakeTokenAPI()
    store = TokenStore(HOST)
    store.save(Secret(SENTINEL), insecure=True)
    async with client_for(api, Secret(SENTINEL)) as client:
        outcome = await regenerate(client, store, store.load())
    assert outcome.saved.location.where is Where.FILE
    assert store.file_path.read_text().strip() == api.token.reveal()
    assert memory_keyring.entries == {}


async def test_old_token_stops_working_after_regeneration(memory_keyring):
    api = FakeTokenAPI()
    async with client_for(api, Secret(SENTINEL)) as client:
        await regenerate(client, TokenStore(HOST), None)
    async with client_for(api, Secret(SENTINEL)) as old:
        with pytest.raises(AuthError):
            await old.token_info()


async def test_validate_and_store_stores_nothing_for_a_rejected_token(memory_keyring):
    api = FakeTokenAPI()
    api.fault = "401"
    async with client_for(api) as client:
        with pytest.raises(AuthError):
            await validate_and_store(client, TokenStore(HOST), Secret(SENTINEL))
    assert memory_keyring.entries == {}


async def test_validate_and_store_reports_storage_failure_without_raising(fail_keyring):
    api = FakeTokenAPI()
    async with client_for(api) as client:
        outcome = await validate_and_store(client, TokenStore(HOST), Secret(SENTINEL))
    assert outcome.profile.email == "ada@example.com"
    assert outcome.saved is None and "no OS keyring" in outcome.store_error.message
