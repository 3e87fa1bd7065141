// Unit tests for the HTTP/1.x request-head sniffer and the Host / authority parser.
#include "sniff_http.hpp"
#include "sniff_test_support.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace kiagateway;
using namespace kiagateway::test;
using namespace std::string_literals;

sniff_result sniff(std::string_view text, http_limits limits = {}) { return sniff_http(bytes(text), limits); }

// A request head with the given request line and header lines, CRLF line endings.
std::string head(std::string_view request_line, std::initializer_list<std::string_view> fields) {
    std::string out(request_line);
    out += "\r\n";
    for (std::string_view field : fields) {
        out += field;
        out += "\r\n";
    }
    return out + "\r\n";
}

void require_found(const sniff_result& r, std::string_view name) {
    INFO(describe(r));
    REQUIRE(r.status == sniff_status::found);
    REQUIRE(r.error == sniff_error::none);
    REQUIRE(std::string_view(r.detail).empty());
    REQUIRE(r.name == name);
    REQUIRE(r.alpn.empty());
}

void require_no_name(const sniff_result& r) {
    INFO(describe(r));
    REQUIRE(r.status == sniff_status::no_name);
    REQUIRE(r.error == sniff_error::none);
    REQUIRE(r.name.empty());
}

constexpr const char* not_a_method = "request line does not start with a method token";
constexpr const char* bad_host = "Host header is not a valid host[:port]";

} // namespace

TEST_CASE("http: the Host header names the host", "[http]") {
    SECTION("a minimal request") {
        require_found(sniff("GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"), "www.example.com");
    }
    SECTION("the field name is matched without regard to case; the value is normalised") {
        require_found(sniff(head("GET / HTTP/1.1", {"hOsT: WWW.Example.COM."})), "www.example.com");
    }
    SECTION("the port is stripped, and may be empty") {
        require_found(sniff(head("GET / HTTP/1.1", {"Host: a.example:8080"})), "a.example");
        require_found(sniff(head("GET / HTTP/1.1", {"Host: a.example:"})), "a.example");
    }
    SECTION("optional whitespace around the value is trimmed") {
        require_found(sniff(head("GET / HTTP/1.1", {"Host: \t a.example \t"})), "a.example");
        require_found(sniff(head("GET / HTTP/1.1", {"Host:a.example"})), "a.example");
    }
    SECTION("other fields, with tabs and obs-text in their values, around the Host") {
        require_found(sniff(head("POST /upload?x=1 HTTP/1.1",
                                 {"User-Agent: a\tb \xc3\xa9", "Host: a.example", "X-Empty:", "Accept: */*"})),
                      "a.example");
    }
    SECTION("HTTP/1.0 with a Host") { require_found(sniff(head("GET / HTTP/1.0", {"Host: a.example"})), "a.example"); }
    SECTION("IP literals") {
        require_found(sniff(head("GET / HTTP/1.1", {"Host: [2001:DB8::1]:443"})), "[2001:db8::1]");
        require_found(sniff(head("GET / HTTP/1.1", {"Host: 192.0.2.1:80"})), "192.0.2.1");
    }
    SECTION("fields whose names only resemble Host do not count") {
        for (std::string_view field : {"X-Host: a.example", "Host.: a.example", "Hostname: a.example"}) {
            CAPTURE(field);
            require_invalid(sniff(head("GET / HTTP/1.1", {field})), sniff_error::missing_host,
                            "HTTP/1.1 request has no Host header");
        }
    }
    SECTION("a body after the head is not looked at") {
        require_found(sniff(head("POST / HTTP/1.1", {"Host: a.example", "Content-Length: 6"}) + "\x16\x03\0\n\n\n"s),
                      "a.example");
    }
}

TEST_CASE("http: line endings", "[http]") {
    SECTION("bare LF everywhere") { require_found(sniff("GET / HTTP/1.1\nHost: a.example\n\n"), "a.example"); }
    SECTION("a bare LF empty line after CRLF lines, and a CRLF empty line after LF lines") {
        require_found(sniff("GET / HTTP/1.1\r\nHost: a.example\r\n\n"), "a.example");
        require_found(sniff("GET / HTTP/1.1\nHost: a.example\n\r\n"), "a.example");
    }
    SECTION("no headers at all") {
        require_no_name(sniff("GET / HTTP/1.0\r\n\r\n"));
        require_no_name(sniff("GET / HTTP/1.0\n\n"));
    }
    SECTION("a bare CR is not a line ending") {
        require_invalid(sniff("GET / HTTP/1.1\r\nHost: a.example\rX: b\r\n\r\n"), sniff_error::malformed,
                        "header field value has a control character");
        require_invalid(sniff("GET / HTTP/1.1\r\r\nHost: a.example\r\n\r\n"), sniff_error::malformed,
                        "HTTP version is not HTTP/1.0 or HTTP/1.1");
        REQUIRE(sniff("GET / HTTP/1.1\r\nHost: a.example\r\n\r").status == sniff_status::need_more);
    }
}

TEST_CASE("http: up to two empty lines before the request line are ignored", "[http]") {
    for (std::string_view lead : {"\r\n", "\r\n\r\n", "\n", "\n\r\n"}) {
        CAPTURE(lead);
        require_found(sniff(std::string(lead) + head("GET / HTTP/1.1", {"Host: a.example"})), "a.example");
    }
    SECTION("a third one is refused as soon as it ends") {
        REQUIRE(sniff("\r\n\r\n\r").status == sniff_status::need_more);
        require_invalid(sniff("\r\n\r\n\r\n"), sniff_error::malformed,
                        "more than two empty lines before the request line");
        require_invalid(sniff("\n\n\n"), sniff_error::malformed, "more than two empty lines before the request line");
    }
    SECTION("a CR that does not start a CRLF") {
        require_invalid(sniff("\rGET"), sniff_error::malformed, not_a_method);
    }
}

TEST_CASE("http: the request line is judged as soon as it is seen", "[http]") {
    SECTION("bytes that cannot start a method fail on the first byte") {
        for (const std::string& first : {"\x16"s, "\x80"s, "\0"s, " "s, "\t"s, "@"s, "("s, "\x7f"s}) {
            CAPTURE(first);
            require_invalid(sniff(first), sniff_error::malformed, not_a_method);
        }
        // A TLS ClientHello sent to the HTTP port.
        require_invalid(sniff("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s), sniff_error::malformed, not_a_method);
    }
    SECTION("a good request line waits for the headers") {
        REQUIRE(sniff("G").status == sniff_status::need_more);
        REQUIRE(sniff("GET / HTTP/1.1").status == sniff_status::need_more);
        REQUIRE(sniff("GET / HTTP/1.1\r\n").status == sniff_status::need_more);
        REQUIRE(sniff("GET / HTTP/1.1\r\nHost: a.example\r\n").status == sniff_status::need_more);
    }
    SECTION("a bad request line fails when its line ends, before any header") {
        struct bad_line {
            std::string line;
            const char* detail;
        };
        const std::vector<bad_line> lines = {
            {"GET  / HTTP/1.1", "request target is missing or after more than one space"},
            {"GET", "request method is not a token followed by one space"},
            {"GET\t/ HTTP/1.1", "request method is not a token followed by one space"},
            {"GE@T / HTTP/1.1", "request method is not a token followed by one space"},
            {"GET /", "request line has no HTTP version"},
            {"GET /a\tb HTTP/1.1", "request target has whitespace or a control character"},
            {"GET /a\0b HTTP/1.1"s, "request target has whitespace or a control character"},
            {"GET /\x7f HTTP/1.1", "request target has whitespace or a control character"},
            {"GET / ", "HTTP version is not HTTP/1.0 or HTTP/1.1"},
            {"GET / HTTP/1.1 ", "HTTP version is not HTTP/1.0 or HTTP/1.1"},
            {"GET / HTTP/1.1  ", "HTTP version is not HTTP/1.0 or HTTP/1.1"},
            {"GET / HTTP/1.2", "HTTP version is not HTTP/1.0 or HTTP/1.1"},
            {"GET / HTTP/2.0", "HTTP version is not HTTP/1.0 or HTTP/1.1"},
            {"GET / HTTP/1.10", "HTTP version is not HTTP/1.0 or HTTP/1.1"},
            {"GET / http/1.1", "HTTP version is not HTTP/1.0 or HTTP/1.1"},
            {"GET /a b HTTP/1.1", "HTTP version is not HTTP/1.0 or HTTP/1.1"},
            {"PRI / HTTP/2.0", "HTTP version is not HTTP/1.0 or HTTP/1.1"},
        };
        for (const bad_line& bad : lines) {
            CAPTURE(bad.line);
            require_invalid(sniff(bad.line + "\r\n"), sniff_error::malformed, bad.detail);
            require_invalid(sniff(bad.line + "\n"), sniff_error::malformed, bad.detail);
        }
    }
    SECTION("methods are any token") {
        require_found(sniff(head("M-SEARCH * HTTP/1.1", {"Host: a.example"})), "a.example");
        require_found(sniff(head("CONNECT a.example:443 HTTP/1.1", {"Host: a.example:443"})), "a.example");
    }
}

TEST_CASE("http: the HTTP/2 prior-knowledge preface names no host", "[http]") {
    REQUIRE(sniff("PRI * HTTP/2.0").status == sniff_status::need_more);
    require_no_name(sniff("PRI * HTTP/2.0\r\n"));
    require_no_name(sniff("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
}

TEST_CASE("http: header field syntax", "[http]") {
    const auto with_field = [](std::string_view field) {
        return sniff(head("GET / HTTP/1.1", {"Host: a.example", field}));
    };
    SECTION("whitespace between the field name and the colon") {
        require_invalid(with_field("Accept : */*"), sniff_error::malformed,
                        "whitespace between header field name and colon");
        require_invalid(with_field("Accept\t: */*"), sniff_error::malformed,
                        "whitespace between header field name and colon");
        require_invalid(sniff(head("GET / HTTP/1.1", {"Host : a.example"})), sniff_error::malformed,
                        "whitespace between header field name and colon");
    }
    SECTION("obsolete line folding") {
        require_invalid(with_field("X-Long: a\r\n b"), sniff_error::malformed,
                        "header line starts with whitespace (obsolete line folding)");
        require_invalid(with_field("X-Long: a\r\n\tb"), sniff_error::malformed,
                        "header line starts with whitespace (obsolete line folding)");
        require_invalid(sniff(head("GET / HTTP/1.1", {" Host: a.example"})), sniff_error::malformed,
                        "header line starts with whitespace (obsolete line folding)");
    }
    SECTION("control characters in a value") {
        for (const std::string& value : {"a\0b"s, "a\rb"s, "\x01"s, "a\x7f"s, "\x1b[0m"s}) {
            CAPTURE(value);
            require_invalid(with_field("X-Value: " + value), sniff_error::malformed,
                            "header field value has a control character");
        }
        require_invalid(sniff(head("GET / HTTP/1.1", {"Host: a.example\0"s})), sniff_error::malformed,
                        "header field value has a control character");
    }
    SECTION("field names") {
        require_invalid(with_field(": a"), sniff_error::malformed, "header field name is empty");
        require_invalid(with_field("X(Y): a"), sniff_error::malformed, "header field name is not a token");
        require_invalid(with_field("X\x80: a"), sniff_error::malformed, "header field name is not a token");
        require_invalid(with_field("NoColon"), sniff_error::malformed, "header line has no colon");
        require_found(with_field("!#$%&'*+-.^_`|~09azAZ: a"), "a.example");
    }
}

TEST_CASE("http: Host header values", "[http]") {
    SECTION("two Host headers") {
        require_invalid(sniff(head("GET / HTTP/1.1", {"Host: a.example", "Host: a.example"})),
                        sniff_error::duplicate_name, "more than one Host header");
        require_invalid(sniff(head("GET / HTTP/1.1", {"Host: a.example", "X: y", "HOST: b.example"})),
                        sniff_error::duplicate_name, "more than one Host header");
        require_invalid(sniff(head("GET http://a.example/ HTTP/1.1", {"Host:", "Host:"})), sniff_error::duplicate_name,
                        "more than one Host header");
    }
    SECTION("an empty Host names no host") {
        require_no_name(sniff(head("GET / HTTP/1.1", {"Host:"})));
        require_no_name(sniff(head("GET / HTTP/1.1", {"Host: \t "})));
    }
    SECTION("values that are not host[:port]") {
        for (std::string_view value :
             {"exa mple.com", "a.example:80x", "a.example:-1", "a.example:80:80", "user@a.example", "a/b", "a\\b",
              "a%2", "a%zz.example", ":80", ".", "[::1", "[::g]", "[]", "[1.2.3.4]", "[::1]x", "[::1]:8x",
              "[fe80::1%25eth0]", "\xc3\xa9.example"}) {
            CAPTURE(value);
            require_invalid(sniff(head("GET / HTTP/1.1", {"Host: " + std::string(value)})), sniff_error::bad_name,
                            bad_host);
        }
    }
}

TEST_CASE("http: absolute-form request targets", "[http]") {
    SECTION("the target's authority wins over Host") {
        require_found(sniff(head("GET http://Target.Example:8080/path?q HTTP/1.1", {"Host: other.example"})),
                      "target.example");
        require_found(sniff(head("GET HTTPS://a.example/ HTTP/1.1", {"Host: b.example"})), "a.example");
        require_found(sniff(head("GET hTTp://[::1]:80/ HTTP/1.1", {"Host: b.example"})), "[::1]");
    }
    SECTION("the authority ends at '/', '?', '#' or the end of the target") {
        for (std::string_view target :
             {"http://a.example", "http://a.example?x=/", "http://a.example#f", "http://a.example:81/"}) {
            CAPTURE(target);
            require_found(sniff(head("GET " + std::string(target) + " HTTP/1.1", {"Host: b.example"})), "a.example");
        }
    }
    SECTION("an empty Host does not hide the target") {
        require_found(sniff(head("GET http://a.example/ HTTP/1.1", {"Host:"})), "a.example");
    }
    SECTION("userinfo is refused with the request line") {
        require_invalid(sniff("GET http://user:pw@a.example/ HTTP/1.1\r\n"), sniff_error::bad_name,
                        "request target has userinfo");
        require_invalid(sniff("GET http://@a.example/ HTTP/1.1\r\n"), sniff_error::bad_name,
                        "request target has userinfo");
    }
    SECTION("an authority that is not host[:port]") {
        for (std::string_view target : {"http:///path", "http://", "https://:443/", "http://a_b$:x/"}) {
            CAPTURE(target);
            require_invalid(sniff("GET " + std::string(target) + " HTTP/1.1\r\n"), sniff_error::bad_name,
                            "request target has no valid host[:port]");
        }
    }
    SECTION("HTTP/1.1 still needs a Host header; HTTP/1.0 does not") {
        require_invalid(sniff(head("GET http://a.example/ HTTP/1.1", {})), sniff_error::missing_host,
                        "HTTP/1.1 request has no Host header");
        require_found(sniff(head("GET http://a.example/ HTTP/1.0", {})), "a.example");
    }
    SECTION("a bad Host header is refused even when the target names the host") {
        require_invalid(sniff(head("GET http://a.example/ HTTP/1.1", {"Host: a b"})), sniff_error::bad_name, bad_host);
    }
    SECTION("other schemes are not absolute-form for us: the Host header decides") {
        require_found(sniff(head("GET ftp://a.example/ HTTP/1.1", {"Host: b.example"})), "b.example");
        require_found(sniff(head("GET /http://a.example/ HTTP/1.1", {"Host: b.example"})), "b.example");
    }
}

TEST_CASE("http: requests without a Host header", "[http]") {
    require_invalid(sniff(head("GET / HTTP/1.1", {"Accept: */*"})), sniff_error::missing_host,
                    "HTTP/1.1 request has no Host header");
    require_no_name(sniff(head("GET / HTTP/1.0", {"Accept: */*"})));
}

TEST_CASE("http: the byte limit", "[http]") {
    const std::string request = head("GET / HTTP/1.1", {"Host: a.example", "Cookie: " + std::string(200, 'c')});
    const http_limits exact{.max_bytes = request.size()};
    SECTION("a head that ends exactly at the limit is found, whatever follows it") {
        require_found(sniff(request, exact), "a.example");
        require_found(sniff(request + std::string(100, 'x'), exact), "a.example");
    }
    SECTION("one byte over the limit without the end of the head is too large") {
        const http_limits short_limit{.max_bytes = request.size() - 1};
        REQUIRE(sniff(request.substr(0, request.size() - 1), short_limit).status == sniff_status::need_more);
        require_invalid(sniff(request, short_limit), sniff_error::too_large,
                        "request head is not complete within the byte limit");
    }
    SECTION("the default limit is 32 KiB") {
        const std::string big = head("GET / HTTP/1.1", {"Host: a.example", "Cookie: " + std::string(33000, 'c')});
        REQUIRE(sniff(big.substr(0, 32768)).status == sniff_status::need_more);
        require_invalid(sniff(big), sniff_error::too_large, "request head is not complete within the byte limit");
    }
    SECTION("a request line that never ends") {
        const std::string line = "GET /" + std::string(40000, 'a');
        REQUIRE(sniff(line.substr(0, 32768)).status == sniff_status::need_more);
        REQUIRE(sniff(line).error == sniff_error::too_large);
    }
}

TEST_CASE("http: a verdict is returned again on later calls", "[http]") {
    http_sniffer sniffer;
    const std::string good = head("GET / HTTP/1.1", {"Host: a.example"});
    REQUIRE(sniffer.parse(bytes(good)).name == "a.example");
    const sniff_result again = sniffer.parse(bytes(good + "garbage\0\r\n"s));
    require_found(again, "a.example");

    http_sniffer bad;
    REQUIRE(bad.parse(bytes("\x16")).status == sniff_status::invalid);
    const sniff_result still = bad.parse(bytes(good));
    require_invalid(still, sniff_error::malformed, not_a_method);
}

TEST_CASE("http: parse_host_authority", "[http]") {
    std::string name = "unchanged";
    SECTION("valid forms") {
        struct good_case {
            std::string_view authority;
            std::string_view name;
        };
        for (const good_case& c :
             {good_case{"a.example", "a.example"}, good_case{"A.Example.:443", "a.example"},
              good_case{"a.example:", "a.example"}, good_case{"[::1]", "[::1]"},
              good_case{"[FE80::A:1]:8443", "[fe80::a:1]"}, good_case{"[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]"},
              good_case{"a%2Fb.example", "a%2fb.example"},
              good_case{"x_y~z-1!$&'()*+,;=.example", "x_y~z-1!$&'()*+,;=.example"},
              good_case{"example.com..", "example.com."}, good_case{"0", "0"}}) {
            CAPTURE(c.authority);
            REQUIRE(parse_host_authority(c.authority, name));
            REQUIRE(name == c.name);
        }
    }
    SECTION("invalid forms leave the name alone") {
        for (std::string_view authority :
             {"",       ":",      ":443",    ".",      ".:80", "a b", "a@b", "a:b",
              "a:1:2",  "a%",     "a%4",     "a%g0",   "[",    "[]",  "[:]", "[::1",
              "[::1]]", "[v1.x]", "[::1]:a", "[::1]1", "a/b",  "a?b", "a#b", "[::1%25lo]"}) {
            CAPTURE(authority);
            REQUIRE_FALSE(parse_host_authority(authority, name));
            REQUIRE(name == "unchanged");
        }
    }
}

TEST_CASE("http: hand-built heads give the same verdict however they are split", "[http][split]") {
    struct input {
        const char* what;
        std::string text;
        sniff_status status;
        bool complete_at_end;
    };
    const std::vector<input> inputs = {
        {"CRLF", head("GET / HTTP/1.1", {"Host: a.example", "Accept: */*"}), sniff_status::found, true},
        {"bare LF", "GET / HTTP/1.1\nHost: a.example\n\n", sniff_status::found, true},
        {"LF then CRLF", "GET / HTTP/1.1\nHost: a.example\n\r\n", sniff_status::found, true},
        {"leading empty lines", "\r\n\n" + head("GET / HTTP/1.1", {"Host: a.example"}), sniff_status::found, true},
        {"absolute form", head("GET http://a.example/x HTTP/1.0", {}), sniff_status::found, true},
        {"empty Host", head("GET / HTTP/1.1", {"Host:"}), sniff_status::no_name, true},
        {"no headers", "GET / HTTP/1.0\r\n\r\n", sniff_status::no_name, true},
        {"missing Host", head("GET / HTTP/1.1", {"Accept: */*"}), sniff_status::invalid, true},
        {"bad header at the end", head("GET / HTTP/1.1", {"Host: a.example", "X : y"}), sniff_status::invalid, true},
        {"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", sniff_status::no_name, false},
        {"bad version", head("GET / HTTP/3", {"Host: a.example"}), sniff_status::invalid, false},
        {"three empty lines", "\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", sniff_status::invalid, false},
        {"TLS to the HTTP port", "\x16\x03\x01\x00\x05hello"s, sniff_status::invalid, false},
    };
    for (const input& in : inputs) {
        SECTION(in.what) {
            const split_outcome out = check_splits<http_sniffer>(bytes(in.text), http_limits{});
            REQUIRE(out.result.status == in.status);
            REQUIRE((out.complete_at == in.text.size()) == in.complete_at_end);
        }
    }
    SECTION("a 20000-byte head") {
        const std::string text = head("GET / HTTP/1.1", {"X-Pad: " + std::string(20000, 'p'), "Host: a.example"});
        const split_outcome out = check_splits<http_sniffer>(bytes(text), http_limits{}, 11);
        REQUIRE(out.result.name == "a.example");
        REQUIRE(out.complete_at == text.size());
    }
    SECTION("a head over a small limit") {
        const std::string text = head("GET / HTTP/1.1", {"Host: a.example", "X-Pad: " + std::string(600, 'p')});
        const split_outcome out = check_splits<http_sniffer>(bytes(text), http_limits{.max_bytes = 512});
        REQUIRE(out.result.error == sniff_error::too_large);
        REQUIRE(out.complete_at == 513);
    }
}

TEST_CASE("http: captured request heads, split at every byte", "[http][split][fixtures]") {
    REQUIRE(check_fixtures<http_sniffer>("http", http_limits{}) >= 1);
}
