-- wrk script of the oidc-gate soak: rotates over a table of requests (written by soak.py
-- before each wrk run) and classifies every response. Environment:
--   SOAK_TABLE        the request table: one request per line, tab-separated:
--                     kind weight uid cid iss live_until dead_from keep method path body header...
--                     (uid/cid/iss: the x-user-id / x-client-id / x-user-iss the echo upstream
--                     must show for a 200, "-" for none; live_until/dead_from: epoch seconds
--                     from which the credential may be / must be refused, 0 for never;
--                     keep: a cookie that must reach the upstream, "-" for none; body "-" for none)
--   SOAK_OUT          where done() writes the counts, examples and latency percentiles
--   SOAK_AUTH_PREFIX  where a login redirect must point (the IdP's authorization endpoint)
--
-- Pairing: each request carries `x-request-id: <table index>-<thread>-<n>`; Envoy is set to
-- keep a client's request id and return it on every response, local replies included.
-- Classification (the outcome; soak.py judges it against the expected answers):
--   200:ok|absent|isswrong  the echo upstream saw the expected x-user-id and x-client-id;
--                           x-user-iss was right / absent / wrong
--   200:wrong               it saw another identity (or one where none was expected)
--   200:spoof               a client-sent identity header (value SPOOF) reached the upstream
--   200:cookieleak|cookiedrop  the session cookie reached the upstream / another cookie did not
--   302:idp|other           a redirect to the IdP's authorization endpoint / elsewhere
--   401:invalid|unauth|page|other, 503:temp|other, or the bare status

threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local reqs = {}
local order = {}
local pos = 0
local n = 0
local auth_prefix = os.getenv("SOAK_AUTH_PREFIX") or "?"
counts = {}
examples = {}
local nexamples = {}

local function split(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    table.insert(out, field)
  end
  return out
end

function init(args)
  local host = wrk.host .. ":" .. wrk.port
  local f = assert(io.open(os.getenv("SOAK_TABLE"), "r"))
  for line in f:lines() do
    local x = split(line)
    if #x >= 11 then
      local r = { kind = x[1], uid = x[3], cid = x[4], iss = x[5],
                  live_until = tonumber(x[6]) or 0, dead_from = tonumber(x[7]) or 0, keep = x[8] }
      local head = { x[9] .. " " .. x[10] .. " HTTP/1.1\r\nHost: " .. host .. "\r\n" }
      for i = 12, #x do
        if x[i] ~= "" then table.insert(head, x[i] .. "\r\n") end
      end
      r.head = table.concat(head)
      local body = x[11]
      if body == "-" then
        r.tail = "\r\n"
      else
        r.tail = "Content-Length: " .. #body .. "\r\n\r\n" .. body
      end
      table.insert(reqs, r)
      local idx = #reqs
      for _ = 1, (tonumber(x[2]) or 1) do table.insert(order, idx) end
    end
  end
  f:close()
  math.randomseed(tid * 7919 + os.time())
  for i = #order, 2, -1 do
    local j = math.random(i)
    order[i], order[j] = order[j], order[i]
  end
end

function request()
  pos = pos + 1
  if pos > #order then pos = 1 end
  n = n + 1
  local idx = order[pos]
  local r = reqs[idx]
  return r.head .. "x-request-id: " .. idx .. "-" .. tid .. "-" .. n .. "\r\n" .. r.tail
end

local function echoed(body, name)
  return body:match('"' .. name .. '": "([^"]*)"') or "-"
end

local function classify(status, headers, body, r)
  if status == 200 then
    if body:find("SPOOF", 1, true) then return "200:spoof" end
    if body:find("__Host-oidc_session", 1, true) then return "200:cookieleak" end
    if r.keep ~= "-" and not body:find(r.keep, 1, true) then return "200:cookiedrop" end
    local uid, cid = echoed(body, "x%-user%-id"), echoed(body, "x%-client%-id")
    if uid ~= r.uid or cid ~= r.cid then return "200:wrong" end
    local iss = echoed(body, "x%-user%-iss")
    if iss == "-" then return "200:absent" end
    if iss == r.iss then return "200:ok" end
    return "200:isswrong"
  elseif status == 302 then
    local loc = headers["location"] or ""
    if loc:sub(1, #auth_prefix) == auth_prefix then return "302:idp" end
    return "302:other"
  elseif status == 401 then
    if body:find('"invalid_token"', 1, true) then return "401:invalid" end
    if body:find('"unauthenticated"', 1, true) then return "401:unauth" end
    if body:find("session has expired", 1, true) then return "401:page" end
    return "401:other"
  elseif status == 503 then
    if body:find("temporarily_unavailable", 1, true) then return "503:temp" end
    return "503:other"
  end
  return tostring(status)
end

function response(status, headers, body)
  local rid = headers["x-request-id"]
  local idx = rid and tonumber(rid:match("^(%d+)%-"))
  local r = idx and reqs[idx]
  local now = os.time()
  local kind, outcome
  body = body or ""
  if not r then
    kind, outcome = "unpaired", tostring(status)
  else
    kind = r.kind
    if r.dead_from > 0 and now >= r.dead_from then
      kind = kind .. "|dead"
    elseif r.live_until > 0 and now >= r.live_until then
      kind = kind .. "|edge"
    end
    outcome = classify(status, headers, body, r)
  end
  local key = kind .. "\t" .. outcome .. "\t" .. now
  counts[key] = (counts[key] or 0) + 1
  local ek = kind .. "\t" .. outcome
  local seen = nexamples[ek] or 0
  if seen < 2 then
    nexamples[ek] = seen + 1
    local snippet = (body:sub(1, 400):gsub("[\t\r\n]", " "))
    examples[ek .. "\t" .. seen] = string.format("t=%d id=%s status=%d location=%s www-authenticate=%s body=%s",
      now, rid or "-", status, headers["location"] or "", headers["www-authenticate"] or "", snippet)
  end
end

function done(summary, latency, requests)
  local f = assert(io.open(os.getenv("SOAK_OUT"), "w"))
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do f:write("C\t", k, "\t", v, "\n") end
    for k, v in pairs(t:get("examples")) do f:write("E\t", k, "\t", v, "\n") end
  end
  local e = summary.errors
  f:write(string.format("S\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
  for _, p in ipairs({ 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99, 99.5, 99.9, 99.99, 100 }) do
    f:write(string.format("L\t%s\t%d\n", p, latency:percentile(p)))
  end
  f:close()
end
