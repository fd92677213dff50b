-- The load script for `make bench` (bench/driver.py runs it; bench/README.md explains the figures).
--
--   wrk -t T -c N -d 4s --latency --timeout 5s -s bench/wrk_flow.lua URL -- MODE SESSIONS_FILE T
--
-- MODE "fixed": every request is POST <URL's path> with an empty body (the baseline).
-- MODE "flow":  SESSIONS_FILE has one started widget session per line, "<session id> <flow token> <step>",
--   N lines for N connections. Thread i (0-based) owns lines i+1, i+1+T, i+1+2T, ..., i.e. exactly as many
--   sessions as it has connections (wrk gives every thread N/T connections).
--
-- wrk does not tell Lua which connection asks for the next request, and all connections of a thread share
-- one Lua state. So a thread keeps its idle sessions in a queue: request() takes one out and response()
-- puts it back once the response body names it (every step partial links to /w/s/<id>/...). A session is
-- thus never in two in-flight requests at once: the service serialises requests per session, and overlapping
-- them would measure lock waits, not the step. With no pipelining each connection has at most one request in
-- flight, so the queue is only ever empty after a response that could not be attributed (an error page or
-- a socket error); such a request goes to /health instead and is counted as "starved", which invalidates
-- the row just as an error status does.
--
-- Every flow request is a real transition that persists state and an event: "continue" takes loss_aversion
-- to survey and "back" takes survey back. The next intent is chosen from the step the last response showed
-- for that session, so it always matches the session's state on the server: the sessions are fresh for
-- every run and each one's responses are all seen. (A refused transition would re-render the current step,
-- which looks like success in the body; this is why a lost response must invalidate the row.) A response
-- showing another step than the intent leads to is counted as "unexpected_step".

-- Latency, two ways. wrk's own percentiles (done()'s latency object) include its coordinated-omission
-- correction (stats_correct in wrk's src/stats.c): each response slower than twice the mean interval adds
-- synthetic samples as if an open-loop client had kept sending meanwhile, so a few 1 s stalls move its p90
-- and p99 a lot. Flow runs therefore also time every request themselves (request() to response(), the same
-- two moments wrk uses), as "raw" percentiles. Fixed runs cannot: a response does not say which of the
-- thread's connections it came from.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")
local function now_us()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
   return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

local NEXT_INTENT = { loss_aversion = "continue", survey = "back" }
local LEADS_TO = { continue = "survey", back = "loss_aversion" }

-- setup() and done() run in wrk's main Lua state; everything else in one state per thread.
local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

-- Per-thread counters (globals, so done() can read them with thread:get).
responses, bad_status, unattributed, unexpected_step, starved = 0, 0, 0, 0, 0
latencies = {} -- flow runs: microseconds per attributed response

local mode
local fixed_request, fallback_request
local requests_of = {} -- session slot -> { continue = "<raw request>", back = "<raw request>" }
local slot_of = {} -- session id -> slot
local next_intent, sent_intent, sent_at = {}, {}, {}
local queue, head, tail = {}, 1, 0 -- idle session slots, FIFO

local function push(slot)
   tail = tail + 1
   queue[tail] = slot
end

function init(args)
   mode = args[1]
   fixed_request = wrk.format("POST", nil, {}, "")
   fallback_request = wrk.format("GET", "/health", {})
   if mode == "fixed" then
      return
   end
   if mode ~= "flow" then
      error("mode must be 'fixed' or 'flow', not " .. tostring(mode))
   end
   local threads_total = tonumber(args[3])
   local line_number = 0
   for line in io.lines(args[2]) do
      if line_number % threads_total == thread_index then
         local id, token, step = line:match("^(%S+) (%S+) (%S+)$")
         if not id or not NEXT_INTENT[step] then
            error("bad session line: " .. line)
         end
         local slot = #requests_of + 1
         local function build(intent)
            local headers = { ["HX-Request"] = "true", ["X-Flow-Token"] = token }
            return wrk.format("POST", "/w/s/" .. id .. "/" .. intent, headers, "")
         end
         requests_of[slot] = { continue = build("continue"), back = build("back") }
         slot_of[id] = slot
         next_intent[slot] = NEXT_INTENT[step]
         push(slot)
      end
      line_number = line_number + 1
   end
end

-- wrk calls request() once on thread 0's state before the thread starts, only to check that the script
-- returns a well-formed request (script_verify_request in wrk's src/script.c). That call must not take a
-- session out of the queue, as no response will ever bring it back.
local verified = false

function request()
   if mode == "fixed" then
      return fixed_request
   end
   if not verified then
      verified = true
      if thread_index == 0 then
         return requests_of[1].continue
      end
   end
   if head > tail then
      starved = starved + 1
      return fallback_request
   end
   local slot = queue[head]
   queue[head] = nil
   head = head + 1
   local intent = next_intent[slot]
   sent_intent[slot] = intent
   sent_at[slot] = now_us()
   return requests_of[slot][intent]
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 399 then
      bad_status = bad_status + 1
   end
   -- Both modes scan the body the same way, so the driver costs the same per response in both.
   local id = body:match('/w/s/([^/"]+)/')
   local step = body:match('data%-step="([%w_]+)"')
   if mode == "fixed" then
      return
   end
   local slot = id and slot_of[id]
   if not slot then
      unattributed = unattributed + 1
      return
   end
   latencies[#latencies + 1] = now_us() - sent_at[slot]
   if step ~= LEADS_TO[sent_intent[slot]] then
      unexpected_step = unexpected_step + 1
   end
   next_intent[slot] = NEXT_INTENT[step] or "continue"
   push(slot)
end

-- One JSON line on stdout, prefixed so the driver can find it among wrk's own report.
function done(summary, latency, requests)
   local counts = { responses = 0, bad_status = 0, unattributed = 0, unexpected_step = 0, starved = 0 }
   for _, thread in ipairs(threads) do
      for name, _ in pairs(counts) do
         counts[name] = counts[name] + (thread:get(name) or 0)
      end
   end
   local e = summary.errors
   local fields = {
      string.format('"requests":%.0f,"duration_us":%.0f,"bytes":%.0f', summary.requests, summary.duration, summary.bytes),
      string.format(
         '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f}',
         e.connect, e.read, e.write, e.status, e.timeout
      ),
   }
   if summary.requests > 0 then
      table.insert(fields, string.format(
         '"latency_us":{"mean":%.1f,"max":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f}',
         latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
         latency:percentile(99), latency:percentile(99.9)
      ))
   end
   local raw = {}
   for _, thread in ipairs(threads) do
      for _, value in ipairs(thread:get("latencies")) do
         raw[#raw + 1] = value
      end
   end
   if #raw > 0 then
      table.sort(raw)
      local function at(p)
         return raw[math.min(#raw, math.floor(#raw * p / 100) + 1)]
      end
      table.insert(fields, string.format(
         '"raw_latency_us":{"count":%d,"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f}',
         #raw, at(50), at(90), at(99), raw[#raw]
      ))
   end
   local script = {}
   for name, value in pairs(counts) do
      table.insert(script, string.format('"%s":%.0f', name, value))
   end
   table.insert(fields, '"script":{' .. table.concat(script, ",") .. "}")
   io.write("WRK_JSON {" .. table.concat(fields, ",") .. "}\n")
end
