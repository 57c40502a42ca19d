-- wrk request shaping for scripts/bench.sh, from the environment: WRK_METHOD, WRK_BODY_FILE,
-- WRK_CONTENT_TYPE, WRK_COOKIE (each optional).
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body_file = os.getenv("WRK_BODY_FILE")
if body_file and body_file ~= "" then
    local f = assert(io.open(body_file, "rb"))
    wrk.body = f:read("*a")
    f:close()
end
local content_type = os.getenv("WRK_CONTENT_TYPE")
if content_type and content_type ~= "" then
    wrk.headers["Content-Type"] = content_type
end
local cookie = os.getenv("WRK_COOKIE")
if cookie and cookie ~= "" then
    wrk.headers["Cookie"] = cookie
end
