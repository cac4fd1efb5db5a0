#!lua
-- Declared flags without allow-oom: it adds work to a queue, so at maxmemory Redis refuses it as a whole, like enqueue.
-- Puts dead letters back in the queue as new jobs (attempts start again from zero). A unique job takes its lock
-- again; if a live job holds it, the dead letter stays where it is.
-- KEYS: 1 dead, 2 dead:info, 3 dead:order, 4 jobs, 5 wait, 6 prio, 7 notify, 8 seq,
--       then per throttled job type: ready, running, starts; then the unique locks of unique jobs
-- ARGV: 1 T = number of throttled types, then per type: name, cap, rate max, rate period ms;
--       then per id: id, lock (1-based index among the lock keys; 0 = none), lock TTL ms
-- Returns: the ids put back (an id already live again, or whose unique key a live job holds, stays dead)
local dead, dead_info, dead_order, jobs, wait, prio, notify, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local types, routes = read_types(9, 2, tonumber(ARGV[1]))
local lock_base = 8 + 3 * #types
local spec = { dead, 'hash', dead_info, 'hash', dead_order, 'zset', jobs, 'hash', wait, 'list', prio, 'zset', notify, 'list', seq, 'counter' }
for _, ty in ipairs(types) do spec[#spec + 1] = ty.ready; spec[#spec + 1] = 'zset' end
local bad = check_types(spec)
if bad then return bad end
local ids = {}
local envs = {}
for i = 2 + 4 * #types, #ARGV, 3 do
  local id, lock, ttl = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local env = redis.call('HGET', dead, id)
  if env and redis.call('HEXISTS', jobs, id) == 0
    and (lock == 0 or redis.call('SET', KEYS[lock_base + lock], id, 'NX', 'PX', ttl)) then
    redis.call('HSET', jobs, id, env)
    redis.call('HDEL', dead, id)
    redis.call('HDEL', dead_info, id)
    redis.call('ZREM', dead_order, id)
    ids[#ids + 1] = id
    envs[#envs + 1] = env
  end
end
if #ids > 0 then
  make_ready(wait, prio, seq, ids, envs, routes)
  wake(notify)
end
return ids
