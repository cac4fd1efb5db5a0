#!lua flags=allow-oom
-- allow-oom: it only renames jobs already stored, moving each to the dead letters (one bounded info record each).
-- Sends the jobs of one fetch's batch whose id is not valid UTF-8 to the dead letters under an addressable name
-- (bury_invalid_id), in the same step as the rename. A worker calls this only when a fetch handed it an id holding
-- U+FFFD (what a client decodes such bytes to): fetch.lua, the hot path, checks no id. It scans only the leases with
-- the batch's expiry (fetch.lua returns it), so its cost is the batch's, not the active set's.
-- KEYS: 1 active, 2 jobs, 3 attempts, 4 errors, 5 dead, 6 dead:info, 7 dead:order, 8 notify,
--       then per throttled job type: ready, running, starts
-- ARGV: 1 the batch's lease expiry (score), 2 max dead letters, 3 unique lock key prefix, 4 T = number of throttled
--       types, then per type: name, cap, rate max, rate period ms; then the largest envelope to send, in bytes
--       (0 = no limit; over it only {size, head}: over_limit); then the ids holding U+FFFD the caller was handed, as it
--       decoded them
-- Returns: the number of dead-lettered jobs (R), then per such job: new id, envelope, attempt, old id (its bytes: the
--          caller decodes them as it decoded its batch, to spot a valid id they decode to); then per handed id: 1 if
--          it is leased under exactly that id with the batch's expiry (a valid id holding U+FFFD), else 0
local active, jobs, attempts, errors = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bad = check_types({ active, 'zset', jobs, 'hash', attempts, 'hash', KEYS[5], 'hash', KEYS[6], 'hash', KEYS[7], 'zset',
  KEYS[8], 'list' })
if bad then return bad end
local T = tonumber(ARGV[4])
local q = { active = active, jobs = jobs, attempts = attempts, errors = errors, dead = KEYS[5], dead_info = KEYS[6],
  dead_order = KEYS[7], notify = KEYS[8], max = tonumber(ARGV[2]), unique = ARGV[3], types = read_types(9, 5, T) }
local expiry = ARGV[1]
local max_env = tonumber(ARGV[5 + 4 * T]) or 0
local out = { 0 }
for _, id in ipairs(redis.call('ZRANGEBYSCORE', active, expiry, expiry)) do
  if string.find(id, '[\128-\255]') and not valid_utf8(id) then
    local new, env, att = bury_invalid_id(q, id)
    out[#out + 1] = new
    out[#out + 1] = over_limit(env, max_env)
    out[#out + 1] = att
    out[#out + 1] = id
    out[1] = out[1] + 1
  end
end
for i = 6 + 4 * T, #ARGV do
  local score = redis.call('ZSCORE', active, ARGV[i])
  out[#out + 1] = (score and tonumber(score) == tonumber(expiry)) and 1 or 0
end
return out
