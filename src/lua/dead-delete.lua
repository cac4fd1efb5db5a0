#!lua flags=allow-oom
-- allow-oom: only deletes.
-- Deletes dead letters.
-- KEYS: 1 dead, 2 dead:info, 3 dead:order
-- ARGV: ids
-- Returns: number deleted
local n = 0
for _, id in ipairs(ARGV) do
  n = n + redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
end
return n
