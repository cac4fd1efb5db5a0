#!lua flags=allow-oom
-- allow-oom: hands leases back at shutdown; it only moves ids already stored.
-- Hands leased jobs back at shutdown, to the front of their priority level, giving back the attempt they used.
-- Inputs: the "release" declaration in src/redis-contract.ts: G.jobs (per job: id, attempt as its fence, priority,
-- type: 1-based index among the throttled types, 0 = none).
-- Returns: number of jobs handed back
local active, attempts, wait, prio, notify = K.active, K.attempts, K.wait, K.prio, K.notify
local types = read_types(G.types)
local bad = check_types(type_checks({ active, 'zset', attempts, 'hash', wait, 'list', prio, 'zset', notify, 'list' }, types, false))
if bad then return bad end
local n = 0
local jobs = G.jobs
local count = jobs.n
-- Last to first, so the jobs end up at the front in the order they were given (and ahead of everything else).
for j = count, 1, -1 do
  local id, att, p, t = jobs.id(j), jobs.attempt(j), jobs.priority(j), jobs.type(j)
  if holds(active, attempts, id, att) then
    drop_leases(active, { id })
    if redis.call('HINCRBY', attempts, id, -1) <= 0 then drop_attempts(attempts, { id }) end
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
