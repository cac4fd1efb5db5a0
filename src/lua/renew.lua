#!lua flags=allow-oom
-- allow-oom: renewing only rewrites the scores of existing members, so a live worker keeps its leases while Redis is
-- at maxmemory (otherwise they would expire and its jobs run twice).
-- Extends the leases a worker still holds (and the concurrency slots of throttled job types). A lease it no longer
-- holds (taken back after expiry) is reported lost.
-- KEYS: 1 active, 2 attempts, then the running sets of throttled job types
-- ARGV: 1 lease ms, then per job: id, attempt, type (1-based index among the running sets; 0 = none)
-- Returns: the ids whose lease was lost
local active, attempts = KEYS[1], KEYS[2]
local expiry = now_ms() + tonumber(ARGV[1])
local lost = {}
local leases = {}
for i = 2, #ARGV, 3 do
  local id, att, t = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  if holds(active, attempts, id, att) then
    leases[#leases + 1] = expiry
    leases[#leases + 1] = id
    if t > 0 then redis.call('ZADD', KEYS[2 + t], 'XX', expiry, id) end
  else
    lost[#lost + 1] = id
  end
end
if #leases > 0 then bulk('ZADD', active, leases) end
return lost
