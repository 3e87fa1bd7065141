// JSON quoting: what reports and logs emit must parse, whatever bytes a name or path holds.
#include "json.hpp"

#include "test_support.hpp"

using kiagateway::json_quote;

TEST_CASE("JSON strings escape quotes, backslashes and control characters") {
    CHECK(json_quote("plain") == "\"plain\"");
    CHECK(json_quote("a\"b") == "\"a\\\"b\"");
    CHECK(json_quote("C:\\ProgramData") == "\"C:\\\\ProgramData\"");
    CHECK(json_quote("line\nnext\ttab\r") == "\"line\\nnext\\ttab\\r\"");
    CHECK(json_quote(std::string_view("\0\x1f\x7f", 3)) == "\"\\u0000\\u001f\\u007f\"");
    CHECK(json_quote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
}
