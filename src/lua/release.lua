-- Hands leased jobs back at shutdown, to the front of their priority level, giving back the attempt they used.
-- KEYS: 1 active, 2 attempts, 3 wait, 4 prio, 5 notify
-- ARGV: per job: id, attempt (fence), priority
-- Returns: number of jobs handed back
local active, attempts, wait, prio, notify = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local n = 0
for i = 1, #ARGV, 3 do
  local id, att, p = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  if holds(active, attempts, id, att) then
    redis.call('ZREM', active, id)
    if redis.call('HINCRBY', attempts, id, -1) <= 0 then redis.call('HDEL', attempts, id) end
    if p == 0 then
      redis.call('LPUSH', wait, id)
    else
      redis.call('ZADD', prio, prio_score(p, 0), id)
    end
    n = n + 1
  end
end
if n > 0 then wake(notify) end
return n
