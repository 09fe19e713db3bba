-- KEYS: the job's hash, the stream. ARGV: group, entry, progress.
-- 0 when the job was cancelled; otherwise claiming the entry again resets its idle time (so
-- XAUTOCLAIM leaves it alone) and the progress is kept.
if redis.call('HGET', KEYS[1], 'state') == 'cancelled' then return 0 end
local worker = redis.call('HGET', KEYS[1], 'worker') or ''
redis.call('XCLAIM', KEYS[2], ARGV[1], worker, 0, ARGV[2], 'JUSTID')
redis.call('HSET', KEYS[1], 'progress', ARGV[3])
return 1
