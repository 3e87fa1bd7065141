// `kiagateway validate`: load the config, print every problem compiler-style (or as JSON) and a summary.
#include "commands.hpp"

#include "config.hpp"
#include "json.hpp"

#include <ostream>

namespace kiagateway {

namespace {

std::string plural(std::size_t n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

std::string listeners_text(const std::vector<listen_address>& listeners) {
    if (listeners.empty()) {
        return "off";
    }
    std::string out;
    for (const auto& l : listeners) {
        out += (out.empty() ? "" : ", ") + l.to_string();
    }
    return out;
}

std::string table_text(const route_table& table) {
    std::string out = plural(table.size(), "route");
    std::string parts;
    const auto add = [&parts](const std::string& part) { parts += (parts.empty() ? "" : ", ") + part; };
    if (table.exact_count() != 0) {
        add(std::to_string(table.exact_count()) + " exact");
    }
    if (table.wildcard_count() != 0) {
        add(std::to_string(table.wildcard_count()) + " wildcard");
    }
    if (table.has_fallback()) {
        add("fallback \"*\"");
    }
    return parts.empty() ? out : out + " (" + parts + ")";
}

void diagnostics_json(std::ostream& out, const std::vector<diagnostic>& list) {
    out << '[';
    bool first = true;
    for (const auto& d : list) {
        out << (first ? "" : ",") << "{\"file\":" << json_quote(d.file) << ",\"line\":" << d.line
            << ",\"column\":" << d.column << ",\"message\":" << json_quote(d.message) << '}';
        first = false;
    }
    out << ']';
}

void listeners_json(std::ostream& out, const std::vector<listen_address>& listeners) {
    out << '[';
    bool first = true;
    for (const auto& l : listeners) {
        out << (first ? "" : ",") << json_quote(l.to_string());
        first = false;
    }
    out << ']';
}

void table_json(std::ostream& out, const route_table& table) {
    out << "{\"routes\":" << table.size() << ",\"exact\":" << table.exact_count()
        << ",\"wildcard\":" << table.wildcard_count() << ",\"fallback\":" << (table.has_fallback() ? "true" : "false")
        << '}';
}

} // namespace

int validate_command(const validate_options& options, std::ostream& out, std::ostream& err) {
    const load_result loaded = load_config_file(options.config_path);
    if (options.format == report_format::json) {
        out << "{\"file\":" << json_quote(options.config_path) << ",\"valid\":" << (loaded.ok() ? "true" : "false")
            << ",\"errors\":";
        diagnostics_json(out, loaded.errors);
        out << ",\"warnings\":";
        diagnostics_json(out, loaded.warnings);
        if (loaded.ok()) {
            const config& cfg = *loaded.cfg;
            out << ",\"summary\":{\"http\":";
            table_json(out, *cfg.http);
            out << ",\"https\":";
            table_json(out, *cfg.https);
            out << ",\"listeners\":{\"http\":";
            listeners_json(out, cfg.gateway.http_listen);
            out << ",\"https\":";
            listeners_json(out, cfg.gateway.https_listen);
            out << "}}";
        } else {
            out << ",\"summary\":null";
        }
        out << "}\n";
        return loaded.ok() ? exit_ok : exit_failed;
    }

    for (const auto& d : loaded.errors) {
        err << d.to_text() << '\n';
    }
    for (const auto& d : loaded.warnings) {
        err << d.to_text() << '\n';
    }
    if (!loaded.ok()) {
        err << options.config_path << ": invalid: " << plural(loaded.errors.size(), "error") << '\n';
        return exit_failed;
    }
    const config& cfg = *loaded.cfg;
    out << options.config_path << ": valid";
    if (!loaded.warnings.empty()) {
        out << " (" << plural(loaded.warnings.size(), "warning") << ")";
    }
    out << "\n  http:  " << table_text(*cfg.http) << "; listening on " << listeners_text(cfg.gateway.http_listen)
        << "\n  https: " << table_text(*cfg.https) << "; listening on " << listeners_text(cfg.gateway.https_listen)
        << '\n';
    return exit_ok;
}

} // namespace kiagateway
