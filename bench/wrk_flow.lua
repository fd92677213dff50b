-- The load script for `make bench` (bench/driver.py runs it).
--
--   wrk -t T -c N -d 10s --latency --timeout 5s -s bench/wrk_flow.lua URL -- SESSIONS_FILE T
--
-- SESSIONS_FILE has one started widget session per line, "<session id> <flow token> <step>", N lines for
-- N connections. Thread i (0-based) owns lines i+1, i+1+T, ..., as many as it has connections.
--
-- wrk does not tell Lua which connection asks for the next request, and the connections of a thread
-- share one Lua state. So a thread keeps its idle sessions in a queue: request() takes one out and
-- response() puts it back once the body names it (every step partial links to /w/s/<id>/...). A session
-- is never in two requests at once: the service serialises requests per session, and overlapping them
-- would measure lock waits, not the step. If the queue is empty (only after a response that could not
-- be attributed), the request goes to /health and counts as "starved", which invalidates the row.
--
-- Every request is a real, persisted transition: "continue" takes loss_aversion to survey and "back"
-- takes survey back. The next intent follows the step the session's last response showed. A refused
-- transition re-renders the current step, so a response showing another step counts as "unexpected_step".

local NEXT_INTENT = { loss_aversion = "continue", survey = "back" }
local LEADS_TO = { continue = "survey", back = "loss_aversion" }

-- setup() and done() run in wrk's main Lua state; everything else in one state per thread.
local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

-- Per-thread counters (globals, so done() can read them with thread:get).
bad_status, unattributed, unexpected_step, starved = 0, 0, 0, 0

local fallback_request
local requests_of = {} -- session slot -> { continue = "<raw request>", back = "<raw request>" }
local slot_of = {} -- session id -> slot
local next_intent, sent_intent = {}, {}
local queue, head, tail = {}, 1, 0 -- idle session slots, FIFO

local function push(slot)
   tail = tail + 1
   queue[tail] = slot
end

function init(args)
   fallback_request = wrk.format("GET", "/health", {})
   local threads_total = tonumber(args[2])
   local line_number = 0
   for line in io.lines(args[1]) do
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

-- wrk calls request() once on thread 0's state before the threads start, only to check that the script
-- returns a well-formed request (script_verify_request in wrk's src/script.c). That call must not take a
-- session out of the queue, as no response will ever bring it back.
local verified = false

function request()
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
   sent_intent[slot] = next_intent[slot]
   return requests_of[slot][next_intent[slot]]
end

function response(status, headers, body)
   if status < 200 or status > 399 then
      bad_status = bad_status + 1
   end
   local id = body:match('/w/s/([^/"]+)/')
   local slot = id and slot_of[id]
   if not slot then
      unattributed = unattributed + 1
      return
   end
   local step = body:match('data%-step="([%w_]+)"')
   if step ~= LEADS_TO[sent_intent[slot]] then
      unexpected_step = unexpected_step + 1
   end
   next_intent[slot] = NEXT_INTENT[step] or "continue"
   push(slot)
end

-- One JSON line on stdout, prefixed so the driver can find it among wrk's own report. wrk's percentiles
-- include its coordinated-omission correction, so a few stalled responses raise p99 as they should.
function done(summary, latency, requests)
   local counts = { bad_status = 0, unattributed = 0, unexpected_step = 0, starved = 0 }
   for _, thread in ipairs(threads) do
      for name, _ in pairs(counts) do
         counts[name] = counts[name] + (thread:get(name) or 0)
      end
   end
   local e = summary.errors
   local fields = {
      string.format('"requests":%.0f,"duration_us":%.0f', summary.requests, summary.duration),
      string.format(
         '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f}',
         e.connect, e.read, e.write, e.status, e.timeout
      ),
   }
   if summary.requests > 0 then
      table.insert(fields, string.format(
         '"latency_us":{"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f}',
         latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
      ))
   end
   local script = {}
   for name, value in pairs(counts) do
      table.insert(script, string.format('"%s":%.0f', name, value))
   end
   table.insert(fields, '"script":{' .. table.concat(script, ",") .. "}")
   io.write("WRK_JSON {" .. table.concat(fields, ",") .. "}\n")
end
