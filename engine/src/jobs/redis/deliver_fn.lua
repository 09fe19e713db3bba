-- Shared by claim.lua and deliver.lua: hands out one claimed stream entry. Its job gets one more
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
  local state = key and redis.call('HGET', key, 'state')
  if not key or redis.call('EXISTS', key) == 0
    or state == 'done' or state == 'dead' or state == 'cancelled' then
    redis.call('XACK', stream, group, eid)
    redis.call('XDEL', stream, eid)
    return nil
  end
  local attempts = redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'state', 'running', 'worker', worker, 'updated_ms', now)
  return {'job', eid, id, redis.call('HGET', key, 'spec') or '', attempts}
end
