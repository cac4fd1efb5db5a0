#!lua flags=allow-oom
-- allow-oom: it only renames jobs already stored, moving each to the dead letters (one bounded info record each).
-- Sends the jobs of one fetch's batch whose id is not valid UTF-8 to the dead letters under an addressable name
-- (bury_invalid_id), in the same step as the rename. A worker calls this only when a fetch handed it an id holding
-- U+FFFD (what a client decodes such bytes to): fetch.lua, the hot path, checks no id. It scans only the leases with
-- the batch's expiry (fetch.lua returns it), so its cost is the batch's, not the active set's.
-- Inputs: the "invalidIds" declaration in src/redis-contract.ts: A.expiry (the batch's lease expiry, its score),
-- A.maxEnvelopeBytes (the largest envelope to send, 0 = no limit; over it only {size, head}: over_limit), G.suspects
-- (the ids holding U+FFFD the caller was handed, as it decoded them).
-- Returns: the number of dead-lettered jobs (R), then per such job: new id, envelope, attempt, old id (its bytes: the
--          caller decodes them as it decoded its batch, to spot a valid id they decode to); then per handed id: 1 if
--          it is leased under exactly that id with the batch's expiry (a valid id holding U+FFFD), else 0
local bad = dead_checks(K)
if bad then return bad end
local types = read_types(G.types)
local expiry = A.expiry
local out = { 0 }
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.active, expiry, expiry)) do
  if string.find(id, '[\128-\255]') and not valid_utf8(id) then
    bury_into(out, K, A, types, id)
    out[#out + 1] = id
    out[1] = out[1] + 1
  end
end
for i = 1, G.suspects.n do
  local score = redis.call('ZSCORE', K.active, G.suspects.id(i))
  out[#out + 1] = (score and tonumber(score) == tonumber(expiry)) and 1 or 0
end
return out
