#!lua
-- Declared flags without allow-oom: refused whole at maxmemory (it may create the parent); the hand-off then waits in
-- the child queue's outbox for the sweep.
-- Records how one child of a fan-in ended (docs/results.md, "Fan-in"), idempotently per child: a repeated record, or
-- one for a fan-in that is gone (its parent created already), changes nothing. When the last child is recorded, the
-- parent is created from the record, its payload field holding the children's results by the policy — or, under
-- policy 'fail' with a failed child, put in the dead letters (reason child_failed) — and the record is deleted.
-- Inputs: the "faninRecord" declaration in src/redis-contract.ts (value '' = the child failed).
-- Returns: 0 nothing changed, 1 recorded, 2 recorded and the parent created, 3 recorded and the parent dead
local bad = check_types({ K.fanin, 'hash', K.jobs, 'hash', K.wait, 'list', K.prio, 'zset', K.notify, 'list', K.seq, 'counter',
  K.dead, 'hash', K.deadInfo, 'hash', K.deadOrder, 'zset' })
if bad then return bad end
if redis.call('EXISTS', K.fanin) == 0 then return 0 end
local value = A.value == '' and '!' or A.value
if redis.call('HSETNX', K.fanin, 'r' .. A.index, value) == 0 then return 0 end
local c = redis.call('HINCRBY', K.fanin, '#c', 1)
local meta = redis.call('HMGET', K.fanin, '#n', '#p', '#h', '#t', '#r')
local n, policy, head, tail, priority = tonumber(meta[1]), meta[2], meta[3], meta[4], tonumber(meta[5]) or 0
if c < n then return 1 end

-- Every child ended: the results in child order.
local items, failed, first_failed = {}, 0, -1
for from = 0, n - 1, 1000 do
  local names = {}
  for i = from, math.min(from + 999, n - 1) do names[#names + 1] = 'r' .. i end
  local vals = redis.call('HMGET', K.fanin, unpack(names))
  for j, v in ipairs(vals) do
    if v == '!' or not v then
      failed = failed + 1
      if first_failed < 0 then first_failed = from + j - 1 end
      if policy ~= 'ignore' then items[#items + 1] = 'null' end
    else
      items[#items + 1] = v
    end
  end
end
local id = A.parent
local env = head .. '[' .. table.concat(items, ',') .. ']' .. tail
redis.call('DEL', K.fanin)
local now = now_ms()
if policy == 'fail' and failed > 0 then
  local message = failed .. ' of ' .. n .. ' children failed (the first: child ' .. first_failed .. ', job ' .. id .. '/' .. first_failed .. ')'
  local info = '{"reason":"child_failed","error":{"name":"ChildFailedError","message":' .. cjson.encode(message) ..
    ',"stack":"","attempt":0,"at":' .. now .. '},"attempts":0,"diedAt":' .. now .. '}'
  add_dead(K.dead, K.deadInfo, K.deadOrder, id, env, info, A.maxDead)
  if G.publish then redis.call('PUBLISH', G.publish.channel, 'd' .. id) end
  return 3
end
redis.call('HSET', K.jobs, id, env)
if priority == 0 then
  redis.call('RPUSH', K.wait, id)
else
  redis.call('ZADD', K.prio, prio_score(priority, redis.call('INCR', K.seq)), id)
end
if redis.call('EXISTS', K.paused) == 0 then wake(K.notify) end
return 2
