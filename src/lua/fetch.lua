-- The worker's one hot-path call: acknowledges finished jobs, promotes due scheduled jobs, then leases up to
-- `want` ready jobs (the crash-safe pop: a job leaves the ready list and enters the active set in one step).
-- KEYS: 1 wait, 2 prio, 3 scheduled, 4 active, 5 jobs, 6 attempts, 7 errors, 8 notify, 9 done, 10 done:order, 11 seq,
--       12 paused, then the unique-job locks of acknowledged jobs
-- ARGV: 1 want, 2 lease ms, 3 completed to keep (count), 4 completed max age ms, 5 ack count,
--       then per ack: id, attempt, lock (index into KEYS after 12; 0 = none)
-- Returns: next due in ms (-1 = nothing scheduled), number of stale acks, the stale ack ids,
--          then per leased job: id, envelope (false if missing), attempt
local wait, prio, scheduled, active, jobs, attempts, errors, notify, done, done_order, seq, paused =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local want = tonumber(ARGV[1])
-- A paused queue hands out nothing (due jobs are still promoted, so they are ready the moment it resumes).
local is_paused = redis.call('EXISTS', paused) == 1
if is_paused then want = 0 end
local lease = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
local keep_age = tonumber(ARGV[4])
local ack_count = tonumber(ARGV[5])
local now = now_ms()

-- 1. Acknowledge completed jobs this worker still holds (fenced: still leased, same attempt number).
local stale = {}
if ack_count > 0 then
  local ack_ids = {}
  for i = 1, ack_count do ack_ids[i] = ARGV[3 + i * 3] end
  local leased = redis.call('ZMSCORE', active, unpack(ack_ids))
  local atts = redis.call('HMGET', attempts, unpack(ack_ids))
  local ids = {}
  local records = {}
  for i = 1, ack_count do
    local id = ack_ids[i]
    local att = ARGV[4 + i * 3]
    if leased[i] and atts[i] == att then
      ids[#ids + 1] = id
      local lock = tonumber(ARGV[5 + i * 3])
      if lock > 0 then release_lock(KEYS[12 + lock], id) end
      records[#records + 1] = id
      records[#records + 1] = att .. '|' .. now
    else
      stale[#stale + 1] = id
    end
  end
  if #ids > 0 then
    bulk('ZREM', active, ids)
    bulk('HDEL', jobs, ids)
    bulk('HDEL', attempts, ids)
    if redis.call('HLEN', errors) > 0 then bulk('HDEL', errors, ids) end
    if keep > 0 then
      bulk('HSET', done, records)
      bulk('LPUSH', done_order, ids)
      local len = redis.call('LLEN', done_order)
      if len > keep then
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
local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'LIMIT', 0, 1000)
if #due > 0 then
  bulk('ZREM', scheduled, due)
  make_ready(wait, prio, seq, due, redis.call('HMGET', jobs, unpack(due)))
end

-- 3. Lease up to `want` ready jobs: higher priorities, then the plain list, then lower priorities.
local taken = {}
local function take_prio(min, max, n)
  if n <= 0 then return end
  local ids = redis.call('ZRANGEBYSCORE', prio, min, max, 'LIMIT', 0, n)
  if #ids > 0 then
    bulk('ZREM', prio, ids)
    for _, id in ipairs(ids) do taken[#taken + 1] = id end
  end
end
local has_prio = redis.call('EXISTS', prio) == 1
if want > 0 then
  if has_prio then take_prio('-inf', '(0', want) end
  local room = want - #taken
  if room > 0 then
    local ids = redis.call('LPOP', wait, room)
    if ids then
      for _, id in ipairs(ids) do taken[#taken + 1] = id end
    end
  end
  if has_prio then take_prio(0, '+inf', want - #taken) end
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
    out[#out + 1] = id
    out[#out + 1] = envs[i]
    out[#out + 1] = att
  end
  bulk_zadd(active, leases)
  bulk('HSET', attempts, counts)
end

-- 4. Keep one wake-up token while jobs are ready, so the next idle worker takes them; none otherwise.
if not is_paused and (redis.call('LLEN', wait) > 0 or redis.call('EXISTS', prio) == 1) then
  wake(notify)
else
  redis.call('DEL', notify)
end

local nxt = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
if #nxt > 0 then out[1] = math.max(0, tonumber(nxt[2]) - now) end
return out
