-- wrk: a random provider's {version}.json out of the catalogue make_catalog.py wrote.
local providers = tonumber(os.getenv("PROVIDERS") or "1000")
local versions = tonumber(os.getenv("VERSIONS") or "10")
math.randomseed(os.time())
request = function()
  local p = math.random(0, providers - 1)
  local v = math.random(0, versions - 1)
  return wrk.format("GET", "/registry.terraform.io/bench/p" .. p .. "/1.0." .. v .. ".json")
end
