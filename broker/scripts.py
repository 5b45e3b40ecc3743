"""The broker's keys in Redis and the Lua scripts that change them, each one atomic step.

Per feed ``F`` (the braces keep a feed's keys in one hash slot, should the Redis be a cluster):

- ``dashboard:{F}:lease``: the token of the process that leads the feed, with a TTL (``--leader-ttl``). Only its
  holder samples the feed.
- ``dashboard:{F}:meta``: a hash: ``run`` (the feed's epoch: it outlives every node, and changes only when Redis
  has lost the feed's state), ``seq`` (the last appended) and ``status`` (the leader's last status message).
- ``dashboard:{F}:ticks``: a stream of the feed's recent ticks (`broker.wire`), entry id ``SEQ-0``, so that the
  ticks after a seq are one ``XRANGE``; trimmed to about the history's length.
- ``dashboard:{F}:live``: the channel each tick and status is published on, for the nodes' subscriptions.

The append is the anchor (as Centrifuge's broker stamps, adds and publishes in one script): it checks that its
writer still holds the lease and that the seq is the next one, then adds to the stream and publishes, all in one
step. A leader that was paused past its lease (SIGSTOP, a long GC, a frozen VM) and wakes up has every append
refused, so no seq is ever used twice.
"""

from __future__ import annotations

__all__ = [
    "ACQUIRE",
    "APPEND",
    "CONTROL_CHANNEL",
    "FEEDS_KEY",
    "HOSTS_KEY",
    "RELEASE",
    "RENEW",
    "STATUS",
    "Keys",
    "Refusal",
]

import enum
from dataclasses import dataclass

PREFIX = "dashboard:"
# Nodes say here that they let a feed go (so that another takes it at once) and ping themselves (a subscription
# that hears nothing, not even its own pings, is deaf and reconnected).
CONTROL_CHANNEL = PREFIX + "control"
# Each node's per-host feeds, described for the other nodes: feed name -> JSON (`broker.hosts`).
HOSTS_KEY = PREFIX + "hosts"
# Each feed's settings as the last node to start recorded them: feed name -> JSON, compared at start.
FEEDS_KEY = PREFIX + "feeds"


@dataclass(frozen=True, slots=True)
class Keys:
    """A feed's keys and channel."""

    lease: str
    meta: str
    ticks: str
    live: str

    @classmethod
    def of(cls, feed: str) -> Keys:
        base = f"{PREFIX}{{{feed}}}:"
        return cls(base + "lease", base + "meta", base + "ticks", base + "live")


class Refusal(enum.IntEnum):
    """Why `APPEND` refused a tick (1 is success)."""

    LEASE = 0  # the writer no longer holds the lease
    RUN = -1  # the feed's run is not the writer's: Redis lost the feed's state since it took over
    SEQ = -2  # the seq is not the one after the last appended


# KEYS: lease, meta, ticks. ARGV: token, TTL in ms, a fresh run id.
# Takes the lease if nobody holds it; then the feed's run (made now when Redis holds none, the stream emptied
# with it), its last seq, and its last tick (or false), for the new leader to continue from.
ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
local run = redis.call('HGET', KEYS[2], 'run')
if not run then
  run = ARGV[3]
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[2], 'run', run, 'seq', 0)
end
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local tick = false
if last[1] then
  tick = last[1][2][2]
end
return {run, redis.call('HGET', KEYS[2], 'seq'), tick}
"""

# KEYS: meta, ticks. ARGV: the run that cannot go on, a fresh run id.
# Redis lost appends of the run (a crash without `appendfsync always`, a replica promoted), so its next seqs were
# or would be used twice: a new run starts, with an empty stream, unless the run changed already. 1 when it did.
NEW_RUN = """
if redis.call('HGET', KEYS[1], 'run') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'run', ARGV[2], 'seq', 0)
return 1
"""

# KEYS: lease. ARGV: token, TTL in ms. 1 when the lease was the token's and is renewed, else 0.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lease. ARGV: token, the control channel, the notice. Lets the lease go if it is the token's, and says so.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
"""

# KEYS: lease, meta, ticks. ARGV: token, run, seq, message, the stream's length, the live channel.
# 1 when appended and published; else the `Refusal`.
APPEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if redis.call('HGET', KEYS[2], 'run') ~= ARGV[2] then
  return -1
end
if tonumber(redis.call('HGET', KEYS[2], 'seq')) + 1 ~= tonumber(ARGV[3]) then
  return -2
end
-- The XADD first: should it fail (an id not above the stream's last), nothing else has changed.
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], ARGV[3] .. '-0', 'd', ARGV[4])
redis.call('HSET', KEYS[2], 'seq', ARGV[3])
redis.call('PUBLISH', ARGV[6], ARGV[4])
return 1
"""

# KEYS: lease, meta. ARGV: token, message, the live channel. Records and publishes the leader's status: 1, or 0
# when the writer no longer holds the lease.
STATUS = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], 'status', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[2])
return 1
"""
