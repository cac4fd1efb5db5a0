#!lua flags=allow-oom
-- allow-oom: ends a lease of a job already stored; it moves the job and writes a bounded info record.
-- Moves a job into the queue's dead letters (newest first, capped), removing every trace of it as a live job.
-- KEYS: 1 active, 2 jobs, 3 attempts, 4 errors, 5 dead, 6 dead:info, 7 dead:order, 8 notify,
--       then optional keys flagged in ARGV: the job's unique lock; its type's running and ready sets
-- ARGV: 1 id, 2 attempt (fence), 3 info JSON, 4 max dead letters,
--       5 envelope to keep when the jobs hash has none, 6 '1' if a lock key is passed, 7 '1' if running/ready are passed
-- Returns: 1, or 0 when the worker no longer holds the lease (nothing changed)
local active, jobs, attempts, errors, dead, dead_info, dead_order, notify =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local id, att = ARGV[1], ARGV[2]
local bad = check_types({ active, 'zset', jobs, 'hash', attempts, 'hash', errors, 'hash', dead, 'hash', dead_info, 'hash',
  dead_order, 'zset', notify, 'list' })
if bad then return bad end
if not holds(active, attempts, id, att) then return 0 end
local opt = 9
if ARGV[6] == '1' then
  release_lock(KEYS[opt], id)
  opt = opt + 1
end
if ARGV[7] == '1' then free_slot(KEYS[opt], KEYS[opt + 1], id, notify) end
local env = redis.call('HGET', jobs, id)
if not env then env = ARGV[5] end
drop_leases(active, { id })
redis.call('HDEL', jobs, id)
redis.call('HDEL', attempts, id)
redis.call('HDEL', errors, id)
add_dead(dead, dead_info, dead_order, id, env, ARGV[3], tonumber(ARGV[4]))
return 1
