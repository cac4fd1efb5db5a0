#!lua flags=allow-oom
-- allow-oom: only deletes.
-- Cancels a job that has not started (waiting, delayed or retrying): removes every trace of it.
-- Inputs: the "cancel" declaration in src/redis-contract.ts (G.typeReady: the ready set of a throttled job type;
-- G.unique: the job's unique lock; G.publish: the results channel; G.handoff: a fan-in child's end for its parent).
-- Returns: 'cancelled', 'active' (running: not cancelled) or 'unknown' (no live job with this id)
local id = A.id
local ready = G.typeReady and G.typeReady.ready
local bad = check_types({ K.jobs, 'hash', K.wait, 'list', K.prio, 'zset', K.scheduled, 'zset', K.active, 'zset',
  K.attempts, 'hash', K.errors, 'hash', ready or K.prio, 'zset', G.handoff and G.handoff.outbox or K.jobs, 'hash' })
if bad then return bad end
if redis.call('HEXISTS', K.jobs, id) == 0 then return 'unknown' end
if redis.call('ZSCORE', K.active, id) then return 'active' end
if redis.call('ZREM', K.scheduled, id) == 0 and redis.call('ZREM', K.prio, id) == 0
  and (not ready or redis.call('ZREM', ready, id) == 0) then
  redis.call('LREM', K.wait, 1, id)
end
if G.unique then release_lock(G.unique.lock, id) end
redis.call('HDEL', K.jobs, id)
drop_attempts(K.attempts, { id })
redis.call('HDEL', K.errors, id)
-- Waiters for its result learn of it at once (docs/results.md).
if G.publish then redis.call('PUBLISH', G.publish.channel, 'c' .. id) end
-- A fan-in child (docs/results.md, "Fan-in"): its parent records it as failed, through the outbox like a death (in
-- this step, so a canceller that stops here loses nothing: a worker's sweep finishes it).
if G.handoff then redis.call('HSET', G.handoff.outbox, G.handoff.next, G.handoff.entry) end
return 'cancelled'
