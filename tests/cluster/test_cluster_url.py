"""The cluster URL syntax, taken apart without a server."""

from __future__ import annotations

import pytest

from idemsdk import ConfigurationError
from idemsdk._redis_url import ClusterURL, parse_cluster_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7001/",
            ClusterURL("redis://10.0.0.1:7000/", (("10.0.0.1", 7000), ("10.0.0.2", 7001))),
        ),
        ("redis+cluster://cache", ClusterURL("redis://cache", (("cache", 6379),))),
        (
            "rediss+cluster://app:s%40cret@[::1]:7000,[::1]:7001/0?ssl_cert_reqs=none",
            ClusterURL(
                "rediss://app:s%40cret@[::1]:7000/0?ssl_cert_reqs=none",
                (("::1", 7000), ("::1", 7001)),
            ),
        ),
        (
            "redis+cluster://a:7000, b:7001,c/?db=0",
            ClusterURL("redis://a:7000/?db=0", (("a", 7000), ("b", 7001), ("c", 6379))),
        ),
    ],
)
def test_a_cluster_url_names_its_seed_nodes_and_keeps_credentials_and_options(
    url: str, expected: ClusterURL
) -> None:
    assert parse_cluster_url(url) == expected


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "rediss://h/1", "unix:///tmp/redis.sock", "cluster"]
)
def test_other_urls_are_not_cluster_urls(url: str) -> None:
    assert parse_cluster_url(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+cluster://a:7000/1", "only database 0"),
        ("redis+cluster://a:7000/?db=2", "only database 0"),
        ("redis+cluster://a:port/", "bad node 'a:port'"),
        ("redis+cluster://a:99999/", "bad node 'a:99999'"),
        ("redis+cluster://a:7000,,b:7001/", "a node without a host"),
        ("redis+cluster:///", "a node without a host"),
    ],
)
def test_a_cluster_url_that_cannot_work_is_refused(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        parse_cluster_url(url)


def test_the_refusal_does_not_show_the_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_cluster_url("redis+cluster://app:hunter2@a:7000/5")
    assert "hunter2" not in str(info.value)
    assert "app:***@a:7000" in str(info.value)
