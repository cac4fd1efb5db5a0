#!lua
-- Declared flags without allow-oom: it adds work to a queue, so at maxmemory Redis refuses it as a whole, like enqueue.
-- Puts dead letters back in the queue as new jobs (attempts start again from zero). A unique job takes its lock
-- again; if a live job holds it, the dead letter stays where it is. The job keeps its error history (record_of_dead).
-- Inputs: the "deadRetry" declaration in src/redis-contract.ts (G.letters: per dead letter its id, and for a unique
-- job its lock and the lock's TTL).
-- Returns: the ids put back (an id already live again, or whose unique key a live job holds, stays dead)
local types, routes = read_types(G.types)
local spec = { K.dead, 'hash', K.deadInfo, 'hash', K.deadOrder, 'zset', K.jobs, 'hash', K.wait, 'list', K.prio, 'zset',
  K.notify, 'list', K.seq, 'counter' }
for _, ty in ipairs(types) do spec[#spec + 1] = ty.ready; spec[#spec + 1] = 'zset' end
local bad = check_types(spec)
if bad then return bad end
local ids = {}
local envs = {}
local letters = G.letters
for i = 1, letters.n do
  local id, lock = letters.id(i), letters.lock(i)
  local env = redis.call('HGET', K.dead, id)
  if env and redis.call('HEXISTS', K.jobs, id) == 0
    and (not lock or redis.call('SET', lock, id, 'NX', 'PX', letters.ttlMs(i))) then
    redis.call('HSET', K.jobs, id, env)
    -- The job keeps its errors (the one it died with and the earlier ones) as its error record, so the history of a
    -- job retried from the dead letters shows why it died; reschedule.lua keeps the list within its cap. pcall: a
    -- wrong-typed errors key only loses the history, never the retry.
    local rec = record_of_dead(redis.call('HGET', K.deadInfo, id))
    if rec then redis.pcall('HSET', K.errors, id, rec) end
    redis.call('HDEL', K.dead, id)
    redis.call('HDEL', K.deadInfo, id)
    redis.call('ZREM', K.deadOrder, id)
    ids[#ids + 1] = id
    envs[#envs + 1] = env
  end
end
if #ids > 0 then
  make_ready(K.wait, K.prio, K.seq, ids, envs, routes)
  wake(K.notify)
end
return ids
