#!lua flags=allow-oom
-- allow-oom: deletes the pause flag and leaves at most one wake-up token.
-- Resumes a paused queue and wakes a worker if jobs are ready.
-- Inputs: the "resume" declaration in src/redis-contract.ts (G.types: the ready sets of the queue's throttled types).
-- Returns: 1 if the queue was paused
local was = redis.call('DEL', K.paused)
local ready = redis.call('LLEN', K.wait) > 0 or redis.call('EXISTS', K.prio) == 1
for t = 1, G.types.n do
  if ready then break end
  ready = redis.call('EXISTS', G.types.ready(t)) == 1
end
if ready then wake(K.notify) end
return was
