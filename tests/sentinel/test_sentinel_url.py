"""The Sentinel URL syntax, taken apart without a server."""

from __future__ import annotations

import pytest

from idemsdk import ConfigurationError
from idemsdk._redis_url import SentinelURL, parse_sentinel_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "redis+sentinel://10.0.0.1:26380,10.0.0.2/mymaster",
            SentinelURL(
                (("10.0.0.1", 26380), ("10.0.0.2", 26379)),
                "mymaster",
                "redis://sentinel-primary/0",
            ),
        ),
        (
            "redis+sentinel://s1, s2:5000 ,[::1]:5001/cache/",
            SentinelURL(
                (("s1", 26379), ("s2", 5000), ("::1", 5001)),
                "cache",
                "redis://sentinel-primary/0",
            ),
        ),
        (
            "REDIS+SENTINEL://s1/cache/3",
            SentinelURL((("s1", 26379),), "cache", "redis://sentinel-primary/3"),
        ),
    ],
)
def test_a_sentinel_url_names_its_sentinels_the_service_and_the_database(
    url: str, expected: SentinelURL
) -> None:
    assert parse_sentinel_url(url) == expected


def test_the_credentials_and_options_are_the_primarys() -> None:
    parsed = parse_sentinel_url(
        "redis+sentinel://app:s%40cret@s1:26379,s2:26379/cache/2"
        "?socket_timeout=3&health_check_interval=5"
    )
    assert parsed is not None
    assert parsed.node_url == (
        "redis://app:s%40cret@sentinel-primary/2?socket_timeout=3&health_check_interval=5"
    )
    assert parsed.sentinel_options == ()


def test_the_sentinels_own_credentials_are_split_off_the_primarys_options() -> None:
    parsed = parse_sentinel_url(
        "redis+sentinel://:primary-pw@s1/cache"
        "?sentinel_password=sentinel-pw&db=0&sentinel_username=watcher"
    )
    assert parsed is not None
    assert dict(parsed.sentinel_options) == {
        "sentinel_password": "sentinel-pw",
        "sentinel_username": "watcher",
    }
    assert parsed.node_url == "redis://:primary-pw@sentinel-primary/0?db=0"


def test_rediss_sentinel_speaks_tls_to_the_primary() -> None:
    parsed = parse_sentinel_url("rediss+sentinel://s1/cache?ssl_cert_reqs=none")
    assert parsed is not None
    assert parsed.node_url == "rediss://sentinel-primary/0?ssl_cert_reqs=none"


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://h/1",
        "unix:///tmp/redis.sock",
        "redis+cluster://a:7000/",
        "sentinel",
        "redis+sentinel:/s1/cache",
    ],
)
def test_other_urls_are_not_sentinel_urls(url: str) -> None:
    assert parse_sentinel_url(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://s1:26379", "names the service after the hosts"),
        ("redis+sentinel://s1:26379/", "names the service after the hosts"),
        ("redis+sentinel://s1/cache/one", "the database 'one' is not a number"),
        ("redis+sentinel://s1/cache/-1", "the database '-1' is not a number"),
        ("redis+sentinel://s1:port/cache", "bad node 's1:port'"),
        ("redis+sentinel://s1,,s2/cache", "a node without a host"),
    ],
)
def test_a_sentinel_url_that_cannot_work_is_refused(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        parse_sentinel_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://app:hunter2@s1:26379",
        "redis+sentinel://app:hunter2@s1/cache/one",
        "redis+sentinel://:hunter2@s1:port/cache",
        "redis+sentinel://s1/cache/one?sentinel_password=hunter2",
        "redis+sentinel://s1/cache/one?db=0&password=hunter2",
    ],
)
def test_the_refusal_does_not_show_a_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_sentinel_url(url)
    assert "hunter2" not in str(info.value)
    assert "***" in str(info.value)
