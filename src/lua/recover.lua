-- Takes over jobs whose lease expired (their worker crashed, hung or lost Redis): the caller gets a fresh lease on
-- each and then fails the attempt through the normal retry path, so backoff, attempts and dead letters all apply.
-- If the caller dies too, its lease expires in turn and another worker recovers the job.
-- KEYS: 1 active, 2 jobs, 3 attempts
-- ARGV: 1 lease ms, 2 max jobs, 3 the largest envelope to send, in bytes (0 or absent = no limit)
-- Returns: per job: id, envelope (false if missing; {size, first 128 bytes} if over the limit), attempt
local active, jobs, attempts = KEYS[1], KEYS[2], KEYS[3]
local now = now_ms()
local max_env = tonumber(ARGV[3]) or 0
local ids = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
if #ids == 0 then return out end
-- Checked only now: the common case (nothing expired) writes nothing, and the read above fails cleanly by itself.
local bad = check_types({ active, 'zset', jobs, 'hash', attempts, 'hash' })
if bad then return bad end
local envs = redis.call('HMGET', jobs, unpack(ids))
local leases = {}
for i, id in ipairs(ids) do
  leases[#leases + 1] = now + tonumber(ARGV[1])
  leases[#leases + 1] = id
  out[#out + 1] = id
  local env = envs[i]
  if env and max_env > 0 and #env > max_env then env = { #env, string.sub(env, 1, 128) } end
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
return out
