#!lua flags=no-writes
-- no-writes: a read.
-- The live entries of the worker registry: those whose expiry (last beat + 3 intervals) is still ahead.
-- Inputs: the "workers" declaration in src/redis-contract.ts.
-- Returns: now ms, then per live worker: id, expiry ms, entry JSON (false if missing)
local now = now_ms()
local live = redis.call('ZRANGEBYSCORE', K.beats, '(' .. now, '+inf', 'WITHSCORES')
local out = { now }
if #live == 0 then return out end
local ids = {}
for i = 1, #live, 2 do ids[#ids + 1] = live[i] end
local infos = redis.call('HMGET', K.info, unpack(ids))
for i, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = live[2 * i]
  out[#out + 1] = infos[i]
end
return out
