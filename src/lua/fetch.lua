#!lua flags=allow-oom
-- allow-oom: at Redis's maxmemory it still acknowledges (which frees memory) and leases, because every script that
-- keeps or ends a lease may run there too (renew, recover, reschedule, dead, release). See docs/reliability.md.
-- The worker's one hot-path call: acknowledges finished jobs, promotes due scheduled jobs, then leases up to
-- `want` ready jobs (the crash-safe pop: a job leaves its ready list and enters the active set in one step).
-- KEYS: 1 wait, 2 prio, 3 scheduled, 4 active, 5 jobs, 6 attempts, 7 errors, 8 notify, 9 done, 10 done:order, 11 seq,
--       12 paused, then per throttled job type: ready, running, starts; then the unique locks of acknowledged jobs
-- ARGV: 1 want, 2 lease ms, 3 completed to keep (count), 4 completed max age ms,
--       5 T = number of throttled job types, then per type: name, concurrency cap (0 = none),
--       rate max (0 = none), rate period ms;
--       then the ack count, then per ack: id, and either the attempt alone or "attempt:lock:type" (lock = 1-based
--       index among the lock keys, 0 = none; type = 1-based index among the throttled types, 0 = none);
--       last: the largest envelope to send, in bytes (0 = no limit)
-- Returns: ms until this worker should look again without being woken (the next scheduled job, or a rate limit
--          window opening; -1 = never), number of stale acks, the stale ack ids,
--          then per leased job: id, envelope (false if missing; {size, first 512 bytes} if over the limit), attempt
local wait, prio, scheduled, active, jobs, attempts, errors, notify, done, done_order, seq, paused =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local want = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
local keep_age = tonumber(ARGV[4])
local max_env = tonumber(ARGV[#ARGV]) or 0
local now = now_ms()
-- A paused queue hands out nothing (due jobs are still promoted, so they are ready the moment it resumes).
local is_paused = redis.call('EXISTS', paused) == 1
if is_paused then want = 0 end

local types, routes = read_types(13, 6, tonumber(ARGV[5]))
local lock_base = 12 + 3 * #types
local a = 6 + 4 * #types
local ack_count = tonumber(ARGV[a])
-- Check the keys this call may write, before its first write (the counter only when a promotion needs it, below).
local spec = { wait, 'list', prio, 'zset', scheduled, 'zset', active, 'zset', jobs, 'hash', attempts, 'hash', notify, 'list' }
if ack_count > 0 then
  spec[#spec + 1] = errors; spec[#spec + 1] = 'hash'
  if keep > 0 then
    spec[#spec + 1] = done; spec[#spec + 1] = 'hash'
    spec[#spec + 1] = done_order; spec[#spec + 1] = 'list'
  end
end
for _, ty in ipairs(types) do
  spec[#spec + 1] = ty.ready; spec[#spec + 1] = 'zset'
  spec[#spec + 1] = ty.running; spec[#spec + 1] = 'zset'
  spec[#spec + 1] = ty.starts; spec[#spec + 1] = 'zset'
end
local bad = check_types(spec)
if bad then return bad end
-- Due scheduled jobs are read before any write, so the counter their promotion may use is checked up front too.
local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'LIMIT', 0, 1000)
if #due > 0 then
  bad = check_types({ seq, 'counter' })
  if bad then return bad end
end

-- 1. Acknowledge completed jobs this worker still holds (fenced: still leased, same attempt number).
local stale = {}
if ack_count > 0 then
  local ack_ids = {}
  for i = 1, ack_count do ack_ids[i] = ARGV[a + 2 * i - 1] end
  local leased = redis.call('ZMSCORE', active, unpack(ack_ids))
  local atts = redis.call('HMGET', attempts, unpack(ack_ids))
  local ids = {}
  local records = {}
  for i = 1, ack_count do
    local id, att, lock, t = ack_ids[i], ARGV[a + 2 * i], 0, 0
    local c = string.find(att, ':', 1, true)
    if c then
      local l, ty = string.match(att, '^%d+:(%d+):(%d+)$')
      lock, t = tonumber(l) or 0, tonumber(ty) or 0
      att = string.sub(att, 1, c - 1)
    end
    if leased[i] and atts[i] == att then
      ids[#ids + 1] = id
      records[#records + 1] = id
      records[#records + 1] = att .. '|' .. now
      if lock > 0 then release_lock(KEYS[lock_base + lock], id) end
      if t > 0 and types[t].cap > 0 then redis.call('ZREM', types[t].running, id) end
    else
      stale[#stale + 1] = id
    end
  end
  if #ids > 0 then
    drop_leases(active, ids)
    bulk('HDEL', jobs, ids)
    bulk('HDEL', attempts, ids)
    if redis.call('HLEN', errors) > 0 then bulk('HDEL', errors, ids) end
    if keep > 0 then
      bulk('HSET', done, records)
      bulk('LPUSH', done_order, ids)
      -- Trimmed in steps (the history may exceed `keep` by a sixteenth), so a full one is not trimmed on every call.
      local len = redis.call('LLEN', done_order)
      if len > keep + math.floor(keep / 16) then
        local old = redis.call('LRANGE', done_order, keep, -1)
        bulk('HDEL', done, old)
        redis.call('LTRIM', done_order, 0, keep - 1)
      end
      -- Drop records older than the age limit, oldest first, a bounded number per call.
      for _ = 1, 100 do
        local oldest = redis.call('LINDEX', done_order, -1)
        if not oldest then break end
        local rec = redis.call('HGET', done, oldest)
        local at = rec and tonumber(string.match(rec, '|(%d+)$'))
        if rec and at and at >= now - keep_age then break end
        redis.call('RPOP', done_order)
        if rec then redis.call('HDEL', done, oldest) end
      end
    end
  end
end

-- 2. Promote scheduled jobs that are due.
if #due > 0 then
  bulk('ZREM', scheduled, due)
  make_ready(wait, prio, seq, due, redis.call('HMGET', jobs, unpack(due)), routes)
end

-- 3. Lease up to `want` ready jobs, highest priority first. Jobs of throttled types count only within their
--    type's cap and rate window; at equal priority they go before the plain list (they are few per fetch anyway).
local taken = {}
local taken_type = {}
local wake_in = -1
local function soonest(ms)
  if ms >= 0 and (wake_in < 0 or ms < wake_in) then wake_in = ms end
end

-- How many jobs of throttled type t may start now, and when that changes if the rate limit is what stops it.
local function allowance(t)
  local ty = types[t]
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

local function take_ids(ids, t)
  for _, id in ipairs(ids) do
    taken[#taken + 1] = id
    taken_type[#taken] = t
  end
end

-- Priority level of a score (see prio_score), and the score range of a level.
local function level_of(score)
  return -math.floor((tonumber(score) + PRIO_SPAN / 2) / PRIO_SPAN)
end
local function level_range(level)
  local centre = -level * PRIO_SPAN
  return centre - PRIO_SPAN / 2, '(' .. (centre + PRIO_SPAN / 2)
end

local function take_prio(min, max, n)
  if n <= 0 then return end
  local ids = redis.call('ZRANGEBYSCORE', prio, min, max, 'LIMIT', 0, n)
  if #ids > 0 then
    bulk('ZREM', prio, ids)
    take_ids(ids, nil)
  end
end

local allow = {}
local throttled_ready = false
if want > 0 then
  for t, ty in ipairs(types) do
    allow[t] = 0
    if redis.call('EXISTS', ty.ready) == 1 then
      local n, retry = allowance(t)
      if retry >= 0 then soonest(retry) end
      allow[t] = n
      if n > 0 then throttled_ready = true end
    end
  end
end

if want > 0 and not throttled_ready then
  -- The common case: priorities above 0, the plain list (priority 0), priorities below 0.
  local has_prio = redis.call('EXISTS', prio) == 1
  if has_prio then take_prio('-inf', '(0', want) end
  local room = want - #taken
  if room > 0 then
    local ids = redis.call('LPOP', wait, room)
    if ids then take_ids(ids, nil) end
  end
  if has_prio then take_prio(0, '+inf', want - #taken) end
elseif want > 0 then
  -- Merge by priority level: each round takes from the source whose next job has the highest level.
  for _ = 1, 100 do
    local room = want - #taken
    if room <= 0 then break end
    local best, src = nil, nil
    local head = redis.call('ZRANGE', prio, 0, 0, 'WITHSCORES')
    if #head > 0 then best, src = level_of(head[2]), 'prio' end
    if (best == nil or best < 0) and redis.call('LLEN', wait) > 0 then best, src = 0, 'wait' end
    for t, ty in ipairs(types) do
      if allow[t] > 0 then
        local h = redis.call('ZRANGE', ty.ready, 0, 0, 'WITHSCORES')
        if #h > 0 and (best == nil or level_of(h[2]) >= best) then best, src = level_of(h[2]), t end
      end
    end
    if src == nil then break end
    if src == 'wait' then
      take_ids(redis.call('LPOP', wait, room), nil)
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
end

local out = { -1, #stale }
for _, id in ipairs(stale) do out[#out + 1] = id end
if #taken > 0 then
  local envs = redis.call('HMGET', jobs, unpack(taken))
  local prev = redis.call('HMGET', attempts, unpack(taken))
  local leases = {}
  local counts = {}
  local expiry = now + lease
  for i, id in ipairs(taken) do
    local att = (tonumber(prev[i]) or 0) + 1
    leases[#leases + 1] = expiry
    leases[#leases + 1] = id
    counts[#counts + 1] = id
    counts[#counts + 1] = att
    local t = taken_type[i]
    if t and types[t].cap > 0 then redis.call('ZADD', types[t].running, expiry, id) end
    out[#out + 1] = id
    -- A stored job over the size limit is not shipped (megabytes would hold up this connection for seconds).
    local env = envs[i]
    if env and max_env > 0 and #env > max_env then env = { #env, string.sub(env, 1, 512) } end
    out[#out + 1] = env
    out[#out + 1] = att
  end
  add_leases(active, leases)
  bulk('HSET', attempts, counts)
end

-- 4. Keep one wake-up token while jobs are ready to be taken, so the next idle worker takes them; none otherwise.
local ready = false
if not is_paused then
  ready = redis.call('LLEN', wait) > 0 or redis.call('EXISTS', prio) == 1
  for t, ty in ipairs(types) do
    if ready then break end
    if redis.call('EXISTS', ty.ready) == 1 then
      -- What step 3 left of the type's allowance; worked out afresh only if step 3 did not (want was 0).
      local n = allow[t]
      if n == nil then
        local retry
        n, retry = allowance(t)
        if retry >= 0 then soonest(retry) end
      end
      ready = n > 0
    end
  end
end
if ready then wake(notify) else redis.call('DEL', notify) end

local nxt = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
if #nxt > 0 then soonest(math.max(0, tonumber(nxt[2]) - now)) end
out[1] = wake_in
return out
