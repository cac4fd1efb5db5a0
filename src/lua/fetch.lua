#!lua flags=allow-oom
-- Registered twice (src/scripts.ts): with this allow-oom shebang for calls that lease nothing (want = 0), so at
-- Redis's maxmemory a worker still acknowledges, which frees memory; and with a plain "#!lua" for calls that lease,
-- which Redis refuses whole there, so no new work starts and adds error records. See docs/reliability.md.
-- The worker's one hot-path call: acknowledges finished jobs, promotes due scheduled jobs, then leases up to
-- `want` ready jobs (the crash-safe pop: a job leaves its ready list and enters the active set in one step).
-- Inputs: the "fetch" declaration in src/redis-contract.ts (K, A, G below are read by name from it).
-- Returns: ms until this worker should look again without being woken (the next scheduled job, or a rate limit
--          window opening; -1 = never), number of stale acks, the lease expiry of this batch (its score in
--          `active`), the stale ack ids, then per leased job: id, envelope (false if missing; {size, first bytes} if
--          over the limit: over_limit), attempt
local now = now_ms()
local want = A.want
-- A paused queue hands out nothing (due jobs are still promoted, so they are ready the moment it resumes).
local is_paused = redis.call('EXISTS', K.paused) == 1
if is_paused then want = 0 end
local types, routes = read_types(G.types)

-- Check the keys this call may write, before its first write (the counter only when a promotion needs it, below).
local spec = { K.wait, 'list', K.prio, 'zset', K.scheduled, 'zset', K.active, 'zset', K.jobs, 'hash', K.attempts, 'hash',
  K.notify, 'list' }
if G.acks.n + G.heldAcks.n > 0 then
  spec[#spec + 1] = K.errors; spec[#spec + 1] = 'hash'
  if A.keepCount > 0 then
    spec[#spec + 1] = K.done; spec[#spec + 1] = 'hash'
    spec[#spec + 1] = K.doneOrder; spec[#spec + 1] = 'list'
  end
end
if G.handoffs.n > 0 then spec[#spec + 1] = G.handoffs.outbox(1); spec[#spec + 1] = 'hash' end
local bad = check_types(type_checks(spec, types, true))
if bad then return bad end
-- Due scheduled jobs are read before any write, so the counter their promotion may use is checked up front too.
local due = redis.call('ZRANGEBYSCORE', K.scheduled, '-inf', now, 'LIMIT', 0, 1000)
if #due > 0 then
  bad = check_types({ K.seq, 'counter' })
  if bad then return bad end
end

-- 1. active -> completed: the acknowledgements.
-- 0. The history counters the call carries (first: a bucket key of the wrong type fails the call before any write).
add_history(G.history, G.counts)
local stale = ack_completed(K, G.acks, G.heldAcks, types, A.keepCount, A.keepAgeMs, now)
-- 1b. Their results, for jobs whose type declares one (none for every other job).
if G.results.n > 0 then store_results(G.results, stale) end
-- 1c. Chain hand-offs: the next steps of acknowledged chain steps, into the outbox (docs/results.md, "Chains").
if G.handoffs.n > 0 then record_handoffs(G.handoffs, stale) end
-- 2. scheduled -> waiting: due jobs.
promote_due(K, due, routes)
-- 3. waiting -> active: up to `want` jobs.
local taken, taken_type, allow, wake_in = take_ready(K, types, want, now)
local expiry = now + A.leaseMs
local out = { -1, #stale, expiry }
for _, id in ipairs(stale) do out[#out + 1] = id end
lease_taken(K, types, taken, taken_type, expiry, A.maxEnvelopeBytes, out)
-- 4. The wake-up token.
wake_in = keep_wake_tokens(K, types, allow, is_paused, now, wake_in)

local nxt = redis.call('ZRANGE', K.scheduled, 0, 0, 'WITHSCORES')
if #nxt > 0 then wake_in = soonest(wake_in, math.max(0, tonumber(nxt[2]) - now)) end
out[1] = wake_in
return out
