-- Apply one input batch of one partition atomically: task states, agreement index,
-- projects seen, outbox and the applied offset, all or nothing.
--
-- Fenced: only the current owner (its token from INCR on claim) may write, and only on
-- top of the offset it read, so a worker that lost its partition, or a second copy of a
-- batch, changes nothing.
--
-- KEYS: owner, offset, outbox, projects_seen, then n task keys, then n index keys
-- ARGV: token, expected_offset ('' = none), new_offset, acked, n_tasks, n_outbox,
--       n_projects, then per task (state, task_id, agreement ('' = none)),
--       then n_outbox entries, then n_projects project ids
-- Returns 1 applied, -1 fenced (not the owner), -2 conflict (offset moved).

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[2] then
  return -2
end

local acked = tonumber(ARGV[4])
if acked > 0 then
  -- What the previous batch published leaves the outbox now, in the same atomic step.
  redis.call('LTRIM', KEYS[3], acked, -1)
end

local n_tasks = tonumber(ARGV[5])
local n_outbox = tonumber(ARGV[6])
local n_projects = tonumber(ARGV[7])
local arg = 8
for i = 1, n_tasks do
  local task_key = KEYS[4 + i]
  local index_key = KEYS[4 + n_tasks + i]
  redis.call('SET', task_key, ARGV[arg])
  if ARGV[arg + 2] == '' then
    redis.call('ZREM', index_key, ARGV[arg + 1])
  else
    redis.call('ZADD', index_key, ARGV[arg + 2], ARGV[arg + 1])
  end
  arg = arg + 3
end

-- Lua's unpack() is bounded by the C stack: push in chunks.
local chunk = 500
local i = 0
while i < n_outbox do
  local last = math.min(i + chunk, n_outbox)
  redis.call('RPUSH', KEYS[3], unpack(ARGV, arg + i, arg + last - 1))
  i = last
end
arg = arg + n_outbox
if n_projects > 0 then
  redis.call('SADD', KEYS[4], unpack(ARGV, arg, arg + n_projects - 1))
end

redis.call('SET', KEYS[2], ARGV[3])
return 1
