#!lua flags=allow-oom
-- allow-oom: only deletes.
-- Releases a unique-job lock held by a job (for `until: 'start'`, when the job starts).
-- KEYS: 1 lock
-- ARGV: 1 id
release_lock(KEYS[1], ARGV[1])
return 1
