-- KEYS: the job's hash, the stream, the delayed set, the dead letters.
-- ARGV: group, entry, error, now ms, job id, due ms ('' buries it: no attempts are left, or its
-- record is damaged). A job cancelled while it ran stays cancelled.
local key, stream, delayed, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, entry, err, now, id, due = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('HGET', key, 'state') ~= 'cancelled' then
  if due == '' then
    redis.call('HSET', key, 'state', 'dead', 'error', err, 'updated_ms', now)
    redis.call('XADD', dead, '*', 'id', id, 'error', err)
  else
    redis.call('HSET', key, 'state', 'queued', 'error', err, 'updated_ms', now)
    redis.call('ZADD', delayed, due, id)
  end
end
redis.call('XACK', stream, group, entry)
redis.call('XDEL', stream, entry)
return 1
