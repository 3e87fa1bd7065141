// Durations: the units the config accepts and the messages for the ones it does not.
#include "duration.hpp"

#include "test_support.hpp"

using namespace kiagateway;
using namespace std::chrono_literals;

TEST_CASE("durations with units") {
    duration d{};
    std::string error;
    REQUIRE(parse_duration("250ms", d, error));
    CHECK(d == 250ms);
    REQUIRE(parse_duration("5s", d, error));
    CHECK(d == 5s);
    REQUIRE(parse_duration("2m", d, error));
    CHECK(d == 2min);
    REQUIRE(parse_duration("1h", d, error));
    CHECK(d == 1h);
    REQUIRE(parse_duration("0s", d, error));
    CHECK(d == 0ms);
    REQUIRE(parse_duration("168h", d, error));
}

TEST_CASE("bad durations are explained") {
    duration d{};
    std::string error;
    CHECK_FALSE(parse_duration("5", d, error));
    CHECK_THAT(error, test::contains("no unit"));
    CHECK_FALSE(parse_duration("5x", d, error));
    CHECK_THAT(error, test::contains("unknown unit 'x'"));
    CHECK_FALSE(parse_duration("s", d, error));
    CHECK_THAT(error, test::contains("not a duration"));
    CHECK_FALSE(parse_duration("1.5s", d, error));
    CHECK_FALSE(parse_duration("-1s", d, error));
    CHECK_FALSE(parse_duration("", d, error));
    CHECK_FALSE(parse_duration("169h", d, error));
    CHECK_THAT(error, test::contains("too long"));
    CHECK_FALSE(parse_duration("99999999999999999999999s", d, error));
    CHECK_THAT(error, test::contains("too long"));
}

TEST_CASE("durations format back to their shortest exact form") {
    CHECK(format_duration(5s) == "5s");
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(300s) == "5m");
    CHECK(format_duration(2h) == "2h");
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(1500ms) == "1500ms");
}
