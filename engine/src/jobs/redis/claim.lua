-- One round trip for a claim that finds work. KEYS: stream, delayed.
-- ARGV: group, worker, idle ms (the visibility timeout), now ms, reclaim ('1': look for entries a
-- dead worker left; the caller asks a few times per visibility timeout, not on every claim).
-- Returns what `claim` in common.lua does.
return claim(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] == '1')
