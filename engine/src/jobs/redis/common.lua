-- The functions the claiming scripts share (each script is this file, then its own lines).
-- `deliver` hands out one claimed stream entry. Its job gets one more
-- attempt and is marked running; an entry whose job is gone or finished is acknowledged and
-- dropped (nil). A record without a spec is handed out as it is: the engine judges it damaged and
-- buries it (fail.lua).
local function deliver(stream, group, worker, now, entry)
  local eid, fields, id = entry[1], entry[2], nil
  if type(fields) == 'table' then
    for i = 1, #fields, 2 do
      if fields[i] == 'id' then id = fields[i + 1] end
    end
  end
  local key = id and ('aetheria:job:' .. id)
  local record = key and redis.call('HMGET', key, 'state', 'spec') or {}
  local state, spec = record[1], record[2]
  if not (state or spec) or state == 'done' or state == 'dead' or state == 'cancelled' then
    redis.call('XACK', stream, group, eid)
    redis.call('XDEL', stream, eid)
    return nil
  end
  local attempts = redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'state', 'running', 'worker', worker, 'updated_ms', now)
  return {'job', eid, id, spec or '', attempts}
end

-- Claims the next job for `worker`: retries whose backoff has passed go back into the stream
-- first; then a dead worker's entries (pending longer than `idle` ms; only when `reclaim`), then
-- new ones. Returns {'job', entry, id, spec, attempt}, 'more' (entries were dropped: ask again)
-- or nil (nothing to do: the caller blocks on XREADGROUP).
local function claim(stream, delayed, group, worker, idle, now, reclaim)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 20)) do
    redis.call('XADD', stream, '*', 'id', id)
    redis.call('ZREM', delayed, id)
  end
  for _ = 1, 16 do
    local entry = reclaim
      and redis.call('XAUTOCLAIM', stream, group, worker, idle, '0-0', 'COUNT', 1)[2][1]
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
end
