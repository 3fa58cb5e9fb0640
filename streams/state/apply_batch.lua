-- Apply one input batch of one partition atomically: task records, agreement index,
-- projects seen, outbox and the applied offset, all or nothing.
--
-- Fenced: only the current owner (its token from INCR on claim) may write, and only on
-- top of the offset it read, so a worker that lost its partition, or a second copy of a
-- batch, changes nothing.
--
-- KEYS: owner, offset, outbox, projects_seen, tasks (hash), then one agreement index
--       key per project of the batch
-- ARGV: token, expected_offset ('' = none), new_offset, acked (outbox entries published
--       since the last batch), index JSON, records, then outbox entries
--   index JSON: {"fields": [task field, ...], "projects": [[project, [[score, task], ...]],
--                ...]} with scores as strings ('' = no agreement: remove), in KEYS order
--   records: the task records in "fields" order, joined by "\n"
-- Returns 1 applied, -1 fenced (not the owner), -2 conflict (offset moved).

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[2] then
  return -2
end

local acked = tonumber(ARGV[4])
if acked > 0 then
  -- What earlier batches published leaves the outbox now, in the same atomic step.
  redis.call('LTRIM', KEYS[3], acked, -1)
end

local chunk = 500  -- unpack() is bounded by the C stack
local index = cjson.decode(ARGV[5])
local records = ARGV[6]
local pairs_ = {}
local pos = 1
for _, field in ipairs(index.fields) do
  local stop = string.find(records, '\n', pos, true)
  local record
  if stop then
    record = string.sub(records, pos, stop - 1)
    pos = stop + 1
  else
    record = string.sub(records, pos)
  end
  pairs_[#pairs_ + 1] = field
  pairs_[#pairs_ + 1] = record
  if #pairs_ >= 2 * chunk then
    redis.call('HSET', KEYS[5], unpack(pairs_))
    pairs_ = {}
  end
end
if #pairs_ > 0 then
  redis.call('HSET', KEYS[5], unpack(pairs_))
end

for p, project in ipairs(index.projects) do
  local key = KEYS[5 + p]
  local scored = {}
  for _, entry in ipairs(project[2]) do
    if entry[1] == '' then
      redis.call('ZREM', key, entry[2])
    else
      scored[#scored + 1] = entry[1]
      scored[#scored + 1] = entry[2]
      if #scored >= 2 * chunk then
        redis.call('ZADD', key, unpack(scored))
        scored = {}
      end
    end
  end
  if #scored > 0 then
    redis.call('ZADD', key, unpack(scored))
  end
  redis.call('SADD', KEYS[4], project[1])
end

for i = 7, #ARGV do
  redis.call('RPUSH', KEYS[3], ARGV[i])
end

redis.call('SET', KEYS[2], ARGV[3])
return 1
