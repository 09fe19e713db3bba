-- Completes a job and claims the next for the same worker in one round trip (what a busy worker
-- does between jobs). KEYS: the job's hash, the stream, the delayed set.
-- ARGV: group, entry, result, now ms, worker, idle ms, reclaim ('1' or '0').
-- Returns what `claim` in common.lua does.
local key, stream, delayed = KEYS[1], KEYS[2], KEYS[3]
local group, entry, now = ARGV[1], ARGV[2], ARGV[4]
redis.call('HSET', key, 'state', 'done', 'result', ARGV[3], 'updated_ms', now)
redis.call('XACK', stream, group, entry)
redis.call('XDEL', stream, entry)
return claim(stream, delayed, group, ARGV[5], ARGV[6], now, ARGV[7] == '1')
