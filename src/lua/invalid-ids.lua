#!lua flags=allow-oom
-- allow-oom: it only renames jobs already stored.
-- Renames every leased job whose id is not valid UTF-8 (see rename_invalid_id), keeping its lease, so that the caller
-- can send it to the dead letters under an id it can address. A worker calls this only when a fetch handed it an id
-- holding U+FFFD (what a client decodes such bytes to): so fetch.lua, the hot path, checks no id, and this rare call
-- may scan the whole active set. The renamed jobs leased by other workers are returned too: their fetch answer held
-- an id they cannot use, which they drop (the flags below); the caller dead-letters every renamed job, once.
-- KEYS: 1 active, 2 jobs, 3 attempts, 4 errors
-- ARGV: the ids holding U+FFFD that the caller was handed, as it decoded them
-- Returns: the number of renamed jobs (R), then per renamed job: new id, envelope (false if missing), attempt;
--          then per ARGV id: 1 if it is leased under exactly that id (a valid id holding U+FFFD), else 0
local active, jobs, attempts, errors = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bad = check_types({ active, 'zset', jobs, 'hash', attempts, 'hash' })
if bad then return bad end
local out = { 0 }
local leased = redis.call('ZRANGEBYSCORE', active, '-inf', '(+inf', 'WITHSCORES')
for i = 1, #leased, 2 do
  local id = leased[i]
  if string.find(id, '[\128-\255]') and not valid_utf8(id) then
    local new = rename_invalid_id(jobs, attempts, errors, id)
    redis.call('ZREM', active, id)
    redis.call('ZADD', active, leased[i + 1], new)
    out[#out + 1] = new
    out[#out + 1] = redis.call('HGET', jobs, new) or false
    local att = redis.call('HGET', attempts, new)
    if not att then
      att = '1' -- as in recover.lua: so the fence of the dead letter that follows matches
      redis.call('HSET', attempts, new, att)
    end
    out[#out + 1] = att
    out[1] = out[1] + 1
  end
end
for _, id in ipairs(ARGV) do
  out[#out + 1] = redis.call('ZSCORE', active, id) and 1 or 0
end
return out
