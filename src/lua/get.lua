#!lua flags=no-writes
-- no-writes: a read, allowed at maxmemory too.
-- Reads one job's state without changing anything.
-- Inputs: the "get" declaration in src/redis-contract.ts.
-- Returns: state, envelope or false, attempts made, last error JSON or false, extra (run-at ms, lease expiry ms,
--          completed record, dead info JSON) or false
local jobs, active, scheduled, attempts, errors, done, dead, dead_info =
  K.jobs, K.active, K.scheduled, K.attempts, K.errors, K.done, K.dead, K.deadInfo
local id = A.id
local env = redis.call('HGET', jobs, id)
if env then
  local att = redis.call('HGET', attempts, id) or '0'
  local err = redis.call('HGET', errors, id)
  local lease = redis.call('ZSCORE', active, id)
  if lease then return { 'active', env, att, err, lease } end
  local due = redis.call('ZSCORE', scheduled, id)
  if due then
    if err then return { 'retrying', env, att, err, due } end
    return { 'delayed', env, att, err, due }
  end
  return { 'waiting', env, att, err, false }
end
local dead_env = redis.call('HGET', dead, id)
if dead_env then
  return { 'dead', dead_env, '0', false, redis.call('HGET', dead_info, id) or false }
end
local rec = redis.call('HGET', done, id)
if rec then return { 'completed', false, '0', false, rec } end
return { 'unknown', false, '0', false, false }
