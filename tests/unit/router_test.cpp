// The routing decision: which answer a client gets for each sniff result, shared by the gateway and dry-run.
#include "router.hpp"

#include "test_support.hpp"

#include <cstring>

using namespace kiagateway;

namespace {

std::shared_ptr<const route_table> table(bool with_fallback) {
    route_table::builder b;
    b.add({"example.com", {backend_address{"127.0.0.1", 8080, host_kind::ipv4}}});
    if (with_fallback) {
        b.add({"*", {backend_address{"127.0.0.1", 8099, host_kind::ipv4}}});
    }
    return b.build();
}

sniff_result found(std::string name) {
    sniff_result r;
    r.status = sniff_status::found;
    r.name = std::move(name);
    return r;
}

sniff_result with_status(sniff_status s, sniff_error e = sniff_error::none) {
    sniff_result r;
    r.status = s;
    r.error = e;
    return r;
}

} // namespace

TEST_CASE("a known name is routed") {
    const auto routes = table(false);
    const auto d = decide(protocol::http, found("example.com"), *routes);
    CHECK(d.result == outcome::ok);
    REQUIRE(d.matched != nullptr);
    CHECK(d.matched->backends.front().port == 8080);
    CHECK(d.http_status == 0);
}

TEST_CASE("HTTP: unknown name 502, malformed 400, too large 431") {
    CHECK(decide(protocol::http, found("other.org"), *table(false)).http_status == 502);
    CHECK(decide(protocol::http, with_status(sniff_status::no_name), *table(false)).http_status == 502);
    CHECK(
        decide(protocol::http, with_status(sniff_status::invalid, sniff_error::malformed), *table(true)).http_status ==
        400);
    CHECK(decide(protocol::http, with_status(sniff_status::invalid, sniff_error::duplicate_name), *table(true))
              .http_status == 400);
    const auto big = decide(protocol::http, with_status(sniff_status::invalid, sniff_error::too_large), *table(true));
    CHECK(big.http_status == 431);
    CHECK(big.result == outcome::bad_request);
}

TEST_CASE("a valid head without a name goes to the fallback") {
    const auto routes = table(true);
    const auto d = decide(protocol::tls, with_status(sniff_status::no_name), *routes);
    CHECK(d.result == outcome::ok);
    REQUIRE(d.matched != nullptr);
    CHECK(d.matched->rule == "*");
}

TEST_CASE("TLS: unknown name gets an unrecognized_name alert; no SNI and no fallback just closes") {
    const auto unknown = decide(protocol::tls, found("other.org"), *table(false));
    CHECK(unknown.result == outcome::no_route);
    CHECK(unknown.tls_alert);
    const auto nameless = decide(protocol::tls, with_status(sniff_status::no_name), *table(false));
    CHECK(nameless.result == outcome::no_route);
    CHECK_FALSE(nameless.tls_alert);
    const auto garbage =
        decide(protocol::tls, with_status(sniff_status::invalid, sniff_error::malformed), *table(true));
    CHECK(garbage.result == outcome::bad_request);
    CHECK_FALSE(garbage.tls_alert);
}

TEST_CASE("HTTP error answers are well-formed and close the connection") {
    for (int status : {400, 408, 431, 502}) {
        const std::string response = http_error_response(status);
        INFO(response);
        CHECK(response.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0) == 0);
        CHECK(response.find("\r\nConnection: close\r\n") != std::string::npos);
        const auto body_at = response.find("\r\n\r\n") + 4;
        const auto length_at = response.find("Content-Length: ") + 16;
        CHECK(std::stoul(response.substr(length_at)) == response.size() - body_at);
    }
}
