// Log formats: the timestamp, and access-log lines in text and JSON as operators' tools parse them.
#include "log.hpp"

#include "test_support.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace kiagateway;
using kiagateway::test::contains;

namespace {

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

access_record sample() {
    using namespace std::chrono;
    access_record r;
    r.start = sys_days{year{2026} / 11 / 27} + hours{12} + minutes{3} + seconds{4} + milliseconds{5};
    r.id = 42;
    r.client = "[::1]:50000";
    r.listener = "127.0.0.1:8080";
    r.proto = protocol::tls;
    r.name = "a\"b.example"; // never valid, but JSON must survive anything
    r.bytes_up = 517;
    r.bytes_down = 7;
    r.duration = milliseconds{3};
    r.result = outcome::no_route;
    return r;
}

} // namespace

TEST_CASE("timestamps are ISO 8601 UTC with milliseconds") {
    using namespace std::chrono;
    CHECK(format_time(sys_days{year{2026} / 11 / 27} + hours{12} + minutes{3} + seconds{4} + milliseconds{5}) ==
          "2026-11-27T12:03:04.005Z");
    CHECK(format_time(sys_days{year{1970} / 1 / 1}) == "1970-01-01T00:00:00.000Z");
    CHECK(format_time(sys_days{year{2024} / 2 / 29} + hours{23} + minutes{59} + seconds{59} + milliseconds{999}) ==
          "2024-02-29T23:59:59.999Z");
}

TEST_CASE("access log lines, text and JSON, to a file") {
    const auto path = std::filesystem::temp_directory_path() / "kiagateway-log-test.log";
    std::filesystem::remove(path);
    {
        access_log text(path.string(), log_format::text);
        REQUIRE(text.enabled());
        text.write(sample());
    }
    {
        access_log json(path.string(), log_format::json); // appends
        json.write(sample());
    }
    const std::string written = read_text(path);
    const auto newline = written.find('\n');
    REQUIRE(newline != std::string::npos);
    CHECK(written.substr(0, newline) ==
          "2026-11-27T12:03:04.005Z id=42 client=[::1]:50000 listener=127.0.0.1:8080 proto=tls name=a\"b.example "
          "rule=- backend=- up=517 down=7 ms=3 outcome=no_route");
    CHECK(written.substr(newline + 1) ==
          "{\"time\":\"2026-11-27T12:03:04.005Z\",\"id\":42,\"client\":\"[::1]:50000\",\"listener\":\"127.0.0.1:8080\","
          "\"protocol\":\"tls\",\"name\":\"a\\\"b.example\",\"rule\":null,\"backend\":null,\"bytes_up\":517,"
          "\"bytes_down\":7,\"duration_ms\":3,\"outcome\":\"no_route\"}\n");
    std::filesystem::remove(path);
}

TEST_CASE("an access log that cannot be opened is an error naming the file; off writes nothing") {
    CHECK_THROWS_WITH(access_log("/nonexistent-dir/access.log", log_format::text),
                      contains("cannot open the access log /nonexistent-dir/access.log"));
    access_log off("off", log_format::text);
    CHECK_FALSE(off.enabled());
    off.write(sample()); // no effect, no crash
}
