"""The round trips of a write that waits for replicas, as pure steps (``_waiting``).

The drivers send what the flow yields; these tests answer it by hand, so that every
decision (load the script, follow MOVED or ASK, let the cluster client look again, give up)
is checked without a server. tests/cluster/test_waiting.py checks them on a real cluster.
"""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import (
    AskError,
    ClusterError,
    MovedError,
    NoScriptError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from idemsdk._lua import CLAIM
from idemsdk._waiting import LEARN, MAX_HOPS, Flow, Learn, Send, Wait, waiting_write

WAIT = Wait(replicas=1, timeout_ms=250)
KEY = "tenant:scope:digest"
ARGS = ("fp", 30000, 60000, "claim-id")
CLAIMED = [1, 7, 1000, 900]


def flow(*, cluster: bool = True) -> Flow:
    return waiting_write(WAIT, CLAIM, KEY, ARGS, cluster=cluster)


def first(steps: Flow) -> Send:
    step = next(steps)
    assert isinstance(step, Send)
    return step


def answer(steps: Flow, replies: list[Any]) -> Send | Learn | tuple[Any, Any]:
    """Send the replies in; the next step, or what the flow returned."""
    try:
        return steps.send(replies)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def test_the_script_and_wait_go_in_one_round_trip_to_the_keys_primary() -> None:
    steps = flow()
    step = first(steps)
    assert step == Send(None, (("EVALSHA", CLAIM.sha, 1, KEY, *ARGS), ("WAIT", 1, 250)))
    assert answer(steps, [CLAIMED, 1]) == (CLAIMED, 1)


def test_a_node_without_the_script_gets_it_with_eval_on_the_same_connection() -> None:
    steps = flow()
    first(steps)
    again = answer(steps, [NoScriptError("NOSCRIPT"), 1])
    assert again == Send(None, (("EVAL", CLAIM.source, 1, KEY, *ARGS), ("WAIT", 1, 250)))
    assert answer(steps, [CLAIMED, 0]) == (CLAIMED, 0)  # the count is the caller's to judge


def test_moved_lets_the_client_update_its_slot_map_then_routes_by_the_key_again() -> None:
    steps = flow()
    first(steps)
    assert answer(steps, [MovedError("3999 127.0.0.1:7002"), 1]) is LEARN
    assert steps.send(None) == Send(None, (("EVALSHA", CLAIM.sha, 1, KEY, *ARGS), ("WAIT", 1, 250)))
    assert answer(steps, [CLAIMED, 1]) == (CLAIMED, 1)


def test_ask_sends_asking_the_script_and_wait_to_the_node_it_names() -> None:
    steps = flow()
    first(steps)
    step = answer(steps, [AskError("3999 127.0.0.1:7002"), 1])
    assert step == Send(
        ("127.0.0.1", 7002),
        (("ASKING",), ("EVALSHA", CLAIM.sha, 1, KEY, *ARGS), ("WAIT", 1, 250)),
    )
    # That node may not have the script: EVAL, still ASKING, still there.
    step = answer(steps, ["OK", NoScriptError("NOSCRIPT"), 1])
    assert step == Send(
        ("127.0.0.1", 7002),
        (("ASKING",), ("EVAL", CLAIM.source, 1, KEY, *ARGS), ("WAIT", 1, 250)),
    )
    assert answer(steps, ["OK", CLAIMED, 1]) == (CLAIMED, 1)


def test_redirections_that_never_end_give_up() -> None:
    steps = flow()
    first(steps)
    for hop in range(2, MAX_HOPS + 1):  # the first round trip was hop 1
        step = answer(steps, ["OK", AskError(f"3999 127.0.0.1:{7000 + hop}"), 1])
        assert isinstance(step, Send) and step.target == ("127.0.0.1", 7000 + hop)
    with pytest.raises(ClusterError, match=f"{MAX_HOPS} redirections"):
        steps.send(["OK", AskError("3999 127.0.0.1:7100"), 1])


def test_a_standalone_client_does_not_follow_redirections() -> None:
    steps = flow(cluster=False)
    first(steps)
    moved = MovedError("3999 127.0.0.1:7002")
    with pytest.raises(MovedError) as caught:
        steps.send([moved, 1])
    assert caught.value is moved


def _unreachable(steps: Flow, thrown: bool) -> Send | Learn | tuple[Any, Any]:
    """The driver throws what kept it from sending, or answers the error it read instead."""
    lost = RedisConnectionError("Connection closed by server.")
    return steps.throw(lost) if thrown else answer(steps, [lost, lost])


@pytest.mark.parametrize("thrown", [True, False], ids=["not sent", "reply lost"])
def test_an_unreachable_node_is_looked_for_again_and_the_write_sent_to_its_successor(
    thrown: bool,
) -> None:
    steps = flow()
    first(steps)
    assert _unreachable(steps, thrown) is LEARN
    # The client found the key's primary (the replica that took over): the same write goes
    # there, routed by the key; the scripts know their own second run.
    assert steps.send(True) == Send(None, (("EVALSHA", CLAIM.sha, 1, KEY, *ARGS), ("WAIT", 1, 250)))
    assert answer(steps, [CLAIMED, 1]) == (CLAIMED, 1)


@pytest.mark.parametrize("thrown", [True, False], ids=["not sent", "reply lost"])
def test_an_unreachable_node_the_client_cannot_replace_fails_the_write(thrown: bool) -> None:
    steps = flow()
    first(steps)
    assert _unreachable(steps, thrown) is LEARN
    with pytest.raises(RedisConnectionError, match="Connection closed by server"):
        steps.send(False)


def test_on_a_standalone_client_an_unreachable_server_just_fails() -> None:
    steps = flow(cluster=False)
    first(steps)
    lost = RedisConnectionError("Connection refused.")
    with pytest.raises(RedisConnectionError):
        steps.throw(lost)


def test_an_error_reply_to_wait_is_raised() -> None:
    steps = flow()
    first(steps)
    error = ResponseError("ERR WAIT cannot be used with replica instances")
    with pytest.raises(ResponseError) as caught:
        steps.send([CLAIMED, error])
    assert caught.value is error
