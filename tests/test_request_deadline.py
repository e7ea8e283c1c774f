"""Each request has a total deadline: a server that trickles its answer byte by byte cannot keep a
command or a panel waiting (httpx's own timeouts are per read, and every byte resets them)."""

from __future__ import annotations

import pytest

from faultserver import SENTINEL_TOKEN, FaultServer, Options
from ht_dash import cli
from ht_dash.api import AccountClient, NetworkError, Secret
from ht_dash.api.errors import ConfigError
from ht_dash.commands import _common as common
from ht_dash.config import Settings, load_settings

pytestmark = pytest.mark.fault

TRICKLE = Options(byte_delay=0.05)  # a ~500-byte answer would take ~25 s


@pytest.fixture
def one_attempt(monkeypatch):
    monkeypatch.setattr(common, "RETRY", common.RetryPolicy(attempts=1))


async def test_a_trickling_answer_is_cut_off_at_the_deadline():
    with FaultServer("trickle", options=TRICKLE) as server:
        client = AccountClient(server.base_url, Secret(SENTINEL_TOKEN), deadline=0.5)
        async with client:
            with pytest.raises(NetworkError) as caught:
                await client.profile()
    assert str(caught.value.message) == "127.0.0.1 answered too slowly (no full answer in 0.5 s)"


async def test_a_quick_answer_is_not_affected_by_the_deadline():
    with FaultServer("ok") as server:
        async with AccountClient(server.base_url, Secret(SENTINEL_TOKEN), deadline=5) as client:
            assert (await client.profile()).name == "Fault Server"


def test_status_gives_up_on_a_trickling_server_with_exit_4(monkeypatch, capsys, one_attempt):
    monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL_TOKEN)
    with FaultServer("trickle", options=TRICKLE) as server:
        code = cli.main(["--base-url", server.base_url, "--request-deadline", "0.5", "status"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_NETWORK
    assert "answered too slowly (no full answer in 0.5 s)" in err


def test_the_deadline_comes_from_config_env_and_option(tmp_path, monkeypatch, capsys):
    assert Settings().request_deadline <= 30
    config = tmp_path / "config.toml"
    config.write_text("request_deadline = 12\n")
    assert load_settings(config, env={}).request_deadline == 12
    env = {"HT_DASH_REQUEST_DEADLINE": "7.5"}
    assert load_settings(config, env=env).request_deadline == 7.5
    with pytest.raises(ConfigError, match="request_deadline"):
        load_settings(config, env={"HT_DASH_REQUEST_DEADLINE": "0"})
    with pytest.raises(ConfigError, match="request_deadline"):
        load_settings(config, env={"HT_DASH_REQUEST_DEADLINE": "soon"})
    runtime = cli.make_runtime(cli.build_parser().parse_args(["--request-deadline", "3", "status"]))
    assert runtime.make_client(None).deadline == 3
    assert cli.main(["--request-deadline", "0", "status"]) == cli.EXIT_USAGE
    assert "request_deadline" in capsys.readouterr().err
