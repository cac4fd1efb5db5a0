-- Resumes a paused queue and wakes a worker if jobs are ready.
-- KEYS: 1 paused, 2 wait, 3 prio, 4 notify
-- Returns: 1 if the queue was paused
local was = redis.call('DEL', KEYS[1])
if redis.call('LLEN', KEYS[2]) > 0 or redis.call('EXISTS', KEYS[3]) == 1 then wake(KEYS[4]) end
return was
