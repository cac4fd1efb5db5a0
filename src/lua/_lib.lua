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

-- Reads the throttled job types (concurrency caps, rate limits) of a queue from a call's `types` group (declared in
-- src/redis-contract.ts): per type its ready, running and starts keys, and its name, cap, rate max, rate period ms
-- (its row, in that declared order).
-- Returns the list and a map from name to ready key (where such jobs wait).
local function read_types(group)
  local types = {}
  local routes = {}
  for t = 1, group.n do
    local ready, running, starts, name, cap, rate_max, rate_per = group.row(t)
    types[t] = { name = name, ready = ready, running = running, starts = starts, cap = cap, rate_max = rate_max,
      rate_per = rate_per }
    routes[name] = ready
  end
  return types, routes
end

-- Adds the keys of throttled types to a check_types spec: ready and running sets, and the starts sets if asked.
local function type_checks(spec, types, starts)
  for _, ty in ipairs(types) do
    spec[#spec + 1] = ty.ready; spec[#spec + 1] = 'zset'
    spec[#spec + 1] = ty.running; spec[#spec + 1] = 'zset'
    if starts then spec[#spec + 1] = ty.starts; spec[#spec + 1] = 'zset' end
  end
  return spec
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

-- A field of every attempts hash written by a lease (value '0'), longer than Redis's 64-byte listpack limit, so the
-- hash always uses its hashtable encoding: in the listpack encoding a hash of up to 512 fields starts with, each of
-- the lease's and the acknowledgement's HMGET, HSET and HDEL scans the whole hash, so a job's cost grew with the
-- number of jobs leased at once (measured: docs/benchmarks.md, issue 17). No job id can equal it (see ACTIVE_GUARD).
local ATTEMPTS_GUARD = '#jobcraft:attempts-hash-encoding-guard:keeps-the-hashtable-encoding-of-this-hash#'

-- Removes ids' attempt counts; deletes the hash once only its guard is left, so nothing lingers when idle.
local function drop_attempts(attempts, ids)
  bulk('HDEL', attempts, ids)
  if redis.call('HLEN', attempts) == 1 and redis.call('HEXISTS', attempts, ATTEMPTS_GUARD) == 1 then
    redis.call('DEL', attempts)
  end
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

-- The type checks of a script that may write a dead letter (K as for bury_invalid_id), before its first write.
-- errors only when the script needs that hash (dead.lua): bury_invalid_id only drops a record there (pcall), so lease
-- recovery and invalid-ids.lua still run when that key has the wrong type.
local function dead_checks(K, errors)
  if errors then
    return check_types({ K.active, 'zset', K.jobs, 'hash', K.attempts, 'hash', K.errors, 'hash', K.dead, 'hash',
      K.deadInfo, 'hash', K.deadOrder, 'zset', K.notify, 'list' })
  end
  return check_types({ K.active, 'zset', K.jobs, 'hash', K.attempts, 'hash', K.dead, 'hash', K.deadInfo, 'hash',
    K.deadOrder, 'zset', K.notify, 'list' })
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

-- The error history of a job (docs/redis-layout.md, "The error record"): beside its last error, a job's record in
-- `errors` (and its dead letter's info) keeps at most MAX_EARLIER_ERRORS earlier errors, oldest first, each cut to
-- at most EARLIER_ERROR_BYTES of JSON (src/bounds.ts holds the same numbers: MAX_EARLIER_ERRORS,
-- MAX_EARLIER_ERROR_BYTES; a unit test keeps them equal).
local MAX_EARLIER_ERRORS = 4
local EARLIER_ERROR_BYTES = 8192

-- s cut to at most max bytes, never inside a UTF-8 character, with a marker when cut.
local function cut_utf8(s, max)
  if #s <= max then return s end
  local marker = ' \226\128\166 [truncated]'
  local n = max - #marker
  while n > 0 do
    local b = string.byte(s, n + 1)
    if b < 128 or b >= 192 then break end
    n = n - 1
  end
  return string.sub(s, 1, n) .. marker
end

-- A number cjson can write back (finite; anyone may have written the record it comes from).
local function finite(v)
  return type(v) == 'number' and v == v and v ~= math.huge and v ~= -math.huge
end

-- One error as JSON of at most max_bytes, from a decoded record (anyone's text: only its known fields, each of its
-- type, are kept; its own `earlier` never is): name cut to 200 bytes, message to max_message, stack to max_stack;
-- should JSON escapes push it over, the stack is dropped, then name and message cut to 64 and 512 bytes.
-- nil when e is not an object with a string message.
local function error_json(e, max_message, max_stack, max_bytes)
  if type(e) ~= 'table' or type(e.message) ~= 'string' then return nil end
  local t = { name = type(e.name) == 'string' and cut_utf8(e.name, 200) or 'Error', message = cut_utf8(e.message, max_message),
    at = finite(e.at) and e.at or 0 }
  if type(e.stack) == 'string' then t.stack = cut_utf8(e.stack, max_stack) end
  if finite(e.attempt) then t.attempt = e.attempt end
  local json = cjson.encode(t)
  if #json > max_bytes then
    t.stack = nil
    json = cjson.encode(t)
  end
  if #json > max_bytes then
    t.name = cut_utf8(t.name, 64)
    t.message = cut_utf8(t.message, 512)
    json = cjson.encode(t)
  end
  return json
end

-- One earlier error: message cut to 2 KiB, stack to 4 KiB, at most EARLIER_ERROR_BYTES of JSON (error_json).
local function earlier_json(e)
  return error_json(e, 2048, 4096, EARLIER_ERROR_BYTES)
end

-- The newest `keep` error objects among list[...] (a decoded `earlier` list: anything), as JSON texts, oldest first.
local function earlier_items(list, keep)
  local items = {}
  if type(list) ~= 'table' then return items end
  local n = #list
  for i = math.max(1, n - keep + 1), n do
    items[#items + 1] = earlier_json(list[i])
  end
  return items
end

-- JSON texts as the text of a JSON array; nil when there are none (cjson would write an empty list as {}).
local function json_array(items)
  if #items == 0 then return nil end
  return '[' .. table.concat(items, ',') .. ']'
end

-- The earlier errors a job's next record carries, from its previous error record prev (JSON; nil or false for
-- none): prev's own `earlier` list, then prev itself, the newest MAX_EARLIER_ERRORS of them, oldest first, as the
-- text of a JSON array (json_array: nil when there are none). Entries that are not error objects are dropped, so a
-- hostile record yields at most the cap.
local function earlier_of(prev)
  if not prev then return nil end
  local ok, rec = pcall(cjson.decode, prev)
  if not ok or type(rec) ~= 'table' then return nil end
  local items = earlier_items(rec.earlier, MAX_EARLIER_ERRORS - 1)
  items[#items + 1] = earlier_json(rec)
  return json_array(items)
end

-- A JSON object's text (made by JSON.stringify: it ends with its closing brace) with "earlier": list added last;
-- json itself when list is nil.
local function with_earlier(json, list)
  if not list or #json < 3 or string.sub(json, -1) ~= '}' then return json end
  return string.sub(json, 1, -2) .. ',"earlier":' .. list .. '}'
end

-- The error record of a dead letter put back in its queue (dead-retry.lua), from its info record (JSON): the error
-- it died with, bounded as any error record (message 8 KiB, stack 16 KiB, 32 KiB in all: MAX_STORED_ERROR_BYTES in
-- src/bounds.ts), with the dead letter's earlier errors (at most MAX_EARLIER_ERRORS). nil when it holds no error.
local function record_of_dead(info)
  if not info then return nil end
  local ok, v = pcall(cjson.decode, info)
  if not ok or type(v) ~= 'table' then return nil end
  local top = error_json(v.error, 8192, 16384, 32768)
  if not top then return nil end
  return with_earlier(top, json_array(earlier_items(v.earlier, MAX_EARLIER_ERRORS)))
end

-- Sends a leased job whose id is not valid UTF-8 to the dead letters under a name a client can address, in one step
-- with the rename (so a renamed job is never runnable): INVALID_ID_PREFIX followed by the id with every byte outside
-- printable ASCII (and '%' itself) written as %XX -- one-to-one, plain ASCII, and no client-made id starts with '#'
-- -- plus '#2', '#3'... if that name is taken (the same raw id written again). Removes every live trace under the
-- old id: lease, envelope, attempt count, error record, concurrency slot (waking a worker if its type has jobs
-- waiting), unique lock.
-- K: the queue's keys active, jobs, attempts, errors, dead, deadInfo, deadOrder, notify (a script's K); types:
-- read_types; max: the dead-letter cap; unique: the lock key prefix. errors may be a key of the wrong type here:
-- pcall, it only drops a record.
-- Returns the new id, the envelope ('' if none) and the attempt number.
local function bury_invalid_id(K, types, max, unique, id)
  local base = INVALID_ID_PREFIX .. (string.gsub(id, '[^\33-\36\38-\126]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
  local new, n = base, 1
  while redis.call('HEXISTS', K.dead, new) == 1 or redis.call('HEXISTS', K.jobs, new) == 1
    or redis.call('ZSCORE', K.active, new) do
    n = n + 1
    new = base .. '#' .. n
  end
  local env = redis.call('HGET', K.jobs, id) or ''
  local att = tonumber(redis.call('HGET', K.attempts, id)) or 1
  local name = name_of(env)
  for _, ty in ipairs(types) do
    if ty.name == name and ty.cap > 0 then free_slot(ty.running, ty.ready, id, K.notify) end
  end
  if string.find(env, '"u":', 1, true) then
    local ok, obj = pcall(cjson.decode, env)
    -- The lock key is built here (not passed in KEYS): it shares the queue's hash tag, and only the envelope names it.
    if ok and type(obj) == 'table' and type(obj.u) == 'string' then release_lock(unique .. obj.u, id) end
  end
  redis.call('ZREM', K.active, id)
  redis.call('HDEL', K.jobs, id)
  drop_attempts(K.attempts, { id })
  redis.pcall('HDEL', K.errors, id)
  local now = now_ms()
  local message = 'the job id is not valid UTF-8, so no client could address it: renamed to "' .. new ..
    '" ("#invalid-utf8:" + the id, bytes outside printable ASCII and "%" as %XX)'
  local info = cjson.encode({ reason = 'malformed_job', attempts = att, diedAt = now,
    error = { name = 'Error', message = message, attempt = att, at = now } })
  add_dead(K.dead, K.deadInfo, K.deadOrder, new, env, info, max)
  if redis.call('ZCARD', K.active) == 1 then redis.call('DEL', K.active) end
  return new, env, att
end

-- What a reply carries for a stored envelope: the envelope, or {size in bytes, its first 512 bytes} when it is over
-- the worker's limit (max_env > 0), so megabytes never cross the worker's shared connection. 512 bytes hold the name
-- and unique key, which the worker needs to free the job's lock and concurrency slot.
local function over_limit(env, max_env)
  if env and max_env > 0 and #env > max_env then return { #env, string.sub(env, 1, 512) } end
  return env
end

-- Buries a leased id that is not UTF-8 (bury_invalid_id) and appends its reply entries to out: the new id, the
-- envelope (over_limit) and the attempt. A: the script's maxDead, uniquePrefix and maxEnvelopeBytes.
local function bury_into(out, K, A, types, id)
  local new, env, att = bury_invalid_id(K, types, A.maxDead, A.uniquePrefix, id)
  out[#out + 1] = new
  out[#out + 1] = over_limit(env, A.maxEnvelopeBytes)
  out[#out + 1] = att
end

-- ---- The steps of fetch.lua, one state transition each. K: fetch's keys by name; types: read_types. ----

-- Ms until the earliest of `current` and `ms` (-1 = none).
local function soonest(current, ms)
  if ms >= 0 and (current < 0 or ms < current) then return ms end
  return current
end

-- Drops completed records: past `keep` (in steps: the history may exceed it by a sixteenth, so a full one is not
-- trimmed on every call), then older than `keep_age` ms, oldest first, a bounded number per call.
local function trim_done(K, keep, keep_age, now)
  local len = redis.call('LLEN', K.doneOrder)
  if len > keep + math.floor(keep / 16) then
    local old = redis.call('LRANGE', K.doneOrder, keep, -1)
    bulk('HDEL', K.done, old)
    redis.call('LTRIM', K.doneOrder, 0, keep - 1)
  end
  for _ = 1, 100 do
    local oldest = redis.call('LINDEX', K.doneOrder, -1)
    if not oldest then break end
    local rec = redis.call('HGET', K.done, oldest)
    local at = rec and tonumber(string.match(rec, '|(%d+)$'))
    if rec and at and at >= now - keep_age then break end
    redis.call('RPOP', K.doneOrder)
    if rec then redis.call('HDEL', K.done, oldest) end
  end
end

-- active -> completed: acknowledges the finished jobs of the `acks` group (plain) and the `held` group (holding a
-- unique lock or a type's slot) this worker still holds (fenced: still leased, same attempt number), releasing their unique locks and concurrency slots, deleting their live traces and
-- writing their completed records (when keep > 0). Returns the ids of the stale acks.
local function ack_completed(K, acks, held, types, keep, keep_age, now)
  local stale = {}
  local n = acks.n
  local total = n + held.n
  if total == 0 then return stale end
  -- Each acknowledgement's fields read once (one accessor call per item), into flat arrays.
  local ack_ids, ack_atts, locks, tys = {}, {}, {}, {}
  for i = 1, n do ack_ids[i], ack_atts[i] = acks.row(i) end
  for i = n + 1, total do ack_ids[i], ack_atts[i], locks[i], tys[i] = held.row(i - n) end
  local leased = redis.call('ZMSCORE', K.active, unpack(ack_ids))
  local atts = redis.call('HMGET', K.attempts, unpack(ack_ids))
  -- The completed record, "<attempt>|<now>", made once per attempt number in the call rather than once per job.
  local suffix = '|' .. now
  local record_of = {}
  local records = {}
  local r = 0
  for i = 1, total do
    local id, att = ack_ids[i], ack_atts[i]
    if leased[i] and atts[i] == att then
      local rec = record_of[att]
      if not rec then
        rec = att .. suffix
        record_of[att] = rec
      end
      records[r + 1] = id
      records[r + 2] = rec
      r = r + 2
      if i > n then
        local lock, t = locks[i], tys[i]
        if lock then release_lock(lock, id) end
        if t and t > 0 and types[t].cap > 0 then redis.call('ZREM', types[t].running, id) end
      end
    else
      stale[#stale + 1] = id
    end
  end
  -- The accepted ids: all of them, unless an ack was stale (then the ids of the records).
  local ids = ack_ids
  if #stale > 0 then
    ids = {}
    for j = 1, r, 2 do ids[#ids + 1] = records[j] end
  end
  if #ids > 0 then
    drop_leases(K.active, ids)
    bulk('HDEL', K.jobs, ids)
    drop_attempts(K.attempts, ids)
    if redis.call('HLEN', K.errors) > 0 then bulk('HDEL', K.errors, ids) end
    if keep > 0 then
      bulk('HSET', K.done, records)
      bulk('LPUSH', K.doneOrder, ids)
      trim_done(K, keep, keep_age, now)
    end
  end
  return stale
end

-- The results of the acknowledged jobs whose type declares one (docs/results.md): each stored under its own key with
-- its retention as TTL, and announced on the queue's results channel ('r' .. id), unless its ack was stale.
local function store_results(res, stale)
  local refused = {}
  for _, id in ipairs(stale) do refused[id] = true end
  for i = 1, res.n do
    local key, id, json, ttl, channel = res.row(i)
    if not refused[id] then
      redis.call('SET', key, json, 'PX', ttl)
      redis.call('PUBLISH', channel, 'r' .. id)
    end
  end
end

-- Chain hand-offs (docs/results.md, "Chains"): for each acknowledged chain step whose ack was not stale, the next
-- step to create goes into the outbox of the step's queue (field: the next step's id), in the call that records the
-- success. The worker then creates that step in its own queue (maybe another cluster slot) and removes the entry; the
-- sweep of lease recovery finishes entries a crash left behind.
local function record_handoffs(h, stale)
  local refused = {}
  for _, id in ipairs(stale) do refused[id] = true end
  for i = 1, h.n do
    local outbox, id, nxt, entry = h.row(i)
    if not refused[id] then redis.call('HSET', outbox, nxt, entry) end
  end
end

-- scheduled -> waiting: makes the due ids (read before any write) ready to run.
local function promote_due(K, due, routes)
  if #due > 0 then
    bulk('ZREM', K.scheduled, due)
    make_ready(K.wait, K.prio, K.seq, due, redis.call('HMGET', K.jobs, unpack(due)), routes)
  end
end

-- How many jobs of throttled type ty may start now, and when that changes if the rate limit is what stops it.
local function allowance(ty, now)
  local n = 1000000
  if ty.cap > 0 then
    redis.call('ZREMRANGEBYSCORE', ty.running, '-inf', now) -- slots of expired leases come back (self-healing)
    n = math.min(n, ty.cap - redis.call('ZCARD', ty.running))
  end
  if ty.rate_max > 0 then
    redis.call('ZREMRANGEBYSCORE', ty.starts, '-inf', now - ty.rate_per)
    local used = redis.call('ZCARD', ty.starts)
    if used >= ty.rate_max then
      local oldest = redis.call('ZRANGE', ty.starts, 0, 0, 'WITHSCORES')
      if #oldest > 0 then return 0, tonumber(oldest[2]) + ty.rate_per - now end
    end
    n = math.min(n, ty.rate_max - used)
  end
  return math.max(0, n), -1
end

-- Priority level of a score (see prio_score), and the score range of a level.
local function level_of(score)
  return -math.floor((tonumber(score) + PRIO_SPAN / 2) / PRIO_SPAN)
end
local function level_range(level)
  local centre = -level * PRIO_SPAN
  return centre - PRIO_SPAN / 2, '(' .. (centre + PRIO_SPAN / 2)
end

-- waiting -> taken (not yet leased): up to `want` ready ids, highest priority first. Jobs of throttled types count
-- only within their type's cap and rate window; at equal priority they go before the plain list (they are few per
-- fetch anyway). Returns the ids, their type index (nil = none) by position, what is left of each type's allowance
-- (empty when want is 0) and the ms until a rate window opens (-1 = none).
local function take_ready(K, types, want, now)
  local taken = {}
  local taken_type = {}
  local allow = {}
  local wake_in = -1
  if want <= 0 then return taken, taken_type, allow, wake_in end
  local function take_ids(ids, t)
    for _, id in ipairs(ids) do
      taken[#taken + 1] = id
      taken_type[#taken] = t
    end
  end
  local function take_prio(min, max, n)
    if n <= 0 then return end
    local ids = redis.call('ZRANGEBYSCORE', K.prio, min, max, 'LIMIT', 0, n)
    if #ids > 0 then
      bulk('ZREM', K.prio, ids)
      take_ids(ids, nil)
    end
  end

  local throttled_ready = false
  for t, ty in ipairs(types) do
    allow[t] = 0
    if redis.call('EXISTS', ty.ready) == 1 then
      local n, retry = allowance(ty, now)
      if retry >= 0 then wake_in = soonest(wake_in, retry) end
      allow[t] = n
      if n > 0 then throttled_ready = true end
    end
  end

  if not throttled_ready then
    -- The common case: priorities above 0, the plain list (priority 0), priorities below 0.
    local has_prio = redis.call('EXISTS', K.prio) == 1
    if has_prio then take_prio('-inf', '(0', want) end
    local room = want - #taken
    if room > 0 then
      local ids = redis.call('LPOP', K.wait, room)
      if ids and #taken == 0 then taken = ids elseif ids then take_ids(ids, nil) end -- the common case: no copy
    end
    if has_prio then take_prio(0, '+inf', want - #taken) end
    return taken, taken_type, allow, wake_in
  end
  -- Merge by priority level: each round takes from the source whose next job has the highest level.
  for _ = 1, 100 do
    local room = want - #taken
    if room <= 0 then break end
    local best, src = nil, nil
    local head = redis.call('ZRANGE', K.prio, 0, 0, 'WITHSCORES')
    if #head > 0 then best, src = level_of(head[2]), 'prio' end
    if (best == nil or best < 0) and redis.call('LLEN', K.wait) > 0 then best, src = 0, 'wait' end
    for t, ty in ipairs(types) do
      if allow[t] > 0 then
        local h = redis.call('ZRANGE', ty.ready, 0, 0, 'WITHSCORES')
        if #h > 0 and (best == nil or level_of(h[2]) >= best) then best, src = level_of(h[2]), t end
      end
    end
    if src == nil then break end
    if src == 'wait' then
      take_ids(redis.call('LPOP', K.wait, room), nil)
    elseif src == 'prio' then
      local lo, hi = level_range(best)
      take_prio(lo, hi, room)
    else
      local ty = types[src]
      local lo, hi = level_range(best)
      local ids = redis.call('ZRANGEBYSCORE', ty.ready, lo, hi, 'LIMIT', 0, math.min(room, allow[src]))
      bulk('ZREM', ty.ready, ids)
      take_ids(ids, src)
      allow[src] = allow[src] - #ids
      if ty.rate_max > 0 then
        local starts = {}
        for i, id in ipairs(ids) do
          starts[#starts + 1] = now
          starts[#starts + 1] = id .. ':' .. now .. ':' .. i
        end
        bulk('ZADD', ty.starts, starts)
        redis.call('PEXPIRE', ty.starts, ty.rate_per + 1000)
      end
    end
  end
  return taken, taken_type, allow, wake_in
end

-- taken -> active: leases the taken ids until `expiry` (attempt + 1, a capped type's slot), appending id, envelope
-- (over_limit) and attempt of each to `out`.
local function lease_taken(K, types, taken, taken_type, expiry, max_env, out)
  if #taken == 0 then return end
  local envs = redis.call('HMGET', K.jobs, unpack(taken))
  local prev = redis.call('HMGET', K.attempts, unpack(taken))
  local leases = {}
  local counts = { ATTEMPTS_GUARD, '0' } -- first: a new hash is created in the hashtable encoding at once
  local o = #out
  for i, id in ipairs(taken) do
    local p = prev[i]
    local att = p and (tonumber(p) or 0) + 1 or 1
    leases[2 * i - 1] = expiry
    leases[2 * i] = id
    counts[2 * i + 1] = id
    counts[2 * i + 2] = att
    local t = taken_type[i]
    if t and types[t].cap > 0 then redis.call('ZADD', types[t].running, expiry, id) end
    out[o + 1] = id
    -- A stored job over the size limit is not shipped (megabytes would hold up this connection for seconds).
    out[o + 2] = over_limit(envs[i], max_env)
    out[o + 3] = att
    o = o + 3
  end
  add_leases(K.active, leases)
  bulk('HSET', K.attempts, counts)
end

-- Keeps one wake-up token while jobs are ready to be taken, so the next idle worker takes them; none otherwise.
-- allow: what take_ready left of each type's allowance (worked out afresh for a type it did not look at). Returns
-- wake_in, updated with any rate window found closed here.
local function keep_wake_tokens(K, types, allow, is_paused, now, wake_in)
  local ready = false
  if not is_paused then
    ready = redis.call('LLEN', K.wait) > 0 or redis.call('EXISTS', K.prio) == 1
    for t, ty in ipairs(types) do
      if ready then break end
      if redis.call('EXISTS', ty.ready) == 1 then
        local n = allow[t]
        if n == nil then
          local retry
          n, retry = allowance(ty, now)
          if retry >= 0 then wake_in = soonest(wake_in, retry) end
        end
        ready = n > 0
      end
    end
  end
  if ready then wake(K.notify) else redis.call('DEL', K.notify) end
  return wake_in
end

-- ---- Operations data (docs/operations.md, "Data"). ----

-- Adds a call's history counters (h: the optional `history` group, its minute and hour bucket keys and how long each
-- lives from now, ms; counts: the `counts` group, field and increment per item) to both buckets: a few HINCRBY per
-- call, never one per job. A bucket's expiry is set when a call creates one of its fields (HINCRBY answers the
-- increment itself), so a busy bucket is not touched again for it. Run it before the call's other writes: a bucket
-- key of the wrong type then fails the call before anything else is written (no TYPE check needed).
-- Nothing when the call carries none.
local function add_history(h, counts)
  if not h or counts.n == 0 then return end
  local minute, hour, fresh_m, fresh_h = h.minute, h.hour, false, false
  for i = 1, counts.n do
    local field, by = counts.row(i)
    if redis.call('HINCRBY', minute, field, by) == by then fresh_m = true end
    if redis.call('HINCRBY', hour, field, by) == by then fresh_h = true end
  end
  if fresh_m then redis.call('PEXPIRE', minute, h.minuteTtlMs) end
  if fresh_h then redis.call('PEXPIRE', hour, h.hourTtlMs) end
end
