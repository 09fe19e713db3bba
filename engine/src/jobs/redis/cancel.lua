-- KEYS: the job's hash, the delayed set. ARGV: job id, now ms. 1 when it was cancelled here.
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'done' or state == 'dead' or state == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'updated_ms', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
