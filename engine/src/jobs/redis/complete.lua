-- KEYS: the job's hash, the stream. ARGV: group, entry, result, now ms.
redis.call('HSET', KEYS[1], 'state', 'done', 'result', ARGV[3], 'updated_ms', ARGV[4])
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
return 1
