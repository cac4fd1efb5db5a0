#!lua flags=allow-oom
-- allow-oom: one bounded entry per live worker process (its running jobs listed up to 100), and it drops the
-- entries of dead ones.
-- A worker's heartbeat: writes its registry entry and when it expires, drops up to 100 entries that expired (their
-- process stopped beating), and keeps both keys alive for as long as the longest entry (so a prefix whose workers
-- all died loses its registry on its own).
-- Inputs: the "heartbeat" declaration in src/redis-contract.ts.
-- Returns: the number of expired entries dropped
local bad = check_types({ K.info, 'hash', K.beats, 'zset' })
if bad then return bad end
local now = now_ms()
local gone = redis.call('ZRANGEBYSCORE', K.beats, '-inf', now, 'LIMIT', 0, 100)
if #gone > 0 then
  redis.call('HDEL', K.info, unpack(gone))
  redis.call('ZREM', K.beats, unpack(gone))
end
local expires = now + A.ttlMs
-- The entry ends with "lastBeatAt":0} (entryJson writes it last): Redis's time goes there.
redis.call('HSET', K.info, A.id, (string.gsub(A.json, '"lastBeatAt":0}$', '"lastBeatAt":' .. now .. '}', 1)))
redis.call('ZADD', K.beats, expires, A.id)
local last = redis.call('ZRANGE', K.beats, -1, -1, 'WITHSCORES')
local keep = math.max(expires, tonumber(last[2]))
redis.call('PEXPIRE', K.info, keep - now)
redis.call('PEXPIRE', K.beats, keep - now)
return #gone
