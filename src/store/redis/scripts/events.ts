/**
 * Lua scripts of the Redis tracking events (../events.ts).
 */

/**
 * Appends a batch of one partner's events to its stream. KEYS: the stream. ARGV: time, JSON, time, JSON, ... The
 * entry id is `<time>-<seq>`; stream ids must increase, so a time earlier than the stream's last entry is raised to
 * it (clocks of several processes a few ms apart). Returns the number appended.
 */
export const EVENTS_APPEND = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local floor = 0
if #last > 0 then floor = tonumber(string.match(last[1][1], '^(%d+)')) end
for i = 1, #ARGV, 2 do
  local t = tonumber(ARGV[i])
  if t < floor then t = floor end
  redis.call('XADD', KEYS[1], string.format('%d-*', t), 'e', ARGV[i + 1])
  floor = t
end
return #ARGV / 2
`;
