#!lua
-- No flags: a rewritten payload may be larger than the one it replaces, so at maxmemory the call is refused whole,
-- before any write (docs/redis-layout.md, "Out of memory").
-- Rewrites stored jobs of one hash (the live jobs, or the dead letters) in place: an entry is replaced only while no
-- worker holds a lease on its id and its stored text is still exactly the text the caller read, so a job leased,
-- completed, cancelled, retried from the dead letters or rewritten meanwhile is left as it is (never half-written).
-- Inputs: the "migrate" declaration in src/redis-contract.ts (G.items: id, the text read, the new text).
-- Returns: per item 1 rewritten, 0 changed or gone since it was read, 2 leased (running: left to its worker)
local out = {}
for i = 1, G.items.n do
  local id = G.items.id(i)
  if redis.call('ZSCORE', K.active, id) then
    out[i] = 2
  elseif redis.call('HGET', K.hash, id) == G.items.expected(i) then
    redis.call('HSET', K.hash, id, G.items.envelope(i))
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
