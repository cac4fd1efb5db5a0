#!lua flags=allow-oom
-- allow-oom: ends a lease (retry or snooze) of a job already stored; the error record it writes is bounded (its
-- last error and at most MAX_EARLIER_ERRORS earlier ones, each bounded).
-- Moves a leased job to the scheduled set to run again after a delay: a retry after a failed attempt, or a snooze.
-- Inputs: the "reschedule" declaration in src/redis-contract.ts: G.slot (for a job of a throttled type with a
-- concurrency cap: its type's running and ready sets), G.error (the error record to store; none keeps the last one),
-- A.giveAttemptBack ('1' for a snooze). The record keeps the job's earlier errors (with_earlier in _lib.lua).
-- Returns: 1, or 0 when the worker no longer holds the lease (nothing changed)
local active, attempts, errors, scheduled, notify = K.active, K.attempts, K.errors, K.scheduled, K.notify
local id = A.id
local running, ready = G.slot and G.slot.running, G.slot and G.slot.ready
local bad = check_types({ active, 'zset', attempts, 'hash', errors, 'hash', scheduled, 'zset', notify, 'list', running, 'zset', ready, 'zset' })
if bad then return bad end
if not holds(active, attempts, id, A.attempt) then return 0 end
add_history(G.history, G.counts) -- first write: a bucket of the wrong type fails the call before any other
drop_leases(active, { id })
free_slot(running, ready, id, notify)
-- A retry's record: its error, with the earlier ones of the record it replaces (earlier_of: the newest
-- MAX_EARLIER_ERRORS, each cut to EARLIER_ERROR_BYTES), so the job's error history stays bounded however often it fails.
if G.error then redis.call('HSET', errors, id, with_earlier(G.error.json, earlier_of(redis.call('HGET', errors, id)))) end
if A.giveAttemptBack == '1' then redis.call('HINCRBY', attempts, id, -1) end
local due = now_ms() + A.delayMs
local earliest = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
redis.call('ZADD', scheduled, due, id)
if #earliest == 0 or due < tonumber(earliest[2]) then wake(notify) end
return 1
