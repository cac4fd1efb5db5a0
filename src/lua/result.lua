#!lua flags=no-writes
-- no-writes: a read, allowed at maxmemory too.
-- One job's stored result, or what became of it, read in one step (so a completion cannot fall between two reads).
-- Inputs: the "result" declaration in src/redis-contract.ts.
-- Returns: { 'result', json } | { 'live' } (waiting, delayed, retrying or running; or a fan-in parent not created yet) | { 'dead', info JSON or false }
--          | { 'expired' } (completed, the result gone) | { 'unknown' }
-- A live or dead job comes first: a result key beside it is an earlier run's (a jobId reused once its completed
-- record was gone, while the result was still within its retention), not this run's. Completing removes the job
-- from `jobs` and writes its result in one step, and an id cannot be enqueued again while its dead letter is kept,
-- so neither hides the result of the run waited for.
local id = A.id
if redis.call('HEXISTS', K.jobs, id) == 1 then return { 'live' } end
-- A fan-in's parent whose children still run: its record stands for it (docs/results.md, "Fan-in"), so a wait from
-- any process (client.job(name, id).result()) waits for it rather than finding it unknown.
if redis.call('EXISTS', K.fanin) == 1 then return { 'live' } end
if redis.call('HEXISTS', K.dead, id) == 1 then return { 'dead', redis.call('HGET', K.deadInfo, id) or false } end
local json = redis.call('GET', K.result)
if json then return { 'result', json } end
if redis.call('HEXISTS', K.done, id) == 1 then return { 'expired' } end
return { 'unknown' }
