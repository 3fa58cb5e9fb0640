-- Read what one batch of one partition needs: the applied offset and the task records.
--
-- KEYS: offset, tasks (hash)
-- ARGV: a JSON list of task fields
-- Returns {offset or '', records joined by "\n"}: a missing task is an empty line.
-- Records are orjson documents, which never hold a raw newline. One argument and one
-- reply string, whatever the batch size: the client packs and parses next to nothing.

local offset = redis.call('GET', KEYS[1]) or ''
local fields = cjson.decode(ARGV[1])
local parts = {}
local chunk = 500  -- unpack() is bounded by the C stack
for first = 1, #fields, chunk do
  local last = math.min(first + chunk - 1, #fields)
  local found = redis.call('HMGET', KEYS[2], unpack(fields, first, last))
  for i = 1, last - first + 1 do
    parts[#parts + 1] = found[i] or ''
  end
end
return {offset, table.concat(parts, '\n')}
