-- pipeline.lua: wrk sends depth requests in each write (wrk ... -- depth),
-- so that a server answers a batch per read, as in TechEmpower's plaintext
-- test. wrk counts every response.
local depth

function init(args)
  depth = tonumber(args[1]) or 1
  local reqs = {}
  for i = 1, depth do
    reqs[i] = wrk.format()
  end
  batch = table.concat(reqs)
end

function request()
  return batch
end
