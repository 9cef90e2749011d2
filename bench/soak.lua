-- The soak mix: network-mirror metadata and archives, registry-protocol documents, and admin
-- reads (with the bearer token from TOKEN), round-robin per connection.
local token = os.getenv("TOKEN") or ""
local big = os.getenv("BIG_ARCHIVE") or ""
local P = "/registry.terraform.io/hashicorp/small/"
local paths = {
  P .. "index.json",
  P .. "2.0.0.json",
  P .. "terraform-provider-small_2.0.0_linux_amd64.zip",
  P .. "index.json",
  P .. "2.0.0.json",
  "/v1/providers/hashicorp/small/versions",
  "/v1/providers/hashicorp/small/2.0.0/download/linux/amd64",
  P .. "terraform-provider-small_2.0.0_darwin_arm64.zip",
  "/api/v1/providers?per_page=20",
  "/api/v1/jobs",
  P .. "index.json",
  big,
}
local i = 0
request = function()
  i = i + 1
  local p = paths[(i % #paths) + 1]
  if p == "" then p = paths[1] end
  if p:sub(1, 8) == "/api/v1/" then
    return wrk.format("GET", p, { ["Authorization"] = "Bearer " .. token })
  end
  return wrk.format("GET", p)
end
