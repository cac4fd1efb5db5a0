-- Extends the leases a worker still holds. A lease it no longer holds (taken back after expiry) is reported lost.
-- KEYS: 1 active, 2 attempts
-- ARGV: 1 lease ms, then per job: id, attempt
-- Returns: the ids whose lease was lost
local active, attempts = KEYS[1], KEYS[2]
local expiry = now_ms() + tonumber(ARGV[1])
local lost = {}
local leases = {}
for i = 2, #ARGV, 2 do
  local id, att = ARGV[i], ARGV[i + 1]
  if holds(active, attempts, id, att) then
    leases[#leases + 1] = expiry
    leases[#leases + 1] = id
  else
    lost[#lost + 1] = id
  end
end
if #leases > 0 then bulk_zadd(active, leases) end
return lost
