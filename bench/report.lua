-- wrk script: anti-captcha /reportIncorrectImageCaptcha, a different task per request, taken in
-- order from the ids file (IDS) starting at line START; counts answers that are not a success.
local key = os.getenv("KEY")
local ids = {}
local start = tonumber(os.getenv("START") or "1")
local n = 0
for line in io.lines(os.getenv("IDS")) do
  n = n + 1
  if n >= start then ids[#ids + 1] = line end
end
local i = 0
failed = 0
local threads = {}
wrk.method = "POST"

setup = function(thread)
  threads[#threads + 1] = thread
end
wrk.headers["Content-Type"] = "application/json"

request = function()
  i = i + 1
  local id = ids[i] or ids[#ids]
  return wrk.format(nil, "/reportIncorrectImageCaptcha", nil,
    '{"clientKey":"' .. key .. '","taskId":' .. id .. '}')
end

response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"errorId":0', 1, true) then
    failed = failed + 1
  end
end

-- done() runs in its own Lua state: the threads' counters are read through thread:get.
done = function(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("failed") end
  io.write(string.format("RESULT req_s=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d failed=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, bad))
end
