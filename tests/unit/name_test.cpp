// Unit tests for host-name normalisation and DNS-name validation.
#include "name.hpp"
#include "test_support.hpp"

#include <string>
#include <string_view>

using kiagateway::dns_name_problem;
using kiagateway::is_dns_name;
using kiagateway::normalise_name;
using namespace std::string_literals;

TEST_CASE("normalise_name: ASCII lower case, one trailing dot removed", "[name]") {
    REQUIRE(normalise_name("Example.COM") == "example.com");
    REQUIRE(normalise_name("example.com.") == "example.com");
    REQUIRE(normalise_name("WWW.Example.Com.") == "www.example.com");
    SECTION("only one trailing dot goes") {
        REQUIRE(normalise_name("example.com..") == "example.com.");
        REQUIRE(normalise_name(".") == "");
        REQUIRE(normalise_name("..") == ".");
    }
    SECTION("a leading or inner dot stays") {
        REQUIRE(normalise_name(".example.com") == ".example.com");
        REQUIRE(normalise_name("a..b") == "a..b");
    }
    SECTION("empty stays empty; other bytes are untouched") {
        REQUIRE(normalise_name("") == "");
        REQUIRE(normalise_name("*.Example.com") == "*.example.com");
        REQUIRE(normalise_name("[FE80::1]") == "[fe80::1]");
        // Non-ASCII is not case-folded: only A-Z change.
        REQUIRE(normalise_name("\xc3\x89T\xc3\x89") == "\xc3\x89t\xc3\x89");
        REQUIRE(normalise_name("A\0B"s) == "a\0b"s);
        REQUIRE(normalise_name("@[`{") == "@[`{"); // the neighbours of A-Z and a-z
    }
    SECTION("it is idempotent on a name without a trailing dot") {
        REQUIRE(normalise_name(normalise_name("Mixed.Case.Name.")) == "mixed.case.name");
    }
}

TEST_CASE("dns_name_problem accepts LDH names in A-label form", "[name]") {
    for (std::string_view name : {"a", "example.com", "www.example.com", "xn--bcher-kva.example", "a-b.c-d",
                                  "123.example", "1.2.3.4", "EXAMPLE.com"}) {
        CAPTURE(name);
        REQUIRE(dns_name_problem(name).empty());
        REQUIRE(is_dns_name(name));
    }
    SECTION("a 63-character label and a 253-character name are the limits") {
        const std::string label63(63, 'a');
        REQUIRE(is_dns_name(label63 + ".example"));
        // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253
        const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
        REQUIRE(name253.size() == 253);
        REQUIRE(is_dns_name(name253));
    }
}

TEST_CASE("dns_name_problem says what is wrong", "[name]") {
    REQUIRE(dns_name_problem("") == "the name is empty");
    REQUIRE(dns_name_problem(std::string(254, 'a')) == "the name is longer than 253 characters");
    SECTION("empty labels") {
        for (std::string_view name : {".", "a..b", ".a", "a.", "..", "a.b."}) {
            CAPTURE(name);
            REQUIRE(dns_name_problem(name) == "the name has an empty label");
            REQUIRE_FALSE(is_dns_name(name));
        }
    }
    SECTION("a label longer than 63 characters") {
        const std::string label64(64, 'x');
        REQUIRE(dns_name_problem("a." + label64 + ".b") == "label '" + label64 + "' is longer than 63 characters");
    }
    SECTION("non-ASCII names must be written as A-labels") {
        REQUIRE(dns_name_problem("b\xc3\xbc"
                                 "cher.example") ==
                "the name is not ASCII: write it in A-label (punycode, xn--...) form");
    }
    SECTION("characters outside letters, digits and hyphens") {
        REQUIRE(dns_name_problem("a_b.example") ==
                "character '_' is not allowed in a DNS name (letters, digits, '-' and '.' only)");
        REQUIRE(dns_name_problem("*.example") ==
                "character '*' is not allowed in a DNS name (letters, digits, '-' and '.' only)");
        for (std::string_view name : {"a b", "a:80", "[::1]", "a/b", "a@b"}) {
            CAPTURE(name);
            REQUIRE_FALSE(dns_name_problem(name).empty());
            REQUIRE_FALSE(is_dns_name(name));
        }
    }
    SECTION("a hyphen at either end of a label") {
        REQUIRE(dns_name_problem("-a.example") == "label '-a' starts or ends with '-'");
        REQUIRE(dns_name_problem("a.example-") == "label 'example-' starts or ends with '-'");
        REQUIRE(is_dns_name("a-.b") == false);
        REQUIRE(is_dns_name("a--b.example")); // inner double hyphens are fine (xn--)
    }
}
