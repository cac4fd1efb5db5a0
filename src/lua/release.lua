#!lua flags=allow-oom
-- allow-oom: hands leases back at shutdown; it only moves ids already stored.
-- Hands leased jobs back at shutdown, to the front of their priority level, giving back the attempt they used.
-- KEYS: 1 active, 2 attempts, 3 wait, 4 prio, 5 notify, 6 seq, then per throttled job type: ready, running, starts
-- ARGV: 1 T = number of throttled types, then per type: name, cap, rate max, rate period ms;
--       then per job: id, attempt (fence), priority, type (1-based index among the throttled types; 0 = none)
-- Returns: number of jobs handed back
local active, attempts, wait, prio, notify = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local types = read_types(7, 2, tonumber(ARGV[1]))
local spec = { active, 'zset', attempts, 'hash', wait, 'list', prio, 'zset', notify, 'list' }
for _, ty in ipairs(types) do
  spec[#spec + 1] = ty.ready; spec[#spec + 1] = 'zset'
  spec[#spec + 1] = ty.running; spec[#spec + 1] = 'zset'
end
local bad = check_types(spec)
if bad then return bad end
local n = 0
local from = 2 + 4 * #types
local count = (#ARGV - from + 1) / 4
-- Last to first, so the jobs end up at the front in the order they were given (and ahead of everything else).
for j = count, 1, -1 do
  local i = from + (j - 1) * 4
  local id, att, p, t = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  if holds(active, attempts, id, att) then
    drop_leases(active, { id })
    if redis.call('HINCRBY', attempts, id, -1) <= 0 then redis.call('HDEL', attempts, id) end
    local score = prio_score(p, j - count - 1)
    if t > 0 then
      redis.call('ZREM', types[t].running, id)
      redis.call('ZADD', types[t].ready, score, id)
    elseif p == 0 then
      redis.call('LPUSH', wait, id)
    else
      redis.call('ZADD', prio, score, id)
    end
    n = n + 1
  end
end
if n > 0 then wake(notify) end
return n
