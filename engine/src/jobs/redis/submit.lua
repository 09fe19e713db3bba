-- KEYS: the job's hash, the index, the stream. ARGV: spec JSON, now ms, job id.
-- A second submit of the same id changes nothing (0).
if redis.call('HSETNX', KEYS[1], 'spec', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', '0', 'updated_ms', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('XADD', KEYS[3], '*', 'id', ARGV[3])
return 1
