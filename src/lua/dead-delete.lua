#!lua flags=allow-oom
-- allow-oom: only deletes.
-- Deletes dead letters.
-- Inputs: the "deadDelete" declaration in src/redis-contract.ts (G.ids: the ids).
-- Returns: number deleted
local n = 0
for i = 1, G.ids.n do
  local id = G.ids.id(i)
  n = n + redis.call('HDEL', K.dead, id)
  redis.call('HDEL', K.deadInfo, id)
  redis.call('ZREM', K.deadOrder, id)
end
return n
