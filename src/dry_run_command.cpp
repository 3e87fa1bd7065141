// `kiagateway dry-run-route`: the live sniffers and route table, run on names or captured bytes.
#include "commands.hpp"

#include "config.hpp"
#include "json.hpp"
#include "name.hpp"
#include "router.hpp"
#include "sniff_http.hpp"
#include "sniff_tls.hpp"

#include <fstream>
#include <iterator>
#include <ostream>

namespace kiagateway {

namespace {

const char* flag_of(dry_run_query::kind k) {
    switch (k) {
    case dry_run_query::kind::host:
        return "--host";
    case dry_run_query::kind::sni:
        return "--sni";
    case dry_run_query::kind::http_request:
        return "--http-request";
    case dry_run_query::kind::tls_client_hello:
        return "--tls-client-hello";
    }
    return "";
}

struct answer {
    protocol proto = protocol::http;
    sniff_result sniffed;
    routing_decision decision;
    std::string problem; // input that could not be read or sniffed: the query failed
    std::string expected;
    bool expectation_met = true;
};

bool read_capture(const std::string& path, std::vector<std::uint8_t>& bytes, std::string& problem) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        problem = "cannot read " + path;
        return false;
    }
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

answer run_query(const dry_run_query& q, const config& cfg) {
    answer a;
    a.proto = (q.what == dry_run_query::kind::host || q.what == dry_run_query::kind::http_request) ? protocol::http
                                                                                                   : protocol::tls;
    switch (q.what) {
    case dry_run_query::kind::host:
        // The same parsing a Host header gets: "Example.com:8080" names example.com.
        if (!parse_host_authority(q.value, a.sniffed.name)) {
            a.problem = "\"" + q.value + "\" is not a valid host[:port]";
            return a;
        }
        a.sniffed.status = sniff_status::found;
        break;
    case dry_run_query::kind::sni:
        a.sniffed.name = normalise_name(q.value);
        a.sniffed.status = a.sniffed.name.empty() ? sniff_status::no_name : sniff_status::found;
        break;
    case dry_run_query::kind::http_request:
    case dry_run_query::kind::tls_client_hello: {
        std::vector<std::uint8_t> bytes;
        if (!read_capture(q.value, bytes, a.problem)) {
            return a;
        }
        if (a.proto == protocol::http) {
            a.sniffed = sniff_http(bytes, http_limits{cfg.gateway.max_header_bytes});
        } else {
            a.sniffed = sniff_tls(bytes, tls_limits{cfg.gateway.max_header_bytes});
        }
        if (a.sniffed.status == sniff_status::need_more) {
            a.problem = a.proto == protocol::http
                            ? q.value + ": incomplete request head (no empty line ends it)"
                            : q.value + ": incomplete ClientHello (the file ends before the message does)";
            return a;
        }
        break;
    }
    }
    a.decision = decide(a.proto, a.sniffed, a.proto == protocol::http ? *cfg.http : *cfg.https);
    return a;
}

std::string backends_list(const route& r, const char* separator) {
    std::string out;
    for (const auto& b : r.backends) {
        out += (out.empty() ? "" : separator) + b.to_string();
    }
    return out;
}

// An expectation names the first backend, the whole list ("a:1,b:2"), or "none" for no route.
bool meets(const answer& a, const std::string& expected) {
    if (!a.problem.empty()) {
        return false;
    }
    if (a.decision.matched == nullptr) {
        return expected == "none";
    }
    const route& r = *a.decision.matched;
    // "LOCALHOST:80" and "localhost:80" are the same backend.
    std::string normalised = expected;
    backend_address parsed;
    if (std::string ignored; parse_backend_address(expected, parsed, ignored)) {
        normalised = parsed.to_string();
    }
    return normalised == r.backends.front().to_string() || expected == backends_list(r, ",");
}

std::string what_client_gets(const answer& a) {
    if (a.decision.result == outcome::ok) {
        return "routed";
    }
    if (a.proto == protocol::http) {
        return "HTTP " + std::to_string(a.decision.http_status);
    }
    return a.decision.tls_alert ? "TLS alert unrecognized_name, then close" : "close";
}

void write_text(std::ostream& out, const dry_run_query& q, const answer& a) {
    out << flag_of(q.what) << ' ' << q.value << ": " << to_string(a.proto);
    if (!a.problem.empty()) {
        out << " error: " << a.problem << '\n';
        return;
    }
    if (a.sniffed.status == sniff_status::invalid) {
        out << " invalid (" << a.sniffed.detail << ") -> " << what_client_gets(a);
    } else {
        out << " name=" << (a.sniffed.status == sniff_status::found ? a.sniffed.name : std::string("(none)"));
        if (!a.sniffed.alpn.empty()) {
            std::string alpn;
            for (const auto& p : a.sniffed.alpn) {
                alpn += (alpn.empty() ? "" : ",") + p;
            }
            out << " alpn=" << alpn;
        }
        if (a.decision.matched != nullptr) {
            out << " rule=" << a.decision.matched->rule << " backends=" << backends_list(*a.decision.matched, ",");
        } else {
            out << " no route -> " << what_client_gets(a);
        }
    }
    if (!a.expected.empty()) {
        out << (a.expectation_met ? " (as expected)" : " MISMATCH: expected " + a.expected);
    }
    out << '\n';
}

void write_json(std::ostream& out, const dry_run_query& q, const answer& a) {
    static constexpr const char* kinds[] = {"host", "sni", "http_request", "tls_client_hello"};
    out << "{\"query\":{\"kind\":" << json_quote(kinds[static_cast<int>(q.what)])
        << ",\"value\":" << json_quote(q.value) << "},\"protocol\":" << json_quote(to_string(a.proto));
    if (!a.problem.empty()) {
        out << ",\"error\":" << json_quote(a.problem);
    } else {
        out << ",\"status\":" << json_quote(to_string(a.sniffed.status));
        if (a.sniffed.status == sniff_status::invalid) {
            out << ",\"invalid\":" << json_quote(a.sniffed.detail);
        }
        out << ",\"name\":" << (a.sniffed.status == sniff_status::found ? json_quote(a.sniffed.name) : "null")
            << ",\"alpn\":[";
        for (std::size_t i = 0; i < a.sniffed.alpn.size(); ++i) {
            out << (i ? "," : "") << json_quote(a.sniffed.alpn[i]);
        }
        out << "],\"rule\":" << (a.decision.matched ? json_quote(a.decision.matched->rule) : "null")
            << ",\"backends\":[";
        if (a.decision.matched != nullptr) {
            for (std::size_t i = 0; i < a.decision.matched->backends.size(); ++i) {
                out << (i ? "," : "") << json_quote(a.decision.matched->backends[i].to_string());
            }
        }
        out << "],\"outcome\":" << json_quote(to_string(a.decision.result))
            << ",\"client_gets\":" << json_quote(what_client_gets(a));
    }
    if (!a.expected.empty()) {
        out << ",\"expect\":" << json_quote(a.expected) << ",\"expect_met\":" << (a.expectation_met ? "true" : "false");
    }
    out << '}';
}

} // namespace

int dry_run_command(const dry_run_options& options, std::ostream& out, std::ostream& err) {
    if (options.queries.empty()) {
        err << "dry-run-route: give at least one of --host, --sni, --http-request, --tls-client-hello\n";
        return exit_usage;
    }
    if (options.expect.size() > 1 && options.expect.size() != options.queries.size()) {
        err << "dry-run-route: " << options.expect.size() << " --expect values for " << options.queries.size()
            << " queries: give one --expect for all, or one per query in the same order\n";
        return exit_usage;
    }
    const load_result loaded = load_config_file(options.config_path);
    for (const auto& d : loaded.errors) {
        err << d.to_text() << '\n';
    }
    if (!loaded.ok()) {
        err << options.config_path << ": invalid config; nothing was routed\n";
        return exit_failed;
    }
    const config& cfg = *loaded.cfg;

    bool all_good = true;
    if (options.format == report_format::json) {
        out << "{\"config\":" << json_quote(options.config_path) << ",\"results\":[";
    }
    for (std::size_t i = 0; i < options.queries.size(); ++i) {
        const dry_run_query& q = options.queries[i];
        answer a = run_query(q, cfg);
        if (!options.expect.empty()) {
            a.expected = options.expect.size() == 1 ? options.expect.front() : options.expect[i];
            a.expectation_met = meets(a, a.expected);
        }
        all_good = all_good && a.problem.empty() && a.expectation_met;
        if (options.format == report_format::json) {
            out << (i ? "," : "");
            write_json(out, q, a);
        } else {
            write_text(out, q, a);
        }
    }
    if (options.format == report_format::json) {
        out << "],\"ok\":" << (all_good ? "true" : "false") << "}\n";
    }
    return all_good ? exit_ok : exit_failed;
}

} // namespace kiagateway
