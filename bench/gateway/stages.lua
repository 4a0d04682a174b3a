-- wrk script: chat completions whose user message differs on every request (so a gateway cache
-- misses and stores each one), or the same request every time with SAME=1 (so it hits).
-- Environment: STREAM=1 for "stream": true; SAME=1; WRK_JSON_OUT / WRK_LABEL as chat.lua.
local stream = os.getenv("STREAM") == "1"
local same = os.getenv("SAME") == "1"
local counter = 0
local thread_id = 0
local nonce = ""
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-mock-key"

local function body(n)
  return '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},' ..
         '{"role":"user","content":"Say hello in one short sentence. (' .. n .. ')"}],"max_tokens":32,' ..
         '"temperature":0,"user":"bench-user"' .. (stream and ',"stream":true' or '') .. '}'
end

-- Unique across wrk runs too (the warm-up, earlier rounds): otherwise a later run repeats earlier
-- prompts and hits the cache.
function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
  nonce = os.time() .. "-" .. math.random(1, 1000000000)
end

function request()
  counter = counter + 1
  local n = same and "same" or (nonce .. "-" .. thread_id .. "-" .. counter)
  return wrk.format(nil, nil, nil, body(n))
end

function done(summary, latency, requests)
  local out = os.getenv("WRK_JSON_OUT")
  if not out or #out == 0 then return end
  local secs = summary.duration / 1e6
  local e = summary.errors
  local f = io.open(out, "a")
  f:write(string.format(
    '{"label":"%s","requests":%d,"rps":%.1f,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    os.getenv("WRK_LABEL") or "", summary.requests, summary.requests / secs,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
  f:close()
end
