-- Apply one workflow batch of one partition atomically: its journal entry, its output
-- events and the applied input offset, all or nothing.
--
-- Fenced like apply_batch.lua: only the current owner writes, and only on top of the
-- offset it read, so a worker that lost its partition, or a second copy of a batch,
-- changes nothing.
--
-- KEYS: owner, offset, journal, outbox
-- ARGV: token, expected_offset ('' = none), new_offset, acked (outbox entries published
--       since the last write), has_entry ('1': ARGV[6] is the journal entry, '0': none),
--       then the journal entry if any, then the outbox entries
-- Returns 1 applied, -1 fenced (not the owner), -2 conflict (offset moved).

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[2] then
  return -2
end

local acked = tonumber(ARGV[4])
if acked > 0 then
  -- What earlier writes published leaves the outbox now, in the same atomic step.
  redis.call('LTRIM', KEYS[4], acked, -1)
end

local first = 6
if ARGV[5] == '1' then
  redis.call('RPUSH', KEYS[3], ARGV[6])
  first = 7
end
local chunk = 500  -- unpack() is bounded by the C stack
for i = first, #ARGV, chunk do
  redis.call('RPUSH', KEYS[4], unpack(ARGV, i, math.min(i + chunk - 1, #ARGV)))
end

redis.call('SET', KEYS[2], ARGV[3])
return 1
