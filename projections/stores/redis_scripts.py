"""The Lua scripts of the Redis store: each one atomic write of storage semantics on the keys
of one story (or, for SEEN_SCRIPT, the seen sets of the batch's viewers)."""

from __future__ import annotations

__all__ = ["LATEST_WINS_TALLY_SCRIPT", "FIRST_WINS_TALLY_SCRIPT", "VIEWS_SCRIPT", "SEEN_SCRIPT",
           "REACT_SCRIPT", "ANSWER_SCRIPT", "BUMP_VERSION_SCRIPT", "TRAY_SCRIPT"]

# A user's reaction replaces their previous one; events older than the stored one change nothing.
REACT_SCRIPT = """
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev then
  local sep = string.find(prev, '|', 1, true)
  if tonumber(string.sub(prev, 1, sep - 1)) >= tonumber(ARGV[2]) then return 0 end
  redis.call('HINCRBY', KEYS[2], string.sub(prev, sep + 1), -1)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
return 1
"""

# The first answer of a user counts; later ones and redeliveries change nothing.
ANSWER_SCRIPT = """
if redis.call('HSETNX', KEYS[1], ARGV[1], '1') == 0 then return 0 end
for i = 3, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
return 1
"""

# A story's views in one batch: each event counted once, each viewer once, both sets kept until
# ARGV[1]. Returns 1 for each viewer seen here for the first time (for the author's live view).
VIEWS_SCRIPT = """
local events = tonumber(ARGV[2])
for i = 3, 2 + events do redis.call('SADD', KEYS[1], ARGV[i]) end
local first = {}
for i = 3 + events, #ARGV do first[#first + 1] = redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], ARGV[1])
return first
"""

# The stories each viewer watched in one batch: KEYS are the viewers' seen sets, ARGV the TTL
# and then, per key, a count followed by that many story ids.
SEEN_SCRIPT = """
local at = 2
for k = 1, #KEYS do
  local count = tonumber(ARGV[at])
  for i = at + 1, at + count do redis.call('SADD', KEYS[k], ARGV[i]) end
  redis.call('PEXPIRE', KEYS[k], ARGV[1])
  at = at + count + 1
end
return #KEYS
"""

# An author's stories changed: their version grows. It starts from the server's clock in
# microseconds, so a version key that expired with its author's stories comes back above every
# version written before (tray versions live no longer than the stories' grace).
BUMP_VERSION_SCRIPT = """
local now = redis.call('TIME')
local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
local version = math.max(tonumber(redis.call('GET', KEYS[1]) or '0') + 1, clock)
redis.call('SET', KEYS[1], string.format('%d', version), 'PX', ARGV[1])
return version
"""

# Tray writes of the viewers of one slot: KEYS are, per viewer, its tray order, tray entries and
# tray versions; ARGV the versions' TTL (ms), then per write the viewer's number (from 1), the
# author, the version ('' for an unconditional drop), and the score and entry JSON of a set
# ('' and '' for a drop). A write older than the version stored for the author changes nothing.
TRAY_SCRIPT = """
local written = 0
for i = 2, #ARGV, 5 do
  local base = (tonumber(ARGV[i]) - 1) * 3
  local author, version = ARGV[i + 1], ARGV[i + 2]
  local current = true
  if version ~= '' then
    local stored = tonumber(redis.call('HGET', KEYS[base + 3], author) or '0')
    current = tonumber(version) >= stored
    if current then
      redis.call('HSET', KEYS[base + 3], author, version)
      redis.call('PEXPIRE', KEYS[base + 3], ARGV[1])
    end
  end
  if current then
    if ARGV[i + 3] ~= '' then
      redis.call('ZADD', KEYS[base + 1], ARGV[i + 3], author)
      redis.call('HSET', KEYS[base + 2], author, ARGV[i + 4])
    else
      redis.call('ZREM', KEYS[base + 1], author)
      redis.call('HDEL', KEYS[base + 2], author)
    end
    written = written + 1
  end
end
return written
"""

# The names by storage semantics; the folds decide which events use them.
LATEST_WINS_TALLY_SCRIPT = REACT_SCRIPT
FIRST_WINS_TALLY_SCRIPT = ANSWER_SCRIPT
