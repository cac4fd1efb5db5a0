#!lua flags=allow-oom
-- allow-oom: ends a lease (retry or snooze) of a job already stored; the error record it writes is bounded.
-- Moves a leased job to the scheduled set to run again after a delay: a retry after a failed attempt, or a snooze.
-- KEYS: 1 active, 2 attempts, 3 errors, 4 scheduled, 5 notify, then for a job of a throttled type with a
--       concurrency cap: 6 its type's running set, 7 its type's ready set
-- ARGV: 1 id, 2 attempt (fence), 3 delay ms, 4 error JSON ('' = keep the last error), 5 '1' to give the attempt back (snooze)
-- Returns: 1, or 0 when the worker no longer holds the lease (nothing changed)
local active, attempts, errors, scheduled, notify = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, att = ARGV[1], ARGV[2]
local bad = check_types({ active, 'zset', attempts, 'hash', errors, 'hash', scheduled, 'zset', notify, 'list', KEYS[6], 'zset', KEYS[7], 'zset' })
if bad then return bad end
if not holds(active, attempts, id, att) then return 0 end
drop_leases(active, { id })
free_slot(KEYS[6], KEYS[7], id, notify)
if ARGV[4] ~= '' then redis.call('HSET', errors, id, ARGV[4]) end
if ARGV[5] == '1' then redis.call('HINCRBY', attempts, id, -1) end
local due = now_ms() + tonumber(ARGV[3])
local earliest = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
redis.call('ZADD', scheduled, due, id)
if #earliest == 0 or due < tonumber(earliest[2]) then wake(notify) end
return 1
