#!lua flags=allow-oom
-- allow-oom: a lease that expires while Redis is at maxmemory is still taken over (it only rewrites the lease).
-- Takes over jobs whose lease expired (their worker crashed, hung or lost Redis): the caller gets a fresh lease on
-- each and then fails the attempt through the normal retry path, so backoff, attempts and dead letters all apply.
-- If the caller dies too, its lease expires in turn and another worker recovers the job.
-- KEYS: 1 active, 2 jobs, 3 attempts, 4 errors
-- ARGV: 1 lease ms, 2 max jobs, 3 the largest envelope to send, in bytes (0 or absent = no limit)
-- Returns: the number of renamed ids (R), then per job: id, envelope (false if missing; {size, first 512 bytes} if
--          over the limit), attempt; then the R ids among them that were renamed because they were not valid UTF-8
--          (the worker dead-letters those jobs)
local active, jobs, attempts, errors = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = now_ms()
local max_env = tonumber(ARGV[3]) or 0
local ids = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = { 0 }
if #ids == 0 then return out end
-- Checked only now: the common case (nothing expired) writes nothing, and the read above fails cleanly by itself.
local bad = check_types({ active, 'zset', jobs, 'hash', attempts, 'hash' })
if bad then return bad end
local envs = redis.call('HMGET', jobs, unpack(ids))
local leases = {}
local renamed = {}
for i, id in ipairs(ids) do
  if string.find(id, '[\128-\255]') and not valid_utf8(id) then
    redis.call('ZREM', active, id)
    id = rename_invalid_id(jobs, attempts, errors, id)
    renamed[#renamed + 1] = id
  end
  leases[#leases + 1] = now + tonumber(ARGV[1])
  leases[#leases + 1] = id
  out[#out + 1] = id
  local env = envs[i]
  if env and max_env > 0 and #env > max_env then env = { #env, string.sub(env, 1, 512) } end
  out[#out + 1] = env
  -- A lease without an attempts record (written by something else) counts as a first attempt, so the fence of
  -- the failure that follows matches.
  local att = redis.call('HGET', attempts, id)
  if not att then
    att = '1'
    redis.call('HSET', attempts, id, att)
  end
  out[#out + 1] = att
end
add_leases(active, leases)
for _, id in ipairs(renamed) do out[#out + 1] = id end
out[1] = #renamed
return out
