-- wrk script: POST one fixed body with fixed headers, and check every answer.
--
-- Set by bench/run.py through the environment:
--   WRK_BODY_FILE     file holding the request body (JSON)
--   WRK_AUTH          value of the Authorization header ("" for none)
--   WRK_STATUS        expected HTTP status ("2xx" for any 200-299)
--   WRK_MUST          substring every good answer contains ("" for none)
--   WRK_MUST_NOT      substring no good answer contains ("" for none)
-- At the end one line "BENCH_RESULT {json}" sums good and bad answers over all
-- threads (plus a sample of the first bad answer), so a run that only produced
-- errors fast is never mistaken for throughput.

local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("WRK_AUTH") or ""
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local want = os.getenv("WRK_STATUS") or "200"
local must = os.getenv("WRK_MUST") or ""
local must_not = os.getenv("WRK_MUST_NOT") or ""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  good = 0
  bad = 0
  sample = ""
end

local function status_ok(status)
  if want == "2xx" then
    return status >= 200 and status < 300
  end
  return status == tonumber(want)
end

function response(status, headers, body)
  if status_ok(status)
    and (must == "" or string.find(body, must, 1, true))
    and (must_not == "" or not string.find(body, must_not, 1, true)) then
    good = good + 1
  else
    bad = bad + 1
    if sample == "" then
      sample = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local g, b, s = 0, 0, ""
  for _, t in ipairs(threads) do
    g = g + t:get("good")
    b = b + t:get("bad")
    if s == "" then
      s = t:get("sample")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "good": %d, "bad": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
      .. '"non_2xx": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, g, b, e.connect, e.read, e.write, e.timeout,
    e.status, latency:percentile(50), latency:percentile(99), latency.max))
  if s ~= "" then
    io.write("BENCH_BAD_SAMPLE " .. string.gsub(s, "\n", " ") .. "\n")
  end
end
