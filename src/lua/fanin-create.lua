#!lua
-- Declared flags without allow-oom: Redis refuses the whole call at maxmemory, before any write (it adds work).
-- Creates a fan-in (docs/results.md, "Fan-in"): the parent's record in its queue's slot (one hash: the parent's
-- envelope around its children's results, the policy, the count) and, in the same call, the hand-offs creating its
-- children (entries of the parent queue's outbox, created in their own queues by the caller, or by the sweep).
-- Inputs: the "faninCreate" declaration in src/redis-contract.ts.
-- Returns: 1, or 0 when the parent's id is already known (live, completed, dead, or a fan-in waiting): nothing written.
local id = A.parent
local bad = check_types({ K.fanin, 'hash', K.outbox, 'hash', K.jobs, 'hash' })
if bad then return bad end
if redis.call('EXISTS', K.fanin) == 1 or redis.call('HEXISTS', K.jobs, id) == 1 or redis.call('HEXISTS', K.done, id) == 1
  or redis.call('HEXISTS', K.dead, id) == 1 then
  return 0
end
redis.call('HSET', K.fanin, '#n', G.children.n, '#c', 0, '#p', A.policy, '#h', A.head, '#t', A.tail, '#r', A.priority)
local fields = {}
for i = 1, G.children.n do
  local child, entry = G.children.row(i)
  fields[#fields + 1] = child
  fields[#fields + 1] = entry
end
bulk('HSET', K.outbox, fields)
return 1
