-- A page of the topic's scheduled tasks in due order, read from its two lanes (pull and
-- callback) merged: ARGV from_score, after_member ('' : start at from_score), to_score
-- (exclusive), limit, budget (lane entries read at most). Ties in score are in member order
-- (bytewise, as Redis orders them). Leased and delivering tasks sit in the lanes at their
-- lease deadline and are skipped. Every step is a rank lookup or a range by rank, so a page
-- costs O(log N + budget) whatever the backlog, also inside a run of equal scores.
-- Answers {last score, last member, more '1'|'0', entries read, task fields...}.
local from, after, to = ARGV[1], ARGV[2], tonumber(ARGV[3])
local limit, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
local function before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
-- The rank of the first entry after the cursor: the scores below `from` counted, then a
-- binary search among the entries scored exactly `from`.
local function start_rank(z)
  local lo = redis.call('ZCOUNT', z, '-inf', '(' .. from)
  if after == '' then return lo end
  local hi = redis.call('ZCOUNT', z, '-inf', from)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if before(after, redis.call('ZRANGE', z, mid, mid)[1]) then hi = mid else lo = mid + 1 end
  end
  return lo
end
local lanes = {}
for _, z in ipairs({P .. 'due:p', P .. 'due:c'}) do
  local r = start_rank(z)
  lanes[#lanes + 1] = {items = redis.call('ZRANGE', z, r, r + budget - 1, 'WITHSCORES'), pos = 1}
end
local out, scanned, last_s, last_m, more = {}, 0, '', '', '0'
while true do
  local pick
  for _, l in ipairs(lanes) do
    if l.pos < #l.items then
      if not pick then
        pick = l
      else
        local s1, s2 = tonumber(l.items[l.pos + 1]), tonumber(pick.items[pick.pos + 1])
        if s1 < s2 or (s1 == s2 and before(l.items[l.pos], pick.items[pick.pos])) then pick = l end
      end
    end
  end
  if not pick or tonumber(pick.items[pick.pos + 1]) >= to then break end
  if #out >= limit or scanned >= budget then
    more = '1'
    break
  end
  last_m, last_s = pick.items[pick.pos], pick.items[pick.pos + 1]
  pick.pos = pick.pos + 2
  scanned = scanned + 1
  local k = P .. 't:' .. last_m
  if redis.call('HGET', k, 'st') == '0' then out[#out + 1] = redis.call('HGETALL', k) end
end
-- A lane read to the end of its fetched entries may go on past them.
if more == '0' and scanned >= budget then more = '1' end
local answer = {last_s, last_m, more, scanned}
for _, fields in ipairs(out) do answer[#answer + 1] = fields end
return answer
