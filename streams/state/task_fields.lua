-- One step of a scan of a partition's task records: their fields, without the records
-- (about 700 bytes each, which HSCAN's reply would carry to the client otherwise).
--
-- KEYS: tasks (hash)
-- ARGV: cursor, count
-- Returns {next cursor ('0' when done), fields}

local reply = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local items = reply[2]
local fields = {}
for i = 1, #items, 2 do
  fields[#fields + 1] = items[i]
end
return {reply[1], fields}
