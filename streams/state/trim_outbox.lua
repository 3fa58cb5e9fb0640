-- Drop the first ARGV[2] outbox entries once they are published, if still the owner.
-- KEYS: owner, outbox. ARGV: token, count. Returns 1 trimmed, -1 fenced.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)
return 1
