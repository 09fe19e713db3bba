-- One round trip for a claim that finds work. KEYS: stream, delayed.
-- ARGV: group, worker, idle ms (the visibility timeout), now ms.
-- Returns {'job', entry, id, spec, attempt}, 'more' (entries were dropped: ask again) or nil
-- (nothing to do: the caller blocks on XREADGROUP).
local stream, delayed = KEYS[1], KEYS[2]
local group, worker, idle, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- Retries whose backoff has passed go back into the stream.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 20)) do
  redis.call('XADD', stream, '*', 'id', id)
  redis.call('ZREM', delayed, id)
end
for _ = 1, 16 do
  -- A dead worker's entries first (pending longer than the visibility timeout), then new ones.
  local entry = redis.call('XAUTOCLAIM', stream, group, worker, idle, '0-0', 'COUNT', 1)[2][1]
  if not entry then
    local read = redis.call('XREADGROUP', 'GROUP', group, worker, 'COUNT', 1,
      'STREAMS', stream, '>')
    entry = read and read[1][2][1]
  end
  if not entry then return nil end
  local job = deliver(stream, group, worker, now, entry)
  if job then return job end
end
return 'more'
