-- Write a snapshot of one workflow partition atomically: the given projects' states and
-- what they reflect, and drop the journal entries the snapshot now holds. Later entries
-- (appended while the snapshot was being made) stay, to be replayed on top of it.
--
-- KEYS: owner, snapshot (hash), journal
-- ARGV: token, journal_entries (how many of the oldest entries the snapshot holds),
--       removed (count of fields to delete), the removed fields, then field/value pairs
--       (project states and the reserved '_offset' / '_requests' fields)
-- Returns 1 written, -1 fenced (not the owner), -2 conflict (the journal holds fewer
-- entries than the snapshot claims to hold: it was trimmed since the state was read).

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local covered = tonumber(ARGV[2])
if redis.call('LLEN', KEYS[3]) < covered then
  return -2
end

local chunk = 500  -- unpack() is bounded by the C stack
local removed = tonumber(ARGV[3])
local first = 4
local last = 3 + removed
for i = first, last, chunk do
  redis.call('HDEL', KEYS[2], unpack(ARGV, i, math.min(i + chunk - 1, last)))
end
-- Pairs: an even chunk keeps every field with its value.
for i = last + 1, #ARGV, 2 * chunk do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + 2 * chunk - 1, #ARGV)))
end

if covered > 0 then
  redis.call('LTRIM', KEYS[3], covered, -1)
end
return 1
