"""Configuration: argument > environment > default, and clear errors for unusable settings."""

from __future__ import annotations

import pytest

from dbt_runs import (
    DEFAULT_BASE_URL,
    AsyncRunsClient,
    ConfigurationError,
    InvalidArgumentError,
    RetryPolicy,
    Timeout,
)
from dbt_runs._config import resolve_account_id, resolve_base_url, resolve_token

from .fakes import TOKEN, Script, envelope, respond, run_json


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DBT_API_KEY", "DBT_CLOUD_BASE_URL", "DBT_CLOUD_HOST", "DBT_CLOUD_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("base_url", "host", "env", "expected"),
    [
        (None, None, {}, "https://cloud.getdbt.com/api/v2"),
        ("https://emea.dbt.com", None, {}, "https://emea.dbt.com/api/v2"),
        ("https://emea.dbt.com/", None, {}, "https://emea.dbt.com/api/v2"),
        ("https://ab123.us1.dbt.com/api/v2/", None, {}, "https://ab123.us1.dbt.com/api/v2"),
        ("http://127.0.0.1:8000/api/v2", None, {}, "http://127.0.0.1:8000/api/v2"),
        (None, "emea.dbt.com", {}, "https://emea.dbt.com/api/v2"),
        (None, None, {"DBT_CLOUD_HOST": "au.dbt.com"}, "https://au.dbt.com/api/v2"),
        (None, None, {"DBT_CLOUD_BASE_URL": "https://x.test"}, "https://x.test/api/v2"),
        # The base URL variable wins over the host variable; an argument wins over both.
        (
            None,
            None,
            {"DBT_CLOUD_BASE_URL": "https://a.test/api/v2", "DBT_CLOUD_HOST": "b.test"},
            "https://a.test/api/v2",
        ),
        ("https://arg.test", None, {"DBT_CLOUD_HOST": "b.test"}, "https://arg.test/api/v2"),
        (None, "arg.test", {"DBT_CLOUD_BASE_URL": "https://a.test"}, "https://arg.test/api/v2"),
    ],
)
def test_base_url_resolution(
    base_url: str | None, host: str | None, env: dict[str, str], expected: str
) -> None:
    assert resolve_base_url(base_url, host, env) == expected


def test_default_base_url_is_v2_not_the_seeds_v3() -> None:
    assert DEFAULT_BASE_URL == "https://cloud.getdbt.com/api/v2"


@pytest.mark.parametrize(
    ("base_url", "host", "needle"),
    [
        ("https://cloud.getdbt.com/api/v3", None, "/api/v2"),
        ("cloud.getdbt.com", None, "http(s) URL"),
        ("ftp://x.test", None, "http(s) URL"),
        ("https://user:pw@x.test", None, "credentials"),
        ("https://x.test?a=1", None, "query"),
        (None, "https://emea.dbt.com", "bare host name"),
        (None, "emea.dbt.com/api/v2", "bare host name"),
        ("https://x.test", "y.test", "not both"),
    ],
)
def test_bad_base_url_or_host_is_a_clear_error(
    base_url: str | None, host: str | None, needle: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_base_url(base_url, host, {})
    assert needle in str(info.value)


def test_token_argument_beats_environment() -> None:
    assert resolve_token("arg", {"DBT_API_KEY": "env"}) == "arg"
    assert resolve_token(None, {"DBT_API_KEY": "env"}) == "env"


@pytest.mark.parametrize("token", [None, "", "   "])
def test_missing_token_fails_at_construction(token: str | None) -> None:
    with pytest.raises(ConfigurationError, match="DBT_API_KEY"):
        AsyncRunsClient(token=token)


def test_missing_token_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="token"):
        AsyncRunsClient()


def test_account_id_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_account_id(None, {"DBT_CLOUD_ACCOUNT_ID": " 70403103922125 "}) == 70403103922125
    assert resolve_account_id(7, {"DBT_CLOUD_ACCOUNT_ID": "8"}) == 7
    assert resolve_account_id(None, {}) is None
    with pytest.raises(ConfigurationError, match="DBT_CLOUD_ACCOUNT_ID must be a whole number"):
        resolve_account_id(None, {"DBT_CLOUD_ACCOUNT_ID": "abc"})
    with pytest.raises(ConfigurationError, match="positive"):
        resolve_account_id(0, {})


@pytest.mark.anyio
async def test_environment_configures_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBT_API_KEY", TOKEN)
    monkeypatch.setenv("DBT_CLOUD_HOST", "emea.dbt.com")
    monkeypatch.setenv("DBT_CLOUD_ACCOUNT_ID", "42")
    async with AsyncRunsClient() as client:
        assert client.base_url == "https://emea.dbt.com/api/v2"
        assert client.account_id == 42
    assert client.is_closed


@pytest.mark.anyio
async def test_call_without_any_account_id_is_a_clear_error() -> None:
    import httpx

    script = Script(respond(envelope(run_json(1))))
    http = httpx.AsyncClient(transport=httpx.MockTransport(script))
    async with AsyncRunsClient(token=TOKEN, http_client=http) as client:
        with pytest.raises(InvalidArgumentError, match="DBT_CLOUD_ACCOUNT_ID"):
            await client.get_run(1)
        await client.get_run(1, account_id=9)
    # The client closes only what it created: the httpx client passed in stays open.
    assert not http.is_closed
    await http.aclose()
    assert script.requests[0].url.path == "/api/v2/accounts/9/runs/1/"


def test_repr_shows_no_token() -> None:
    client = AsyncRunsClient(token=TOKEN, account_id=1)
    assert TOKEN not in repr(client)
    assert TOKEN not in str(vars(client))
    assert "base_url" in repr(client)


def test_timeout_forms() -> None:
    assert Timeout.of(5) == Timeout(connect=5, read=5, write=5, pool=5, total=5)
    assert Timeout.of(None).total is None
    assert Timeout.of(Timeout(total=3)).total == 3
    with pytest.raises(ConfigurationError):
        Timeout.of("5")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Timeout(read=-1)
    assert AsyncRunsClient(token=TOKEN, timeout=7).timeout.total == 7
    assert AsyncRunsClient(token=TOKEN).timeout == Timeout()


def test_bad_client_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="page_window"):
        AsyncRunsClient(token=TOKEN, page_window=0)
    with pytest.raises(InvalidArgumentError, match="RetryPolicy"):
        AsyncRunsClient(token=TOKEN, retry=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_retries"):
        RetryPolicy(max_retries=-1)
