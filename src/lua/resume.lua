#!lua flags=allow-oom
-- allow-oom: deletes the pause flag and leaves at most one wake-up token.
-- Resumes a paused queue and wakes a worker if jobs are ready.
-- KEYS: 1 paused, 2 wait, 3 prio, 4 notify, then the ready sets of the queue's throttled job types
-- Returns: 1 if the queue was paused
local was = redis.call('DEL', KEYS[1])
local ready = redis.call('LLEN', KEYS[2]) > 0 or redis.call('EXISTS', KEYS[3]) == 1
for i = 5, #KEYS do
  if ready then break end
  ready = redis.call('EXISTS', KEYS[i]) == 1
end
if ready then wake(KEYS[4]) end
return was
