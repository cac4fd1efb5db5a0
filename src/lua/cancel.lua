#!lua flags=allow-oom
-- allow-oom: only deletes.
-- Cancels a job that has not started (waiting, delayed or retrying): removes every trace of it.
-- KEYS: 1 jobs, 2 wait, 3 prio, 4 scheduled, 5 active, 6 attempts, 7 errors, 8 the ready set of the job's type
--       (the prio set again for a type that is not throttled), 9 the job's unique lock (optional)
-- ARGV: 1 id
-- Returns: 'cancelled', 'active' (running: not cancelled) or 'unknown' (no live job with this id)
local jobs, wait, prio, scheduled, active, attempts, errors, ready = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local id = ARGV[1]
local bad = check_types({ jobs, 'hash', wait, 'list', prio, 'zset', scheduled, 'zset', active, 'zset', attempts, 'hash', errors, 'hash', ready, 'zset' })
if bad then return bad end
if redis.call('HEXISTS', jobs, id) == 0 then return 'unknown' end
if redis.call('ZSCORE', active, id) then return 'active' end
if redis.call('ZREM', scheduled, id) == 0 and redis.call('ZREM', prio, id) == 0 and redis.call('ZREM', ready, id) == 0 then
  redis.call('LREM', wait, 1, id)
end
if KEYS[9] then release_lock(KEYS[9], id) end
redis.call('HDEL', jobs, id)
redis.call('HDEL', attempts, id)
redis.call('HDEL', errors, id)
return 'cancelled'
