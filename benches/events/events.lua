-- wrk script: POST /api/v1/events, each request BATCH generic events (docs/bounces.md) with ids
-- unique across threads and requests, so every event is new and is committed (no duplicates).
-- Mix per event: 8 deliveries, 1 bounce (classified from status and diagnostic), 1 complaint in 10.
-- Env: TOKEN (bearer token), DOMAINS (configured sending domains, space separated), BATCH (events a
-- request, default 1), RUN (a run tag, so a second run against the same store is new too).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local token = os.getenv("TOKEN") or ""
local batch = tonumber(os.getenv("BATCH") or "1")
local run = os.getenv("RUN") or "r"
local domains = {}
for d in string.gmatch(os.getenv("DOMAINS") or "bench.test", "%S+") do
  table.insert(domains, d)
end
local providers = {"gmail.com", "outlook.com", "yahoo.com", "corp.example"}

local function event(n)
  local id = run .. "-" .. tid .. "-" .. n
  local dom = domains[(n % #domains) + 1]
  local rcpt = "u" .. tid .. "x" .. n .. "@" .. providers[(n % #providers) + 1]
  local k = n % 10
  if k == 8 then
    return string.format('{"type":"bounce","recipient":"%s","sender_domain":"%s","id":"%s",' ..
      '"status":"5.1.1","diagnostic":"550 5.1.1 The email account that you tried to reach does not exist",' ..
      '"remote_mta":"mx.example.net"}', rcpt, dom, id)
  elseif k == 9 then
    return string.format('{"type":"complaint","recipient":"%s","sender_domain":"%s","id":"%s"}', rcpt, dom, id)
  end
  return string.format('{"type":"delivery","recipient":"%s","sender_domain":"%s","id":"%s"}', rcpt, dom, id)
end

function request()
  local parts = {}
  for _ = 1, batch do
    counter = counter + 1
    table.insert(parts, event(counter))
  end
  local body = "[" .. table.concat(parts, ",") .. "]"
  return wrk.format("POST", "/api/v1/events",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

local bad = 0
function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
  end
end
