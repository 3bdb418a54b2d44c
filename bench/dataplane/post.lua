-- wrk -s bench/dataplane/post.lua: a POST with a 1 KiB JSON body (issue 19, body13),
-- what a microservice that writes sends. wrk adds the Content-Length.
local items = {}
for i = 1, 23 do items[#items + 1] = string.format('{"id":%d,"sku":"sku-%05d","qty":%d}', i, i * 7, i % 5 + 1) end
local body = '{"order":"ord-0001","customer":"c-42","items":[' .. table.concat(items, ',') .. ']'
body = body .. ',"note":"' .. string.rep('x', 1024 - #body - 11) .. '"}'
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
