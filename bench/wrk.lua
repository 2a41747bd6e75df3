-- wrk script for bench/run. One argument after "--" picks the request:
--   direct   the form POST the service sends to Twilio, straight at the upstream stand-in
--   service  a sendSms block call (JSON) at the service
--   mcp      the same call as an MCP tools/call at /mcp, the credentials in Authorization
-- With BENCH_KEYED=1 each service request carries an Idempotency-Key of its own (the thread's
-- number, BENCH_KEY_RUN and a counter), so every call claims and settles a fresh key.
-- Every response is checked: direct expects a 201 carrying a message sid, service expects a
-- success envelope, mcp a tool result that is no error. done() prints one machine-readable line starting with WRKRESULT.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

local sid = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
local token = "bench-token"

-- Base64 without dependencies (LuaJIT has the bit library; plain Lua 5.1 fallback not needed).
local function base64(s)
   local b = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
   return ((s:gsub(".", function(x)
      local r, byte = "", x:byte()
      for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
      return r
   end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
      if #x < 6 then return "" end
      local c = 0
      for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
      return b:sub(c + 1, c + 1)
   end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

function init(args)
   mode = args[1] or "service"
   bad = 0
   non2xx = 0
   wrk.method = "POST"
   if mode == "direct" then
      wrk.path = "/2010-04-01/Accounts/" .. sid .. "/Messages.json"
      wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
      wrk.headers["Authorization"] = "Basic " .. base64(sid .. ":" .. token)
      wrk.headers["Accept"] = "application/json"
      wrk.headers["User-Agent"] = "twilio-block/bench"
      wrk.body = "To=%2B15005550006&From=%2B15005550006&Body=Hello"
      want = '"sid":"SM'
   elseif mode == "mcp" then
      wrk.path = "/mcp"
      wrk.headers["Content-Type"] = "application/json"
      wrk.headers["Accept"] = "application/json, text/event-stream"
      wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
      wrk.headers["Authorization"] = "Basic " .. base64(sid .. ":" .. token)
      wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sendSms",' ..
         '"arguments":{"from":"+15005550006","to":"+15005550006","body":"Hello"}}}'
      want = '"isError":false'
   else
      wrk.path = "/api/twilio/sendSms"
      wrk.headers["Content-Type"] = "application/json"
      wrk.body = '{"args":{"accountSid":"' .. sid .. '","accountToken":"' .. token ..
         '","from":"+15005550006","to":"+15005550006","body":"Hello"}}'
      want = '"callback":"success"'
   end
end

if os.getenv("BENCH_KEYED") == "1" then
   local run, sent = os.getenv("BENCH_KEY_RUN") or tostring(os.time()), 0
   function request()
      sent = sent + 1
      wrk.headers["Idempotency-Key"] = "bench-" .. run .. "-" .. (thread_no or 0) .. "-" .. sent
      return wrk.format()
   end
end

-- BENCH_NOCHECK=1 leaves response() undefined: wrk then skips handing bodies to Lua, which
-- shows how much the checking itself costs the client.
local function check(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
   if not body or not string.find(body, want, 1, true) then
      bad = bad + 1
      if bad <= 3 then
         io.stderr:write("unexpected answer: HTTP " .. status .. " " ..
            string.sub(body or "", 1, 300) .. "\n")
      end
   end
end

if os.getenv("BENCH_NOCHECK") ~= "1" then
   response = check
end

function done(summary, latency, requests)
   local b, n = 0, 0
   for _, t in ipairs(threads) do
      b = b + (t:get("bad") or 0)
      n = n + (t:get("non2xx") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "WRKRESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "connect=%d read=%d write=%d timeout=%d status=%d non2xx=%d bad=%d checked=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.timeout, e.status, n, b, response and 1 or 0))
end
