-- Hands out an entry a blocking XREADGROUP returned. KEYS: stream.
-- ARGV: group, worker, now ms, entry, job id. Returns what `claim` in common.lua does
-- (never 'more').
return deliver(KEYS[1], ARGV[1], ARGV[2], ARGV[3], {ARGV[4], {'id', ARGV[5]}})
