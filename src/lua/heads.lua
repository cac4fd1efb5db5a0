#!lua flags=no-writes
-- no-writes: a read.
-- The heads of stored jobs: the first A.bytes bytes of each id's value in one hash (the jobs hash, or the dead
-- letters). A listing reads a job's name and enqueue time from its head: the payloads of a page (up to
-- maxPayloadBytes each) stay in Redis. One HGET at a time, so the script holds one value at a time.
-- Inputs: the "heads" declaration in src/redis-contract.ts (G.ids: the ids).
-- Returns: per id, its head, or false when the hash has no such field
local out = {}
for i = 1, G.ids.n do
  local v = redis.call('HGET', K.hash, G.ids.id(i))
  out[i] = v and string.sub(v, 1, A.bytes) or false
end
return out
