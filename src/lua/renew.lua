#!lua flags=allow-oom
-- allow-oom: renewing only rewrites the scores of existing members, so a live worker keeps its leases while Redis is
-- at maxmemory (otherwise they would expire and its jobs run twice).
-- Extends the leases a worker still holds (and the concurrency slots of throttled job types). A lease it no longer
-- holds (taken back after expiry) is reported lost.
-- Inputs: the "renew" declaration in src/redis-contract.ts: G.types (the running sets of throttled job types), G.held
-- (per job: id, attempt, type: 1-based index among G.types whose slot to extend, 0 = none).
-- Returns: the ids whose lease was lost
local active, attempts = K.active, K.attempts
local expiry = now_ms() + A.leaseMs
local lost = {}
local leases = {}
local held = G.held
for i = 1, held.n do
  local id, att, t = held.id(i), held.attempt(i), held.type(i)
  if holds(active, attempts, id, att) then
    leases[#leases + 1] = expiry
    leases[#leases + 1] = id
    if t > 0 then redis.call('ZADD', G.types.running(t), 'XX', expiry, id) end
  else
    lost[#lost + 1] = id
  end
end
if #leases > 0 then bulk('ZADD', active, leases) end
return lost
