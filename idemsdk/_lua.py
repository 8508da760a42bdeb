"""The Redis scripts: the whole idempotency protocol on the server side, one key each.

Each script touches exactly ``KEYS[1]`` (so all are Redis-Cluster safe) and runs atomically.
A record is a hash::

    status   in_progress | completed | failed
    token    fencing token of the owner (decimal)
    fp       fingerprint of the payload (hex)
    lease    lease deadline, ms since epoch, server clock (in_progress only)
    created  claim time, ms since epoch
    cid      the owner's claim id (in_progress only): random per claim, see below
    done     completion time, ms since epoch (completed / failed only)
    body     the engine's encoded outcome (completed / failed only)

Time is the server's (``TIME``), so clients with skewed clocks agree on leases. Tokens are
``max(previous + 1, now in µs)``: strictly larger on every takeover, and larger than any
token issued before a release deleted the record, so a stale owner can never match.
Numbers stay below 2^53, exact in Lua's doubles; ``%.0f`` avoids Lua's exponent notation.

A script may run twice for one call: redis-py sends a command again when the connection
drops before its reply arrives. Both writing scripts recognise their own second run. A
claim carries a random claim id, so a claim that finds an in-progress record with its own
id answers that the key is still its own (rather than busy, which would make the caller
wait on itself until its lease ran out); a completion that finds the very outcome it would
write (its token, status and body) answers stored (rather than a false "lease lost").
Both second runs write again the value they found, changing nothing: WAIT, sent after a
script on the same connection, counts the replicas that have that connection's last write,
and a second run on a new connection must give it one, or WAIT would count replicas that
lack the first run's write (where the server tracks only each connection's writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha1

__all__ = ["CLAIM", "COMPLETE", "RELEASE", "RENEW", "Script"]


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script and its SHA1, run with EVALSHA and loaded on NOSCRIPT."""

    name: str
    source: str
    sha: str

    @classmethod
    def of(cls, name: str, source: str) -> Script:
        """Build a script, computing its SHA1 once."""
        return cls(name, source, sha1(source.encode(), usedforsecurity=False).hexdigest())


_NOW = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""

CLAIM = Script.of(
    "idemsdk.claim",
    """
-- KEYS[1] record key
-- ARGV[1] fingerprint, ARGV[2] lease ms, ARGV[3] ttl ms, ARGV[4] claim id (random)
-- returns {1, token, lease_deadline_ms, now_ms}                   fresh claim (SETNX 1), or
--                                                                 this claim id's own, again
--         {2, token, lease_deadline_ms, now_ms}                   takeover of a lapsed lease
--         {0, token, lease_deadline_ms, now_ms, status, fp, body} existing record (SETNX 0)
--         {-1, type}                                              not a record of ours
"""
    + _NOW
    + """
local lease_ms = tonumber(ARGV[2])
local life_ms = math.max(tonumber(ARGV[3]), lease_ms)
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then
  local token = now_us
  local deadline = now_ms + lease_ms
  redis.call('HSET', KEYS[1], 'status', 'in_progress', 'token', string.format('%.0f', token),
             'fp', ARGV[1], 'lease', string.format('%.0f', deadline),
             'created', string.format('%.0f', now_ms), 'cid', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], life_ms)
  return {1, token, deadline, now_ms}
end
if kind ~= 'hash' then
  return {-1, kind}
end
local rec = redis.call('HMGET', KEYS[1], 'status', 'token', 'fp', 'lease', 'body', 'cid')
local status, token = rec[1], tonumber(rec[2])
if not status or not token or not rec[3] then
  return {-1, 'hash'}
end
local deadline = tonumber(rec[4]) or 0
if status == 'in_progress' and rec[6] == ARGV[4] then
  redis.call('HSET', KEYS[1], 'cid', ARGV[4])  -- for WAIT: see the module's docstring
  return {1, token, deadline, now_ms}
end
if status == 'in_progress' and deadline <= now_ms and rec[3] == ARGV[1] then
  token = math.max(token + 1, now_us)
  deadline = now_ms + lease_ms
  redis.call('HSET', KEYS[1], 'token', string.format('%.0f', token),
             'lease', string.format('%.0f', deadline), 'cid', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], life_ms)
  return {2, token, deadline, now_ms}
end
return {0, token, deadline, now_ms, status, rec[3], rec[5]}
""",
)

_OWNER = """
local rec = redis.call('HMGET', KEYS[1], 'token', 'status')
"""

_OWNED = """
if rec[1] ~= ARGV[1] or rec[2] ~= 'in_progress' then
  return 0
end
"""

COMPLETE = Script.of(
    "idemsdk.complete",
    """
-- KEYS[1] record key
-- ARGV[1] owner token, ARGV[2] status (completed | failed), ARGV[3] body, ARGV[4] ttl ms
-- returns 1 when stored, or when this very outcome is stored under this token already
--           (the same completion, sent again), 0 when the token no longer owns an
--           in-progress record
local rec = redis.call('HMGET', KEYS[1], 'token', 'status', 'body')
if rec[1] == ARGV[1] and rec[2] == ARGV[2] and rec[3] == ARGV[3] then
  redis.call('HSET', KEYS[1], 'status', ARGV[2])  -- for WAIT: see the module's docstring
  return 1
end
"""
    + _OWNED
    + _NOW
    + """
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'body', ARGV[3],
           'done', string.format('%.0f', now_ms))
redis.call('HDEL', KEYS[1], 'lease', 'cid')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
""",
)

RELEASE = Script.of(
    "idemsdk.release",
    """
-- KEYS[1] record key
-- ARGV[1] owner token
-- returns 1 when deleted, 0 when the token no longer owns an in-progress record
"""
    + _OWNER
    + _OWNED
    + """
redis.call('DEL', KEYS[1])
return 1
""",
)

RENEW = Script.of(
    "idemsdk.renew",
    """
-- KEYS[1] record key
-- ARGV[1] owner token, ARGV[2] lease ms
-- returns 1 when the lease was extended, 0 when the token no longer owns the record
"""
    + _OWNER
    + _OWNED
    + _NOW
    + """
local deadline = now_ms + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'lease', string.format('%.0f', deadline))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
""",
)
