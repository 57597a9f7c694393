/**
 * The Lua scripts behind the shared limiter: the same sliding-window log as
 * the in-memory limiter, kept in Redis so every replica sees one count.
 *
 * Layout per API key (all keys share the `{keyId}` hash tag, so one script
 * may touch them all, also on a cluster):
 *   <prefix>{<keyId>}            hash: `seq` (unique member ids), `s:<rule>` (units held in that rule's log)
 *   <prefix>{<keyId>}:r:<rule>   sorted set: one member "<seq>:<cost>" per allowed request, score = its time (ms)
 * Each sorted set expires one window (+1 s) after its last write and the hash
 * lives at least as long as the longest of them, so idle keys cost nothing.
 */

/**
 * KEYS[1] the hash, KEYS[1+i] the log of rule i.
 * ARGV: now (ms), cost, then per rule: name, limit, window (ms).
 * Returns {allowed (0|1), rule index (1-based), remaining, resetAt}: the first
 * rule that refused, or else the tightest one after consuming from all.
 */
export const CHECK_SCRIPT = `
local meta = KEYS[1]
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local rules = #KEYS - 1
local TTL_SLACK = 1000
local used = {}

local function costOf(member)
  return tonumber(string.match(member, ':(%d+)$'))
end

local function newestAt(log)
  local last = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
  if last[2] then return tonumber(last[2]) end
  return nil
end

-- When at least 'units' units have left the window: the time a refused request would pass.
local function freedAt(log, units, window)
  local freed, start = 0, 0
  local at = nil
  while true do
    local batch = redis.call('ZRANGE', log, start, start + 99, 'WITHSCORES')
    if #batch == 0 then break end
    for j = 1, #batch, 2 do
      freed = freed + costOf(batch[j])
      at = tonumber(batch[j + 1])
      if freed >= units then return at + window end
    end
    start = start + 100
  end
  if at then return at + window end
  return now
end

-- First pass: drop what left each window, find the first rule that refuses.
for i = 1, rules do
  local log = KEYS[i + 1]
  local base = 3 * i
  local name, limit, window = ARGV[base], tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  local field = 's:' .. name
  local u = tonumber(redis.call('HGET', meta, field) or '0')
  local cutoff = now - window
  local expired = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  if #expired > 0 then
    for j = 1, #expired do u = u - costOf(expired[j]) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
  end
  -- A log that expired on its own holds nothing, whatever the hash still says.
  if u ~= 0 and redis.call('EXISTS', log) == 0 then u = 0 end
  if u == 0 then redis.call('HDEL', meta, field) else redis.call('HSET', meta, field, u) end
  used[i] = u
  if u + cost > limit then
    local resetAt
    if cost > limit then
      resetAt = (newestAt(log) or (now - window)) + window
    else
      resetAt = freedAt(log, u + cost - limit, window)
    end
    return {0, i, math.max(limit - u, 0), resetAt}
  end
end

-- Second pass: every rule has room; consume from all of them.
if cost > 0 then
  local member = redis.call('HINCRBY', meta, 'seq', 1) .. ':' .. ARGV[2]
  local ttl = 0
  for i = 1, rules do
    local log = KEYS[i + 1]
    local base = 3 * i
    local window = tonumber(ARGV[base + 2])
    redis.call('ZADD', log, now, member)
    used[i] = used[i] + cost
    redis.call('HSET', meta, 's:' .. ARGV[base], used[i])
    redis.call('PEXPIRE', log, window + TTL_SLACK)
    if window + TTL_SLACK > ttl then ttl = window + TTL_SLACK end
  end
  if redis.call('PTTL', meta) < ttl then redis.call('PEXPIRE', meta, ttl) end
end

local tightest, remaining = 1, nil
for i = 1, rules do
  local r = tonumber(ARGV[3 * i + 1]) - used[i]
  if remaining == nil or r < remaining then tightest, remaining = i, r end
end
local window = tonumber(ARGV[3 * tightest + 2])
local resetAt = (newestAt(KEYS[tightest + 1]) or (now - window)) + window
return {1, tightest, remaining, resetAt}
`;

/** KEYS[1] the hash. Deletes the key's hash and every rule log it names. */
export const RESET_SCRIPT = `
local meta = KEYS[1]
local fields = redis.call('HKEYS', meta)
for i = 1, #fields do
  local f = fields[i]
  if string.sub(f, 1, 2) == 's:' then redis.call('DEL', meta .. ':r:' .. string.sub(f, 3)) end
end
redis.call('DEL', meta)
return 1
`;
