-- pipeline.lua makes wrk pipeline requests to examples/http-server: each
-- write carries PIPELINE_DEPTH requests (default 16), three GET / to every
-- POST /echo, and every response is checked: status 200 and the body its
-- request asks for.
--
--   wrk -t2 -c16 -d3s -s examples/http-server/pipeline.lua http://127.0.0.1:8080
--
-- At the end it prints "pipeline-check: N responses, M bad"; M must be 0.
-- Checking bodies costs wrk some speed; for peak numbers set
-- PIPELINE_CHECK=0.

local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")
local check = os.getenv("PIPELINE_CHECK") ~= "0"
local hello = "Hello, World!"
local echoBody = "evio pipelined echo"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  checked = 0
  bad = 0
  local batch = {}
  for i = 1, depth do
    if i % 4 == 0 then
      batch[i] = wrk.format("POST", "/echo", {}, echoBody)
    else
      batch[i] = wrk.format("GET", "/", {})
    end
  end
  pipelined = table.concat(batch)
end

function request()
  return pipelined
end

if check then
  function response(status, headers, body)
    checked = checked + 1
    if status ~= 200 or (body ~= hello and body ~= echoBody) then
      bad = bad + 1
    end
  end
end

function done(summary, latency, requests)
  if not check then
    return
  end
  local total, wrong = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("checked")
    wrong = wrong + thread:get("bad")
  end
  io.write(string.format("pipeline-check: %d responses, %d bad\n", total, wrong))
end
