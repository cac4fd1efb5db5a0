-- Shared helpers, prepended to every script by src/scripts.ts. Nothing here touches a key on its own:
-- every key is passed in KEYS by the caller.

local PRIO_SPAN = 4398046511104 -- 2^42: priority * PRIO_SPAN + sequence keeps FIFO order within a priority level

-- Checks, before a script writes anything, that each key is absent or of the expected type ('counter' = a string
-- holding an integer). Redis does not roll back a script that fails half-way, so a key of the wrong type (written by
-- something else) must stop the script before its first write, with an error that names the key.
-- spec: { key1, type1, key2, type2, ... }. Returns an error reply, or nil when all is well.
local function check_types(spec)
  for i = 1, #spec, 2 do
    local key, want = spec[i], spec[i + 1]
    if key then
      local t = redis.call('TYPE', key).ok
      local expected = want == 'counter' and 'string' or want
      if t ~= 'none' and t ~= expected then
        return redis.error_reply('WRONGTYPE jobcraft: key ' .. key .. ' is a ' .. t .. ', expected a ' .. expected)
      end
      if want == 'counter' and t == 'string' and not tonumber(redis.call('GET', key)) then
        return redis.error_reply('WRONGTYPE jobcraft: key ' .. key .. ' does not hold an integer')
      end
    end
  end
  return nil
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Runs CMD KEY ARGS... in chunks so a large batch never overflows Lua's argument stack.
local function bulk(cmd, key, args)
  local n = #args
  for i = 1, n, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, n)))
  end
end


-- The priority stored in an envelope ("r"), or 0. Decodes only when the field may be present; never re-encodes.
local function priority_of(env)
  if env and string.find(env, '"r":', 1, true) then
    local ok, obj = pcall(cjson.decode, env)
    if ok and type(obj) == 'table' and type(obj.r) == 'number' then
      return obj.r
    end
  end
  return 0
end

-- Score of a prioritized waiting job: higher priority first, then lower sequence first.
local function prio_score(priority, seq)
  return -priority * PRIO_SPAN + seq
end

-- Leaves one wake-up token in the notify list for a worker blocked in BLPOP.
local function wake(notify)
  if redis.call('LLEN', notify) == 0 then
    redis.call('RPUSH', notify, '1')
  end
end

-- Whether id is leased under attempt number att (the fence that makes a stale worker's acks harmless).
local function holds(active, attempts, id, att)
  if not redis.call('ZSCORE', active, id) then return false end
  return redis.call('HGET', attempts, id) == att
end

-- The job name at the start of an envelope we wrote ({"n":"name",...}), or nil.
local function name_of(env)
  if not env then return nil end
  return string.match(env, '^{"n":"([^"]*)"')
end

-- Reads the throttled job types (concurrency caps, rate limits) of a queue: per type three KEYS from key_at
-- (ready, running, starts) and four ARGV from arg_at (name, cap, rate max, rate period ms).
-- Returns the list and a map from name to ready key (where such jobs wait).
local function read_types(key_at, arg_at, count)
  local types = {}
  local routes = {}
  for t = 1, count do
    local k = key_at + (t - 1) * 3
    local g = arg_at + (t - 1) * 4
    types[t] = {
      name = ARGV[g], ready = KEYS[k], running = KEYS[k + 1], starts = KEYS[k + 2],
      cap = tonumber(ARGV[g + 1]), rate_max = tonumber(ARGV[g + 2]), rate_per = tonumber(ARGV[g + 3]),
    }
    routes[ARGV[g]] = KEYS[k]
  end
  return types, routes
end

-- Makes ids ready to run: jobs of throttled types (routes: name -> ready key) into their type's sorted set,
-- priority 0 to the tail of the wait list, others into the prio sorted set.
local function make_ready(wait, prio, seq, ids, envs, routes)
  local plain = {}
  local scored = {}
  for i, id in ipairs(ids) do
    local p = priority_of(envs[i])
    local route = routes and routes[name_of(envs[i]) or '']
    if route then
      redis.call('ZADD', route, prio_score(p, redis.call('INCR', seq)), id)
    elseif p == 0 then
      plain[#plain + 1] = id
    else
      scored[#scored + 1] = p
      scored[#scored + 1] = id
    end
  end
  if #plain > 0 then bulk('RPUSH', wait, plain) end
  if #scored > 0 then
    local first = redis.call('INCRBY', seq, #scored / 2) - #scored / 2
    local args = {}
    for i = 1, #scored, 2 do
      args[#args + 1] = prio_score(scored[i], first + (i + 1) / 2)
      args[#args + 1] = scored[i + 1]
    end
    bulk('ZADD', prio, args)
  end
end

-- Releases a unique-job lock if this job still holds it (after its TTL another job may have taken it).
local function release_lock(lock, id)
  if redis.call('GET', lock) == id then redis.call('DEL', lock) end
end

-- Frees a job's concurrency slot (running set) and wakes a worker if jobs of its type wait for one.
local function free_slot(running, ready, id, notify)
  if running and redis.call('ZREM', running, id) == 1 and redis.call('EXISTS', ready) == 1 then wake(notify) end
end

-- A member of every non-empty active set, scored +inf (so no lease query ever returns it) and longer than Redis's
-- 64-byte listpack limit, so the set always uses its skiplist encoding: the listpack it would otherwise start as
-- (below 128 members) makes every lease and fence lookup linear. No job id can equal it: ids never contain '#'
-- at the start, and given ids never contain it at all.
local ACTIVE_GUARD = '#jobcraft:active-set-encoding-guard:keeps-the-skiplist-encoding-of-this-sorted-set#'

-- Adds leases (score, id pairs) to an active set, with its guard.
local function add_leases(active, leases)
  redis.call('ZADD', active, 'NX', '+inf', ACTIVE_GUARD)
  bulk('ZADD', active, leases)
end

-- Removes ids from an active set; deletes the set once only its guard is left, so nothing lingers when idle.
local function drop_leases(active, ids)
  bulk('ZREM', active, ids)
  if redis.call('ZCARD', active) == 1 then redis.call('DEL', active) end
end

-- Ids written by a producer outside jobcraft may hold bytes that are not UTF-8. A client decodes ids to strings and
-- encodes them back, which changes such bytes: the job could never be acknowledged, looked up or cancelled. Such a
-- job is renamed (rename_invalid_id) by recover.lua, or by invalid-ids.lua when a fetch handed one out, and the
-- worker sends it to the dead letters under its new name.
local INVALID_ID_PREFIX = '#invalid-utf8:'

-- Whether s is well-formed UTF-8 (what a client decodes and encodes back to the same bytes). Call it only for a
-- string that holds a byte above 127 (string.find(s, '[\128-\255]')): ASCII, the common case, needs no loop.
local function valid_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = string.byte(s, i)
    if c < 128 then
      i = i + 1
    else
      local more, lo, hi -- continuation bytes after c, and the range of the first one (no overlongs, no surrogates)
      if c >= 194 and c <= 223 then more, lo, hi = 1, 128, 191
      elseif c == 224 then more, lo, hi = 2, 160, 191
      elseif c == 237 then more, lo, hi = 2, 128, 159
      elseif c >= 225 and c <= 239 then more, lo, hi = 2, 128, 191
      elseif c == 240 then more, lo, hi = 3, 144, 191
      elseif c >= 241 and c <= 243 then more, lo, hi = 3, 128, 191
      elseif c == 244 then more, lo, hi = 3, 128, 143
      else return false end
      if i + more > n then return false end
      local b = string.byte(s, i + 1)
      if b < lo or b > hi then return false end
      for j = i + 2, i + more do
        b = string.byte(s, j)
        if b < 128 or b > 191 then return false end
      end
      i = i + more + 1
    end
  end
  return true
end

-- Adds a dead letter (envelope env, info JSON) under id, newest last, and drops the oldest over max: the record
-- shape and cap of every dead letter (dead.lua, and the renaming of ids that are not UTF-8 below).
local function add_dead(dead, dead_info, dead_order, id, env, info, max)
  redis.call('HSET', dead, id, env)
  redis.call('HSET', dead_info, id, info)
  redis.call('ZADD', dead_order, now_ms(), id)
  local over = redis.call('ZCARD', dead_order) - max
  if over > 0 then
    local old = redis.call('ZRANGE', dead_order, 0, over - 1)
    bulk('HDEL', dead, old)
    bulk('HDEL', dead_info, old)
    redis.call('ZREMRANGEBYRANK', dead_order, 0, over - 1)
  end
end

-- Sends a leased job whose id is not valid UTF-8 to the dead letters under a name a client can address, in one step
-- with the rename (so a renamed job is never runnable): INVALID_ID_PREFIX followed by the id with every byte outside
-- printable ASCII (and '%' itself) written as %XX -- one-to-one, plain ASCII, and no client-made id starts with '#'
-- -- plus '#2', '#3'... if that name is taken (the same raw id written again). Removes every live trace under the
-- old id: lease, envelope, attempt count, error record, concurrency slot (waking a worker if its type has jobs
-- waiting), unique lock.
-- q: { active, jobs, attempts, errors, dead, dead_info, dead_order, notify, max (dead letters), unique (lock key
-- prefix), types (read_types) }. errors may be a key of the wrong type here: pcall, it only drops a record.
-- Returns the new id, the envelope ('' if none) and the attempt number.
local function bury_invalid_id(q, id)
  local base = INVALID_ID_PREFIX .. (string.gsub(id, '[^\33-\36\38-\126]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
  local new, n = base, 1
  while redis.call('HEXISTS', q.dead, new) == 1 or redis.call('HEXISTS', q.jobs, new) == 1
    or redis.call('ZSCORE', q.active, new) do
    n = n + 1
    new = base .. '#' .. n
  end
  local env = redis.call('HGET', q.jobs, id) or ''
  local att = tonumber(redis.call('HGET', q.attempts, id)) or 1
  local name = name_of(env)
  for _, ty in ipairs(q.types) do
    if ty.name == name and ty.cap > 0 then free_slot(ty.running, ty.ready, id, q.notify) end
  end
  if string.find(env, '"u":', 1, true) then
    local ok, obj = pcall(cjson.decode, env)
    -- The lock key is built here (not passed in KEYS): it shares the queue's hash tag, and only the envelope names it.
    if ok and type(obj) == 'table' and type(obj.u) == 'string' then release_lock(q.unique .. obj.u, id) end
  end
  redis.call('ZREM', q.active, id)
  redis.call('HDEL', q.jobs, id)
  redis.call('HDEL', q.attempts, id)
  redis.pcall('HDEL', q.errors, id)
  local now = now_ms()
  local message = 'the job id is not valid UTF-8, so no client could address it: renamed to "' .. new ..
    '" ("#invalid-utf8:" + the id, bytes outside printable ASCII and "%" as %XX)'
  local info = cjson.encode({ reason = 'malformed_job', attempts = att, diedAt = now,
    error = { name = 'Error', message = message, attempt = att, at = now } })
  add_dead(q.dead, q.dead_info, q.dead_order, new, env, info, q.max)
  if redis.call('ZCARD', q.active) == 1 then redis.call('DEL', q.active) end
  return new, env, att
end

-- What a reply carries for a stored envelope: the envelope, or {size in bytes, its first 512 bytes} when it is over
-- the worker's limit (max_env > 0), so megabytes never cross the worker's shared connection. 512 bytes hold the name
-- and unique key, which the worker needs to free the job's lock and concurrency slot.
local function over_limit(env, max_env)
  if env and max_env > 0 and #env > max_env then return { #env, string.sub(env, 1, 512) } end
  return env
end
