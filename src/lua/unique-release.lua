#!lua flags=allow-oom
-- allow-oom: only deletes.
-- Releases a unique-job lock held by a job (for `until: 'start'`, when the job starts).
-- Inputs: the "uniqueRelease" declaration in src/redis-contract.ts.
release_lock(K.lock, A.id)
return 1
