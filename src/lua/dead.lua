#!lua flags=allow-oom
-- allow-oom: ends a lease of a job already stored; it moves the job and writes a bounded info record.
-- Moves a job into the queue's dead letters (newest first, capped), removing every trace of it as a live job.
-- Inputs: the "dead" declaration in src/redis-contract.ts (G.unique: the job's unique lock; G.slot: its type's
-- running and ready sets; G.publish: the results channel, for a job whose type declares a result).
-- Returns: 1, or 0 when the worker no longer holds the lease (nothing changed)
local id = A.id
local bad = dead_checks(K, true)
if bad then return bad end
if not holds(K.active, K.attempts, id, A.attempt) then return 0 end
add_history(G.history, G.counts) -- first write: a bucket of the wrong type fails the call before any other
if G.unique then release_lock(G.unique.lock, id) end
if G.slot then free_slot(G.slot.running, G.slot.ready, id, K.notify) end
local env = redis.call('HGET', K.jobs, id)
if not env then env = A.fallbackEnvelope end
drop_leases(K.active, { id })
redis.call('HDEL', K.jobs, id)
drop_attempts(K.attempts, { id })
-- The dead letter keeps the job's error history: the earlier errors of its last record (earlier_of), beside the
-- error it died with (in A.info, which JSON.stringify wrote, so it ends with its closing brace).
local info = with_earlier(A.info, earlier_of(redis.call('HGET', K.errors, id)))
redis.call('HDEL', K.errors, id)
add_dead(K.dead, K.deadInfo, K.deadOrder, id, env, info, A.maxDead)
-- A job whose type declares a result: its waiters learn of the death at once (docs/results.md).
if G.publish then redis.call('PUBLISH', G.publish.channel, 'd' .. id) end
-- A fan-in child (docs/results.md, "Fan-in"): its failure goes to its parent through the outbox, like a result.
if G.handoff then redis.call('HSET', G.handoff.outbox, G.handoff.next, G.handoff.entry) end
return 1
