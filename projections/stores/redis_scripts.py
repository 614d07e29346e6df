"""The Lua scripts of the Redis store: each one atomic write of storage semantics on the keys
of one story (or, for SEEN_SCRIPT, the seen sets of the batch's viewers)."""

from __future__ import annotations

__all__ = ["LATEST_WINS_TALLY_SCRIPT", "FIRST_WINS_TALLY_SCRIPT", "VIEWS_SCRIPT", "SEEN_SCRIPT",
           "REACT_SCRIPT", "ANSWER_SCRIPT"]

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

# The names by storage semantics; the folds decide which events use them.
LATEST_WINS_TALLY_SCRIPT = REACT_SCRIPT
FIRST_WINS_TALLY_SCRIPT = ANSWER_SCRIPT
