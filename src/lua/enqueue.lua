#!lua
-- Declared flags without allow-oom: Redis refuses the whole call when it is at maxmemory (noeviction), before any
-- write, so a refused enqueue writes nothing; the client reports it as RedisOutOfMemoryError.
-- Adds jobs to a queue. Writes nothing for an id that is already known (live, dead or recently completed).
-- Inputs: the "enqueue" declaration in src/redis-contract.ts: G.items (per job: id, '' = generate; envelope);
-- G.typeReady (a throttled job type's ready set: every job goes there, scored by priority); G.cron (a cron firing:
-- name, its last firing as read by the caller, '' = none, and the new last firing); G.unique (the lock TTL; then
-- G.locks.lock(i) is job i's lock).
-- Returns: id1, duplicate1 (0/1), id2, duplicate2, ... — or, when the ids are generated and no job is unique (no job
--          can then be a duplicate), only the number before the first generated one: job i's id is idPrefix followed by
--          that number + i in base 36, which the caller works out (a reply of one value instead of two per job).
--          An empty list when the cron firing was already handled by another process (its last firing is no longer
--          what the caller read): nothing is written then.
local wait, scheduled, notify, seq, jobs = K.wait, K.scheduled, K.notify, K.seq, K.jobs
local prio = G.typeReady and G.typeReady.ready or K.prio
local count = G.items.n
local delay = A.delayMs
local priority = A.priority
local id_prefix = A.idPrefix
local scored_only = G.typeReady ~= nil
local cron = G.cron

local dest, dest_type = wait, 'list'
if delay > 0 then
  dest, dest_type = scheduled, 'zset'
elseif priority ~= 0 or scored_only then
  dest, dest_type = prio, 'zset'
end
local bad = check_types({ dest, dest_type, notify, 'list', seq, 'string', jobs, 'hash', cron and K.cron or nil, 'hash' })
if bad then return bad end

-- Cron firings: compare-and-set of the job's last firing, so each firing is enqueued by exactly one process.
if cron then
  if (redis.call('HGET', K.cron, cron.name) or '') ~= cron.expected then return {} end
  redis.call('HSET', K.cron, cron.name, cron.next)
end
-- Workers of a paused queue must not be woken for jobs they may not take.
local awake = redis.call('EXISTS', K.paused) == 0
local function wake_unless_paused() if awake then wake(notify) end end

-- Generated ids take their numbers now; given ids take numbers (for priority order) only if something is written,
-- so a duplicate enqueue changes nothing at all.
local first = 0
if id_prefix ~= '' then
  first = redis.call('INCRBY', seq, count) - count
  -- A counter that starts again from zero while jobs exist (its key was deleted) would hand out ids that are taken:
  -- continue from the clock instead, which is far above any count of jobs.
  if first == 0 and redis.call('HLEN', jobs) > 0 then
    first = now_ms()
    redis.call('SET', seq, first + count)
  end
end

local function base36(n)
  local digits = '0123456789abcdefghijklmnopqrstuvwxyz'
  local s = ''
  repeat
    local d = n % 36
    s = string.sub(digits, d + 1, d + 1) .. s
    n = (n - d) / 36
  until n == 0
  return s
end

local out = {}
local seen = {}
local added = {}
local fields = {}
-- Generated ids and no unique lock: every job is new, and the reply is `first` alone.
local compact = id_prefix ~= '' and not G.unique
if compact then
  for i = 1, count do
    local id = id_prefix .. base36(first + i)
    added[i] = id
    fields[2 * i - 1] = id
    fields[2 * i] = G.items.envelope(i)
  end
  out = { first }
end
for i = 1, compact and 0 or count do
  local id = G.items.id(i)
  local env = G.items.envelope(i)
  local duplicate = 0
  if id == '' then
    id = id_prefix .. base36(first + i)
  elseif seen[id] or redis.call('HEXISTS', jobs, id) == 1 or redis.call('HEXISTS', K.done, id) == 1 or redis.call('HEXISTS', K.dead, id) == 1 then
    duplicate = 1
  end
  if duplicate == 0 and G.unique then
    local lock = G.locks.lock(i)
    if not redis.call('SET', lock, id, 'NX', 'PX', G.unique.ttlMs) then
      id = redis.call('GET', lock)
      duplicate = 1
    end
  end
  if duplicate == 0 then
    seen[id] = true
    added[#added + 1] = id
    fields[#fields + 1] = id
    fields[#fields + 1] = env
  end
  out[#out + 1] = id
  out[#out + 1] = duplicate
end
if #fields > 0 then bulk('HSET', jobs, fields) end

if #added > 0 then
  if delay > 0 then
    local due = now_ms() + delay
    local earliest = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
    local args = {}
    for _, id in ipairs(added) do
      args[#args + 1] = due
      args[#args + 1] = id
    end
    bulk('ZADD', scheduled, args)
    -- Idle workers sleep until the earliest due time they know of; a new earlier one must wake them to re-read it.
    if #earliest == 0 or due < tonumber(earliest[2]) then wake_unless_paused() end
  elseif priority == 0 and not scored_only then
    bulk('RPUSH', wait, added)
    wake_unless_paused()
  else
    if id_prefix == '' then first = redis.call('INCRBY', seq, #added) - #added end
    local args = {}
    for i, id in ipairs(added) do
      args[#args + 1] = prio_score(priority, first + i)
      args[#args + 1] = id
    end
    bulk('ZADD', prio, args)
    wake_unless_paused()
  end
end
return out
