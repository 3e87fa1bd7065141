// Backend and listener address parsing: the forms the config accepts, and the errors users see.
#include "address.hpp"

#include "test_support.hpp"

using namespace kiagateway;

namespace {

backend_address backend(std::string_view text) {
    backend_address out;
    std::string error;
    INFO(text);
    REQUIRE(parse_backend_address(text, out, error));
    return out;
}

std::string backend_error(std::string_view text) {
    backend_address out;
    std::string error;
    INFO(text);
    REQUIRE_FALSE(parse_backend_address(text, out, error));
    REQUIRE_FALSE(error.empty());
    return error;
}

} // namespace

TEST_CASE("backend addresses: IPv4, bracketed IPv6 and DNS names, with a port") {
    const auto v4 = backend("10.0.0.1:80");
    CHECK(v4.kind == host_kind::ipv4);
    CHECK(v4.host == "10.0.0.1");
    CHECK(v4.port == 80);
    CHECK(v4.to_string() == "10.0.0.1:80");

    const auto v6 = backend("[2001:DB8::1]:8443");
    CHECK(v6.kind == host_kind::ipv6);
    CHECK(v6.host == "2001:db8::1");
    CHECK(v6.port == 8443);
    CHECK(v6.to_string() == "[2001:db8::1]:8443");

    const auto dns = backend("Backend.Internal.:65535");
    CHECK(dns.kind == host_kind::dns);
    CHECK(dns.host == "backend.internal");
    CHECK(dns.port == 65535);

    CHECK(backend("localhost:1").kind == host_kind::dns);
    CHECK(backend("[::ffff:10.0.0.1]:80").kind == host_kind::ipv6);
}

TEST_CASE("backend addresses: the port is required and must be 1-65535") {
    CHECK_THAT(backend_error("10.0.0.1"), test::contains("port is required"));
    CHECK_THAT(backend_error("example.com"), test::contains("example.com:PORT"));
    CHECK_THAT(backend_error("[::1]"), test::contains("port is required"));
    CHECK_THAT(backend_error("10.0.0.1:0"), test::contains("out of range"));
    CHECK_THAT(backend_error("10.0.0.1:65536"), test::contains("out of range"));
    CHECK_THAT(backend_error("10.0.0.1:99999999999999999999"), test::contains("out of range"));
    CHECK_THAT(backend_error("10.0.0.1:http"), test::contains("not a number"));
    CHECK_THAT(backend_error("10.0.0.1:"), test::contains("empty"));
    CHECK_THAT(backend_error("10.0.0.1:-1"), test::contains("not a number"));
}

TEST_CASE("backend addresses: malformed hosts are named in the error") {
    CHECK_THAT(backend_error("256.0.0.1:80"), test::contains("not a valid IPv4"));
    CHECK_THAT(backend_error("1.2.3:80"), test::contains("not a valid IPv4"));
    CHECK_THAT(backend_error("01.2.3.4:80"), test::contains("not a valid IPv4"));
    CHECK_THAT(backend_error("::1:80"), test::contains("must be in brackets"));
    CHECK_THAT(backend_error("[::g]:80"), test::contains("not a valid IPv6"));
    CHECK_THAT(backend_error("[::1:80"), test::contains("closing ']'"));
    CHECK_THAT(backend_error("[::1]80"), test::contains("port is required"));
    CHECK_THAT(backend_error("under_score.example:80"), test::contains("not a valid DNS name"));
    CHECK_THAT(backend_error("-bad.example:80"), test::contains("starts or ends with '-'"));
    CHECK_THAT(backend_error(":80"), test::contains("empty"));
    CHECK_THAT(backend_error(""), test::contains("empty"));
}

TEST_CASE("IPv6 literal syntax") {
    for (const char* good : {"::", "::1", "1::", "2001:db8::1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::ffff:1.2.3.4",
                             "fe80::1:2", "1:2:3:4:5:6:1.2.3.4"}) {
        INFO(good);
        CHECK(is_ipv6_literal(good));
    }
    for (const char* bad : {"", ":", "1:2", ":::", "1:::2", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9",
                            ":1::", "1::2:", "1.2.3.4", "::1.2.3", "fe80::1%eth0", "g::1"}) {
        INFO(bad);
        CHECK_FALSE(is_ipv6_literal(bad));
    }
}

TEST_CASE("listen addresses take IP literals and allow port 0") {
    listen_address out;
    std::string error;
    REQUIRE(parse_listen_address("0.0.0.0:80", out, error));
    CHECK_FALSE(out.v6);
    CHECK(out.to_string() == "0.0.0.0:80");
    REQUIRE(parse_listen_address("[::]:443", out, error));
    CHECK(out.v6);
    CHECK(out.ip == "::");
    CHECK(out.to_string() == "[::]:443");
    REQUIRE(parse_listen_address("127.0.0.1:0", out, error));
    CHECK(out.port == 0);

    CHECK_FALSE(parse_listen_address("localhost:80", out, error));
    CHECK_THAT(error, test::contains("not an IP address"));
    CHECK_FALSE(parse_listen_address("0.0.0.0", out, error));
    CHECK_THAT(error, test::contains("port is required"));
}
