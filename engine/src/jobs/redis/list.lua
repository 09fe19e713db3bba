-- KEYS: the index. ARGV: how many. The newest jobs' records (HGETALL each), newest first.
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do
  out[#out + 1] = redis.call('HGETALL', 'aetheria:job:' .. id)
end
return out
