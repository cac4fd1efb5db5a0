#!lua flags=allow-oom
-- allow-oom: a lease that expires while Redis is at maxmemory is still taken over (it only rewrites the lease).
-- Takes over jobs whose lease expired (their worker crashed, hung or lost Redis): the caller gets a fresh lease on
-- each and then fails the attempt through the normal retry path, so backoff, attempts and dead letters all apply.
-- If the caller dies too, its lease expires in turn and another worker recovers the job.
-- A job whose id is not valid UTF-8 is not taken over: it goes to the dead letters under an addressable name in the
-- same step (bury_invalid_id).
-- Inputs: the "recover" declaration in src/redis-contract.ts: A.max (jobs to take over at most),
-- A.maxEnvelopeBytes (the largest envelope to send, 0 = no limit).
-- Returns: the number of dead-lettered jobs (R), then per job taken over: id, envelope (false if missing;
--          {size, first bytes} if over the limit), attempt; then per dead-lettered job: new id, envelope, attempt
local active, jobs, attempts = K.active, K.jobs, K.attempts
local now = now_ms()
local max_env = A.maxEnvelopeBytes
local ids = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, A.max)
local out = { 0 }
if #ids == 0 then return out end
-- Checked only now: the common case (nothing expired) writes nothing, and the read above fails cleanly by itself.
local bad = dead_checks(K)
if bad then return bad end
local envs = redis.call('HMGET', jobs, unpack(ids))
local leases = {}
local renamed = {}
local types = read_types(G.types)
for i, id in ipairs(ids) do
  if string.find(id, '[\128-\255]') and not valid_utf8(id) then
    bury_into(renamed, K, A, types, id)
  else
    leases[#leases + 1] = now + A.leaseMs
    leases[#leases + 1] = id
    out[#out + 1] = id
    out[#out + 1] = over_limit(envs[i], max_env)
    -- A lease without an attempts record (written by something else) counts as a first attempt, so the fence of
    -- the failure that follows matches.
    local att = redis.call('HGET', attempts, id)
    if not att then
      att = '1'
      redis.call('HSET', attempts, id, att)
    end
    out[#out + 1] = att
  end
end
if #leases > 0 then add_leases(active, leases) end
for _, v in ipairs(renamed) do out[#out + 1] = v end
out[1] = #renamed / 3
return out
