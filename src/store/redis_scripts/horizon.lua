-- How many of the topic's lane entries fall in each bucket: ARGV start, width, n (buckets of
-- `width` ms from `start`). Answers {tasks leased or delivering, entries before start, n
-- counts}. The lanes also hold leased and delivering tasks, at their lease deadline: a count
-- may exceed the scheduled tasks by at most the first number (the caller says which counts
-- are exact).
local start, width, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local zs = {P .. 'due:p', P .. 'due:c'}
local function count(lo, hi)
  local c = 0
  for _, z in ipairs(zs) do c = c + redis.call('ZCOUNT', z, lo, '(' .. string.format('%d', hi)) end
  return c
end
local f = redis.call('HMGET', P .. 'n', '1', '2')
local out = {(tonumber(f[1]) or 0) + (tonumber(f[2]) or 0), count('-inf', start)}
for i = 0, n - 1 do
  out[#out + 1] = count(string.format('%d', start + i * width), start + (i + 1) * width)
end
return out
