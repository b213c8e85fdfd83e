-- wrk script shared by every arm and query.
--
-- Environment (set by bench/harness.py for each run):
--   BENCH_BODY_FILE   the request body (JSON) to POST
--   BENCH_AUTH        optional "Bearer <token>"
--   BENCH_TASKS_FILE  optional (mutations): one "<task global id> <task row id> <group row id>"
--                     per line; the body's __TASK__, __TASKROW__, __GROUPROW__ are replaced by
--                     the next task, round robin, and __KEY__ by a key unique to this run,
--                     thread and request (so every report is new, never an idempotent replay)
--   BENCH_KEY_PREFIX  unique per run (arm, round, time)
--
-- Every response is checked: a non-200 status, or a 200 whose body carries "errors" or no
-- "data", is counted as a failure. done() prints one machine-readable line:
--   BENCH_RESULT {"requests":…, "non200":…, "error_bodies":…, "sample":"…", …}

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local body_template, tasks, counter, prefix

function init(args)
  body_template = read_file(os.getenv("BENCH_BODY_FILE"))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  local auth = os.getenv("BENCH_AUTH")
  if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
  wrk.body = body_template
  tasks = {}
  local tf = os.getenv("BENCH_TASKS_FILE")
  if tf and tf ~= "" then
    for line in io.lines(tf) do
      local gid, row, grp = line:match("^(%S+)%s+(%S+)%s+(%S+)")
      if gid then table.insert(tasks, { gid, row, grp }) end
    end
  end
  prefix = (os.getenv("BENCH_KEY_PREFIX") or "bench") .. "-t" .. tostring(tid)
  counter = 0
  non200 = 0
  error_bodies = 0
  responses = 0
  sample = ""
end

function request()
  if #tasks == 0 then
    return wrk.format()
  end
  counter = counter + 1
  local t = tasks[(counter % #tasks) + 1]
  local body = body_template
    :gsub("__KEY__", prefix .. "-" .. counter)
    :gsub("__TASKROW__", t[2])
    :gsub("__GROUPROW__", t[3])
    :gsub("__TASK__", t[1])
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  responses = responses + 1
  local bad = false
  if status ~= 200 then
    non200 = non200 + 1
    bad = true
  elseif body:find('"errors"%s*:') or not body:find('"data"%s*:') then
    error_bodies = error_bodies + 1
    bad = true
  end
  if bad and sample == "" then
    sample = tostring(status) .. " " .. body:sub(1, 300)
  end
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local n200, nerr, nresp, first_bad = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    n200 = n200 + t:get("non200")
    nerr = nerr + t:get("error_bodies")
    nresp = nresp + t:get("responses")
    local s = t:get("sample")
    if first_bad == "" and s ~= nil and s ~= "" then first_bad = s end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"responses":%d,"duration_us":%d,"non200":%d,"error_bodies":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"sample":%s}\n',
    summary.requests, nresp, summary.duration, n200, nerr,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0), latency.max,
    json_string(first_bad)))
end
