// Route lookup: exact beats wildcard, the longest wildcard suffix wins, "*" comes last.
#include "route_table.hpp"

#include "test_support.hpp"

using namespace kiagateway;

namespace {

route make(std::string rule, std::uint16_t port) {
    return {std::move(rule), {backend_address{"127.0.0.1", port, host_kind::ipv4}}};
}

std::uint16_t port_for(const route_table& table, std::string_view name) {
    const route* r = table.find(name);
    return r == nullptr ? 0 : r->backends.front().port;
}

} // namespace

TEST_CASE("exact, wildcard and fallback precedence") {
    route_table::builder b;
    b.add(make("example.com", 1));
    b.add(make("*.example.com", 2));
    b.add(make("*.api.example.com", 3));
    b.add(make("v1.api.example.com", 4));
    b.add(make("*", 9));
    const auto table = b.build();

    CHECK(port_for(*table, "example.com") == 1);
    CHECK(port_for(*table, "www.example.com") == 2);
    CHECK(port_for(*table, "a.b.example.com") == 2);
    CHECK(port_for(*table, "x.api.example.com") == 3);
    CHECK(port_for(*table, "deep.x.api.example.com") == 3);
    CHECK(port_for(*table, "api.example.com") == 2); // "*.api.example.com" needs one more label
    CHECK(port_for(*table, "v1.api.example.com") == 4);
    CHECK(port_for(*table, "example.org") == 9);
    CHECK(port_for(*table, "com") == 9);
    CHECK(port_for(*table, "") == 9);
    CHECK(port_for(*table, "notexample.com") == 9); // a suffix match is on whole labels only

    CHECK(table->exact_count() == 2);
    CHECK(table->wildcard_count() == 2);
    CHECK(table->has_fallback());
    CHECK(table->size() == 5);
    CHECK(table->find("www.example.com")->rule == "*.example.com");
}

TEST_CASE("without a fallback an unknown name has no route") {
    route_table::builder b;
    b.add(make("example.com", 1));
    const auto table = b.build();
    CHECK(table->find("example.org") == nullptr);
    CHECK(table->find("") == nullptr);
    CHECK(table->find("www.example.com") == nullptr);
    CHECK_FALSE(table->has_fallback());
}

TEST_CASE("routes() lists every rule sorted, and the builder starts afresh after build()") {
    route_table::builder b;
    b.add(make("b.example", 1));
    b.add(make("*", 2));
    b.add(make("*.a.example", 3));
    const auto first = b.build();
    std::vector<std::string> rules;
    for (const route* r : first->routes()) {
        rules.push_back(r->rule);
    }
    CHECK(rules == std::vector<std::string>{"*", "*.a.example", "b.example"});
    CHECK(b.build()->empty());
}

TEST_CASE("a 100 000-route table finds every name") {
    route_table::builder b;
    b.reserve(100'000);
    for (int i = 0; i < 100'000; ++i) {
        b.add(make("host" + std::to_string(i) + ".example.com", static_cast<std::uint16_t>(1 + i % 60000)));
    }
    const auto table = b.build();
    REQUIRE(table->exact_count() == 100'000);
    for (int i = 0; i < 100'000; i += 997) {
        CHECK(port_for(*table, "host" + std::to_string(i) + ".example.com") == 1 + i % 60000);
    }
    CHECK(table->find("host100000.example.com") == nullptr);
}
