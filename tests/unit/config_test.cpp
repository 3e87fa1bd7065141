// The config loader: every form the original accepted, every rule of DESIGN §2, every error located.
#include "config.hpp"

#include "test_support.hpp"

using namespace kiagateway;
using namespace std::chrono_literals;
using kiagateway::test::contains;

namespace {

load_result load(std::string_view text) { return load_config_text(text, "t.toml"); }

config load_ok(std::string_view text) {
    auto r = load(text);
    for (const auto& e : r.errors) {
        UNSCOPED_INFO(e.to_text());
    }
    REQUIRE(r.ok());
    return *r.cfg;
}

std::vector<std::string> errors_of(std::string_view text) {
    auto r = load(text);
    REQUIRE_FALSE(r.ok());
    std::vector<std::string> out;
    for (const auto& e : r.errors) {
        out.push_back(e.to_text());
    }
    return out;
}

std::string first_backend(const route_table& t, std::string_view name) {
    const route* r = t.find(name);
    return r == nullptr ? "none" : r->backends.front().to_string();
}

} // namespace

TEST_CASE("v0.1.0 [backends] serves both protocols") {
    const auto cfg = load_ok("[backends]\n\"example.com\" = \"10.0.0.1:80\"\n");
    CHECK(first_backend(*cfg.http, "example.com") == "10.0.0.1:80");
    CHECK(first_backend(*cfg.https, "example.com") == "10.0.0.1:80");
}

TEST_CASE("v0.1.1 per-protocol tables") {
    const auto cfg = load_ok(R"(
[http_backends]
"example.com" = "10.0.0.1:80"
[https_backends]
"example.com" = "10.0.0.1:443"
)");
    CHECK(first_backend(*cfg.http, "example.com") == "10.0.0.1:80");
    CHECK(first_backend(*cfg.https, "example.com") == "10.0.0.1:443");
}

TEST_CASE("both forms: [backends] merges into each protocol, the per-protocol entry wins and is warned about") {
    auto r = load(R"(
[backends]
"shared.example" = "10.0.0.1:1"
"example.com" = "10.0.0.1:2"
[https_backends]
"Example.COM" = "10.0.0.1:3"
)");
    REQUIRE(r.ok());
    const auto& cfg = *r.cfg;
    CHECK(first_backend(*cfg.http, "shared.example") == "10.0.0.1:1");
    CHECK(first_backend(*cfg.https, "shared.example") == "10.0.0.1:1");
    CHECK(first_backend(*cfg.http, "example.com") == "10.0.0.1:2");
    CHECK(first_backend(*cfg.https, "example.com") == "10.0.0.1:3");
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].line == 4);
    CHECK(r.warnings[0].column == 1);
    CHECK_THAT(r.warnings[0].message, contains("shadowed for https by [https_backends] \"Example.COM\" (line 6)"));
}

TEST_CASE("arrays are failover lists, kept in order; wildcards and the fallback load") {
    const auto cfg = load_ok(R"(
[http_backends]
"api.example.com" = ["10.0.0.1:80", "[2001:db8::2]:80", "backend.internal:8080"]
"*.example.com" = "10.0.0.9:80"
"*" = "10.0.0.99:80"
)");
    const route* api = cfg.http->find("api.example.com");
    REQUIRE(api != nullptr);
    REQUIRE(api->backends.size() == 3);
    CHECK(api->backends[1].to_string() == "[2001:db8::2]:80");
    CHECK(api->backends[2].kind == host_kind::dns);
    CHECK(first_backend(*cfg.http, "www.example.com") == "10.0.0.9:80");
    CHECK(first_backend(*cfg.http, "other.org") == "10.0.0.99:80");
    CHECK(cfg.https->empty());
}

TEST_CASE("keys are normalised: case folded, one trailing dot removed") {
    const auto cfg =
        load_ok("[backends]\n\"WWW.Example.COM.\" = \"10.0.0.1:80\"\n\"*.Example.Org\" = \"10.0.0.2:80\"\n");
    CHECK(first_backend(*cfg.http, "www.example.com") == "10.0.0.1:80");
    CHECK(first_backend(*cfg.http, "a.example.org") == "10.0.0.2:80");
    CHECK(cfg.http->find("a.example.org")->rule == "*.example.org");
}

TEST_CASE("[gateway] defaults") {
    const auto cfg = load_ok("[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    const auto& g = cfg.gateway;
    REQUIRE(g.http_listen.size() == 2);
    CHECK(g.http_listen[0].to_string() == "0.0.0.0:80");
    CHECK(g.http_listen[1].to_string() == "[::]:80");
    REQUIRE(g.https_listen.size() == 2);
    CHECK(g.https_listen[0].to_string() == "0.0.0.0:443");
    CHECK(g.https_listen[1].to_string() == "[::]:443");
    CHECK(g.workers == 0);
    CHECK(g.max_connections == 50000);
    CHECK(g.read_timeout == 5s);
    CHECK(g.connect_timeout == 3s);
    CHECK(g.idle_timeout == 300s);
    CHECK(g.drain_timeout == 30s);
    CHECK(g.max_header_bytes == 32768);
    CHECK(g.access_log == "stdout");
    CHECK(g.log_format == log_format::text);
}

TEST_CASE("[gateway] every key") {
    const auto cfg = load_ok(R"(
[gateway]
http_listen = ["127.0.0.1:8080"]
https_listen = []
workers = 4
max_connections = 100
read_timeout = "250ms"
connect_timeout = 2
idle_timeout = "2m"
drain_timeout = "0s"
max_header_bytes = 4096
access_log = "/var/log/kiagateway/access.log"
log_format = "json"
[http_backends]
"a.example" = "10.0.0.1:80"
)");
    const auto& g = cfg.gateway;
    REQUIRE(g.http_listen.size() == 1);
    CHECK(g.http_listen[0].port == 8080);
    CHECK(g.https_listen.empty());
    CHECK(g.workers == 4);
    CHECK(g.max_connections == 100);
    CHECK(g.read_timeout == 250ms);
    CHECK(g.connect_timeout == 2s);
    CHECK(g.idle_timeout == 120s);
    CHECK(g.drain_timeout == 0s);
    CHECK(g.max_header_bytes == 4096);
    CHECK(g.access_log == "/var/log/kiagateway/access.log");
    CHECK(g.log_format == log_format::json);
}

TEST_CASE("errors carry file:line:col and all of them are reported, in file order") {
    const auto errors = errors_of(R"([gateway]
read_timeout = "5x"
workers = -1
colour = "blue"

[http_backends]
"bad key!" = "10.0.0.1:80"
"example.com" = "10.0.0.1"
"ok.example" = ["10.0.0.1:80", 5]
)");
    REQUIRE(errors.size() == 6);
    CHECK_THAT(errors[0], contains("t.toml:2:16: error: [gateway] read_timeout:"));
    CHECK_THAT(errors[0], contains("unknown unit 'x'"));
    CHECK_THAT(errors[1], contains("t.toml:3:11: error: [gateway] workers = -1 is out of range"));
    CHECK_THAT(errors[2], contains("t.toml:4:1: error: unknown key 'colour' in [gateway]"));
    CHECK_THAT(errors[3], contains("t.toml:7:1: error: route key \"bad key!\" is not a valid host name"));
    CHECK_THAT(
        errors[4],
        contains("t.toml:8:17: error: [http_backends] \"example.com\": backend \"10.0.0.1\": a port is required"));
    CHECK_THAT(errors[5], contains("t.toml:9:32: error: [http_backends] \"ok.example\": each backend must be"));
}

TEST_CASE("array elements are located individually") {
    const auto errors = errors_of("[http_backends]\n\"ok.example\" = [\"10.0.0.1:80\", 5, \"x:0\"]\n");
    REQUIRE(errors.size() == 2);
    CHECK_THAT(errors[0], contains("t.toml:2:32: error:"));
    CHECK_THAT(errors[0], contains("each backend must be a \"host:port\" string, not an integer"));
    CHECK_THAT(errors[1], contains("t.toml:2:35: error:"));
    CHECK_THAT(errors[1], contains("out of range"));
}

TEST_CASE("did you mean, for tables and keys") {
    auto errors = errors_of("[http_backend]\n\"a.example\" = \"10.0.0.1:80\"\n");
    REQUIRE(errors.size() == 1); // no echo of "no routes": the typo is the one problem
    CHECK_THAT(errors[0], contains("t.toml:1:1: error: unknown table [http_backend]; did you mean [http_backends]?"));

    errors = errors_of("[gateway]\nread_timout = \"5s\"\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0],
               contains("t.toml:2:1: error: unknown key 'read_timout' in [gateway]; did you mean 'read_timeout'?"));

    errors = errors_of("[zzzzzz]\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], !contains("did you mean"));
}

TEST_CASE("keys that normalise to the same name are an error naming both") {
    const auto errors = errors_of(R"([https_backends]
"example.com" = "10.0.0.1:443"
"EXAMPLE.com." = "10.0.0.2:443"
)");
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], contains("t.toml:3:1: error: [https_backends] \"EXAMPLE.com.\" names the same host as "
                                   "\"example.com\" (line 2)"));
}

TEST_CASE("route keys: wildcard only as a whole first label; A-labels only") {
    auto errors = errors_of("[backends]\n\"foo.*.example\" = \"10.0.0.1:80\"\n\"*example.com\" = \"10.0.0.1:80\"\n");
    REQUIRE(errors.size() == 2);
    CHECK_THAT(errors[0], contains("'*' is allowed only as a whole first label"));
    CHECK_THAT(errors[1], contains("'*' is allowed only as a whole first label"));

    errors = errors_of("[backends]\n\"b\xc3\xbc"
                       "cher.example\" = \"10.0.0.1:80\"\n");
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], contains("A-label (punycode, xn--...) form"));

    errors = errors_of("[backends]\n\"\" = \"10.0.0.1:80\"\n");
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], contains("the name is empty"));

    const auto cfg = load_ok("[backends]\n\"xn--bcher-kva.example\" = \"10.0.0.1:80\"\n");
    CHECK(first_backend(*cfg.http, "xn--bcher-kva.example") == "10.0.0.1:80");
}

TEST_CASE("an unquoted dotted key is caught, with the fix") {
    const auto errors = errors_of("[backends]\nexample.com = \"10.0.0.1:80\"\n");
    REQUIRE(errors.size() >= 1);
    CHECK_THAT(errors[0], contains("a dotted host name must be quoted"));
}

TEST_CASE("value types are checked with the type named") {
    auto errors = errors_of("[backends]\n\"a.example\" = 80\n");
    CHECK_THAT(errors[0], contains("must be a \"host:port\" string or an array of them, not an integer"));
    errors = errors_of("[backends]\n\"a.example\" = []\n");
    CHECK_THAT(errors[0], contains("empty backend list"));
    errors = errors_of("backends = \"x\"\n");
    CHECK_THAT(errors[0], contains("'backends' must be a table ([backends]), not a string"));
    errors = errors_of("[gateway]\nread_timeout = 1.5\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    CHECK_THAT(errors[0], contains("must be a duration like \"5s\""));
    errors = errors_of("[gateway]\nlog_format = \"xml\"\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    CHECK_THAT(errors[0], contains("log_format must be \"text\" or \"json\""));
    errors = errors_of("[gateway]\nhttp_listen = [\"localhost:80\"]\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    CHECK_THAT(errors[0], contains("not an IP address"));
    errors = errors_of(
        "[gateway]\nhttp_listen = [\"0.0.0.0:80\", \"0.0.0.0:80\"]\n[backends]\n\"a.example\" = \"1.1.1.1:80\"\n");
    CHECK_THAT(errors[0], contains("listed twice"));
    errors = errors_of("[gateway]\nread_timeout = \"0s\"\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    CHECK_THAT(errors[0], contains("must be greater than zero"));
    errors = errors_of("[gateway]\nmax_header_bytes = 10\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    CHECK_THAT(errors[0], contains("out of range (1024-1048576)"));
}

TEST_CASE("TOML syntax errors are located and explained on one line") {
    auto errors = errors_of("[backends]\n\"a.example\" = \n");
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], contains("t.toml:2:"));
    CHECK_THAT(errors[0], contains("error: invalid TOML:"));
    CHECK(errors[0].find('\n') == std::string::npos);

    errors = errors_of("[backends]\n\"a.example\" = \"10.0.0.1:80\"\n\"a.example\" = \"10.0.0.2:80\"\n");
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], contains("t.toml:3:"));
}

TEST_CASE("a config without routes is an error; a protocol without routes is a warning") {
    auto errors = errors_of("[gateway]\nworkers = 1\n");
    CHECK_THAT(errors[0], contains("no routes"));
    errors = errors_of("");
    CHECK_THAT(errors[0], contains("no routes"));
    auto r = load("[http_backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    REQUIRE(r.ok());
    REQUIRE(r.warnings.size() == 1);
    CHECK_THAT(r.warnings[0].message, contains("TLS listener is on but no route"));
    r = load("[gateway]\nhttps_listen = []\n[http_backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    REQUIRE(r.ok());
    CHECK(r.warnings.empty());
}

TEST_CASE("Windows files: a UTF-8 BOM and CRLF line ends are fine") {
    const auto cfg = load_ok("\xEF\xBB\xBF[backends]\r\n\"a.example\" = \"10.0.0.1:80\"\r\n");
    CHECK(first_backend(*cfg.https, "a.example") == "10.0.0.1:80");
}

TEST_CASE("missing files and directories are reported, not thrown") {
    auto r = load_config_file("/nonexistent/kiagateway/servers.toml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.errors[0].to_text() == "/nonexistent/kiagateway/servers.toml: error: cannot read the config: no such file");
    r = load_config_file(KG_TEST_DATA_DIR);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.errors[0].message, contains("it is a directory"));
}

TEST_CASE("the fixtures' route file loads") {
    const auto r = load_config_file(kiagateway::test::data_path("routes.toml"));
    REQUIRE(r.ok());
    CHECK(r.cfg->http->size() >= 2);
    CHECK(r.cfg->https->size() >= 5);
}

TEST_CASE("invalid UTF-8 is reported with its place and never reaches toml11") {
    // toml11 3.7 reads past its buffer on these (found by fuzz_config); they must be refused first.
    for (const std::string& text : {std::string("'\xcc' .."), std::string("a = 'x\xe2\x82' ..\n"),
                                    std::string("[backends]\n\"a.example\" = \"10.0.0.1:80\" # caf\xc3\n")}) {
        const auto r = load(text);
        REQUIRE_FALSE(r.ok());
        REQUIRE(r.errors.size() == 1);
        CHECK_THAT(r.errors[0].message, contains("not valid UTF-8"));
    }
    const auto r = load("[backends]\n\"a.example\" = \"10.0.0.1:80\" # caf\xc3\n");
    CHECK(r.errors[0].to_text() == "t.toml:2:34: error: the file is not valid UTF-8 (byte 0xC3): save it as UTF-8, "
                                   "which TOML requires");
    // Valid multi-byte text (in a comment) is fine.
    CHECK(load("[backends] # caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n\"a.example\" = \"10.0.0.1:80\"\n").ok());
    // Overlong forms and surrogates are not UTF-8 either.
    CHECK_FALSE(load("# \xc0\xaf\n").ok());
    CHECK_FALSE(load("# \xed\xa0\x80\n").ok());
}

TEST_CASE("the fast reader and toml11 agree on a CR at the very end of the file") {
    // Found by fuzz_toml_fast: the fast reader took a final lone CR for a line end; toml11 refuses it.
    const auto r = load("[backends]\r\n\"a.example\" = \"10.0.0.1:80\" # comment\r");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.errors[0].message, contains("invalid TOML"));
    CHECK(load("[backends]\r\n\"a.example\" = \"10.0.0.1:80\" # comment\r\n").ok());
}

TEST_CASE("deep nesting is refused before toml11 recurses into it") {
    // toml11 recurses once per level: thousands of '[' overflowed the stack (found by fuzz_config).
    const std::string deep = "[backends]\n\"a.example\" = " + std::string(100000, '[') + "\n";
    const auto r = load(deep);
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 2);
    CHECK(r.errors[0].column == 15 + 32);
    CHECK_THAT(r.errors[0].message, contains("nested more than 32 levels"));
    // Brackets in strings and comments do not count; a normal array of arrays is fine to parse.
    const std::string brackets(100, '[');
    CHECK(load("[backends] # " + brackets + "\n\"a.example\" = \"10.0.0.1:80\"\n").ok());
    CHECK(load("[gateway]\naccess_log = '/tmp/" + brackets + "'\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n").ok());
    CHECK_THAT(load("x = [[[\"a\"]]]\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n").errors.at(0).message,
               contains("unknown top-level key 'x'"));
}

TEST_CASE("[gateway] user and group: optional names, checked for type") {
    auto cfg =
        load_ok("[gateway]\nuser = \"kiagateway\"\ngroup = \"nogroup\"\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    CHECK(cfg.gateway.user == "kiagateway");
    CHECK(cfg.gateway.group == "nogroup");
    cfg = load_ok("[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    CHECK(cfg.gateway.user.empty());
    const auto errors =
        errors_of("[gateway]\nuser = 1000\ngroup = \"\"\n[backends]\n\"a.example\" = \"10.0.0.1:80\"\n");
    REQUIRE(errors.size() == 2);
    CHECK_THAT(errors[0], contains("t.toml:2:8: error: [gateway] user must be a non-empty user name"));
    CHECK_THAT(errors[1], contains("t.toml:3:9: error: [gateway] group must be a non-empty group name"));
}
