#!lua flags=no-writes
-- no-writes: a read, allowed at maxmemory too.
-- One queue's counts and timings, each O(1) or O(log n): nothing here reads more than one entry of a list or set.
-- Inputs: the "stats" declaration in src/redis-contract.ts (G.types: the ready sets of the queue's throttled types).
-- Returns: now ms, wait length, prio size, throttled ready total, scheduled size, active size (without its guard),
--          errors size, dead size, done size, paused (0/1), oldest enqueue time among the heads of the ready
--          lists/sets (-1 = none), earliest due time (-1 = none)
local now = now_ms()
local heads = {}
local first = redis.call('LINDEX', K.wait, 0)
if first then heads[#heads + 1] = first end
local p = redis.call('ZRANGE', K.prio, 0, 0)
if #p > 0 then heads[#heads + 1] = p[1] end
local throttled = 0
for i = 1, G.types.n do
  local ready = G.types.ready(i)
  local n = redis.call('ZCARD', ready)
  throttled = throttled + n
  if n > 0 then heads[#heads + 1] = redis.call('ZRANGE', ready, 0, 0)[1] end
end
local oldest = -1
if #heads > 0 then
  local envs = redis.call('HMGET', K.jobs, unpack(heads))
  for _, env in ipairs(envs) do
    local t = env and tonumber(string.match(env, '"t":(%d+)'))
    if t and (oldest < 0 or t < oldest) then oldest = t end
  end
end
local active = redis.call('ZCARD', K.active)
if active > 0 and redis.call('ZSCORE', K.active, ACTIVE_GUARD) then active = active - 1 end
local due = redis.call('ZRANGE', K.scheduled, 0, 0, 'WITHSCORES')
return { now, redis.call('LLEN', K.wait), redis.call('ZCARD', K.prio), throttled, redis.call('ZCARD', K.scheduled),
  active, redis.call('HLEN', K.errors), redis.call('HLEN', K.dead), redis.call('HLEN', K.done),
  redis.call('EXISTS', K.paused), oldest, #due > 0 and tonumber(due[2]) or -1 }
