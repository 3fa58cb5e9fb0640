-- Record one label-stream request of one partition atomically: its number, its journal
-- entry and its output events. No offset check: a request is not an input message, so
-- there is nothing to replay twice; the fence alone keeps a former owner out.
--
-- KEYS: owner, requests, journal, outbox
-- ARGV: token, acked (outbox entries published since the last write), journal entry,
--       then the outbox entries
-- Returns the request's number (1, 2, ...), or -1 fenced (not the owner).

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end

local acked = tonumber(ARGV[2])
if acked > 0 then
  redis.call('LTRIM', KEYS[4], acked, -1)
end

local number = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
local chunk = 500  -- unpack() is bounded by the C stack
for i = 4, #ARGV, chunk do
  redis.call('RPUSH', KEYS[4], unpack(ARGV, i, math.min(i + chunk - 1, #ARGV)))
end
return number
