// The configuration: one TOML file, loaded and checked in full, every problem reported with its place.
#include "config.hpp"

#include "name.hpp"
#include "toml_compat.hpp"
#include "toml_fast.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

namespace kiagateway {

namespace {

using toml_compat::position;

constexpr std::array<std::string_view, 4> known_tables{"gateway", "backends", "http_backends", "https_backends"};
constexpr std::array<std::string_view, 11> known_gateway_keys{
    "http_listen",  "https_listen",  "workers",          "max_connections", "read_timeout", "connect_timeout",
    "idle_timeout", "drain_timeout", "max_header_bytes", "access_log",      "log_format"};

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

template <std::size_t N>
std::string did_you_mean(std::string_view word, const std::array<std::string_view, N>& candidates) {
    std::string_view best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    const std::string lowered = normalise_name(word);
    for (const auto candidate : candidates) {
        const auto d = edit_distance(lowered, candidate);
        if (d < best_distance) {
            best_distance = d;
            best = candidate;
        }
    }
    // Close means a typo, not a different word: at most 2 edits, or a third of the length.
    if (best_distance <= std::max<std::size_t>(2, word.size() / 3)) {
        return std::string(best);
    }
    return {};
}

// Finds where `key` is written on its line, so "unknown key" points at the key, not its value.
std::size_t key_column(const position& where, std::string_view key) {
    const std::string& line = where.line_text;
    const std::size_t limit = where.column == 0 ? line.size() : std::min(line.size(), where.column - 1);
    for (const std::string& form : {"\"" + std::string(key) + "\"", "'" + std::string(key) + "'", std::string(key)}) {
        const auto at = line.find(form);
        if (at != std::string::npos && at < limit) {
            return at + 1;
        }
    }
    return where.column;
}

const char* type_name(const toml::value& v) {
    switch (v.type()) {
    case toml::value_t::boolean:
        return "a boolean";
    case toml::value_t::integer:
        return "an integer";
    case toml::value_t::floating:
        return "a float";
    case toml::value_t::string:
        return "a string";
    case toml::value_t::array:
        return "an array";
    case toml::value_t::table:
        return "a table";
    default:
        return "a date or time";
    }
}

// One backends entry as read, before the protocol tables are merged.
struct entry {
    std::string key; // as written
    route r;
    const toml::value* value; // for its place, computed only when a diagnostic needs it
};

struct backends_table {
    std::string_view name; // "backends", "http_backends", "https_backends"
    bool present = false;
    std::vector<entry> entries;
};

class loader {
public:
    explicit loader(std::string file) : file_(std::move(file)) {}

    // Parses with toml11 (exact places for every diagnostic), then walks the tree.
    load_result run(std::string_view text);
    // Walks an already parsed tree.
    load_result walk(const toml::value& root);
    // A diagnostic pointed into the file: with a tree that has no places, it needs a toml11 parse.
    bool needs_places() const noexcept { return needs_places_; }

private:
    // Like a compiler, stop listing after max_diagnostics: each place costs a scan of the
    // file (toml11 counts lines), and a thousand errors help nobody.
    static constexpr std::size_t max_diagnostics = 100;

    bool room(bool for_error) {
        needs_places_ = true;
        if (out_.errors.size() + out_.warnings.size() < max_diagnostics) {
            return true;
        }
        ++suppressed_;
        had_error_ = had_error_ || for_error;
        return false;
    }
    void error(const position& where, std::size_t column, std::string message) {
        if (room(true)) {
            out_.errors.push_back({diagnostic::severity::error, file_, where.line, column, std::move(message)});
        }
    }
    void error(const position& where, std::string message) { error(where, where.column, std::move(message)); }
    // At a value, or (with `key`) at the key that holds it.
    void error(const toml::value& at, std::string message, std::string_view key = {}) {
        if (room(true)) {
            const position where = toml_compat::position_of(at);
            out_.errors.push_back({diagnostic::severity::error, file_, where.line,
                                   key.empty() ? where.column : key_column(where, key), std::move(message)});
        }
    }
    void warning(const toml::value& at, std::string message, std::string_view key = {}) {
        if (room(false)) {
            const position where = toml_compat::position_of(at);
            out_.warnings.push_back({diagnostic::severity::warning, file_, where.line,
                                     key.empty() ? where.column : key_column(where, key), std::move(message)});
        }
    }
    void warning_at_file(std::string message) {
        out_.warnings.push_back({diagnostic::severity::warning, file_, 0, 0, std::move(message)});
    }
    void error_at_file(std::string message) {
        out_.errors.push_back({diagnostic::severity::error, file_, 0, 0, std::move(message)});
    }

    void syntax_error(const toml::syntax_error& e);
    void read_gateway(const toml::value& table);
    void read_listen(const std::string& key, const toml::value& v, std::vector<listen_address>& out);
    bool read_duration(const std::string& key, const toml::value& v, duration& out, bool allow_zero);
    bool read_integer(const std::string& key, const toml::value& v, std::int64_t min, std::int64_t max,
                      std::int64_t& out);
    void read_backends(const toml::value& table, backends_table& into);
    bool read_route_key(const std::string& key, const toml::value& value, std::string& rule);
    void check_whole(bool any_backends_table, const config& cfg);
    void merge(const backends_table& common, const backends_table& specific, std::string_view protocol,
               std::shared_ptr<const route_table>& out);

    std::string file_;
    load_result out_;
    gateway_settings gateway_;
    std::size_t suppressed_ = 0;
    bool needs_places_ = false;
    bool had_error_ = false; // an error was among the suppressed
};

void loader::syntax_error(const toml::syntax_error& e) {
    auto problem = toml_compat::describe(e);
    // toml11's text is a multi-line excerpt: "[error] toml::parse_x: what\n --> file\n | line\n | ^--- hint".
    // Keep its first line (minus the function name) and the hint, on one line.
    std::istringstream lines(problem.text);
    std::string first;
    std::getline(lines, first);
    if (first.rfind("[error] ", 0) == 0) {
        first.erase(0, 8);
    }
    if (first.rfind("toml::", 0) == 0) {
        if (const auto colon = first.find(": "); colon != std::string::npos) {
            first.erase(0, colon + 2);
        }
    }
    std::string hint;
    std::size_t caret_column = 0;
    std::size_t caret_line = 0;
    std::size_t last_line_number = 0;
    for (std::string line; std::getline(lines, line);) {
        // " 12 | text" lines carry the number; "    |   ^--- hint" lines the column and hint.
        const auto bar = line.find(" | ");
        if (bar == std::string::npos) {
            continue;
        }
        const std::string head = line.substr(0, bar);
        const auto digits = head.find_first_not_of(' ');
        if (digits != std::string::npos && head.find_first_not_of("0123456789 ") == std::string::npos) {
            last_line_number = std::stoul(head.substr(digits));
            continue;
        }
        const auto mark = line.find_first_of("^~", bar + 3);
        if (mark != std::string::npos && caret_line == 0) {
            caret_line = last_line_number;
            caret_column = mark - (bar + 3) + 1;
            const auto dash = line.find("--- ", mark);
            if (dash != std::string::npos) {
                hint = line.substr(dash + 4);
            }
        }
    }
    // Several marks (e.g. "defined twice"): the place toml11 reports is the one that is wrong.
    position where = problem.where;
    if (caret_line == where.line && caret_line != 0) {
        where.column = caret_column;
    }
    std::string message = "invalid TOML: " + first;
    if (!hint.empty() && first.find(hint) == std::string::npos) {
        message += " (" + hint + ")";
    }
    error(where, message);
}

load_result loader::run(std::string_view text) {
    toml::value root;
    try {
        std::istringstream in{std::string(text)};
        root = toml::parse(in, file_);
    } catch (const toml::syntax_error& e) {
        syntax_error(e);
        return std::move(out_);
    } catch (const std::exception& e) {
        error_at_file(std::string("invalid TOML: ") + e.what());
        return std::move(out_);
    }
    return walk(root);
}

load_result loader::walk(const toml::value& root) {

    backends_table common{"backends", false, {}};
    backends_table http{"http_backends", false, {}};
    backends_table https{"https_backends", false, {}};
    for (const auto& [key, value] : root.as_table()) {
        const position where = toml_compat::position_of(value);
        const auto known = std::find(known_tables.begin(), known_tables.end(), key) != known_tables.end();
        if (!known) {
            std::string message =
                value.is_table() ? "unknown table [" + key + "]" : "unknown top-level key '" + key + "'";
            if (const auto guess = did_you_mean(key, known_tables); !guess.empty()) {
                message += "; did you mean [" + guess + "]?";
            } else {
                message += "; the file has [gateway], [backends], [http_backends] and [https_backends]";
            }
            error(where, key_column(where, key), message);
            continue;
        }
        if (!value.is_table()) {
            error(where, key_column(where, key),
                  "'" + key + "' must be a table ([" + key + "]), not " + type_name(value));
            continue;
        }
        if (key == "gateway") {
            read_gateway(value);
        } else {
            auto& table = key == "backends" ? common : key == "http_backends" ? http : https;
            table.present = true;
            read_backends(value, table);
        }
    }

    config cfg;
    cfg.path = file_;
    merge(common, http, "http", cfg.http);
    merge(common, https, "https", cfg.https);
    cfg.gateway = gateway_;

    // With errors already reported, "no routes" and listener warnings would only echo them.
    if (out_.errors.empty() && !had_error_) {
        check_whole(common.present || http.present || https.present, cfg);
    }

    const auto by_place = [](const diagnostic& a, const diagnostic& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    };
    std::stable_sort(out_.errors.begin(), out_.errors.end(), by_place);
    std::stable_sort(out_.warnings.begin(), out_.warnings.end(), by_place);
    if (suppressed_ != 0) {
        (had_error_ ? out_.errors : out_.warnings)
            .push_back({had_error_ ? diagnostic::severity::error : diagnostic::severity::warning, file_, 0, 0,
                        std::to_string(suppressed_) + " more problems not listed (the first " +
                            std::to_string(max_diagnostics) + " are shown)"});
    }
    if (out_.errors.empty()) {
        out_.cfg = std::move(cfg);
    }
    return std::move(out_);
}

void loader::check_whole(bool any_backends_table, const config& cfg) {
    if (!any_backends_table) {
        error_at_file("no routes: add [http_backends] and [https_backends] (or [backends] for both), "
                      "e.g. \"example.com\" = \"127.0.0.1:8080\"");
        return;
    }
    if (cfg.http->empty() && cfg.https->empty()) {
        error_at_file("no routes: every backends table is empty");
        return;
    }
    if (!gateway_.http_listen.empty() && cfg.http->empty()) {
        warning_at_file("the HTTP listener is on but no route is defined for HTTP: every request will get 502 "
                        "(add [http_backends], or set http_listen = [])");
    }
    if (!gateway_.https_listen.empty() && cfg.https->empty()) {
        warning_at_file("the TLS listener is on but no route is defined for TLS: every connection will be "
                        "refused (add [https_backends], or set https_listen = [])");
    }
    if (gateway_.http_listen.empty() && gateway_.https_listen.empty()) {
        warning_at_file("http_listen and https_listen are both empty: the gateway would listen on nothing");
    }
}

bool loader::read_integer(const std::string& key, const toml::value& v, std::int64_t min, std::int64_t max,
                          std::int64_t& out) {
    const position where = toml_compat::position_of(v);
    if (!v.is_integer()) {
        error(where, "[gateway] " + key + " must be an integer, not " + type_name(v));
        return false;
    }
    const std::int64_t value = v.as_integer();
    if (value < min || value > max) {
        error(where, "[gateway] " + key + " = " + std::to_string(value) + " is out of range (" + std::to_string(min) +
                         "-" + std::to_string(max) + ")");
        return false;
    }
    out = value;
    return true;
}

bool loader::read_duration(const std::string& key, const toml::value& v, duration& out, bool allow_zero) {
    const position where = toml_compat::position_of(v);
    duration value{};
    if (v.is_integer()) {
        const auto seconds = v.as_integer();
        if (seconds < 0 || seconds > 7 * 24 * 3600) {
            error(where, "[gateway] " + key + " = " + std::to_string(seconds) + " is out of range (0-604800 seconds)");
            return false;
        }
        value = std::chrono::seconds(seconds);
    } else if (v.is_string()) {
        std::string problem;
        if (!parse_duration(toml_compat::string_of(v), value, problem)) {
            error(where, "[gateway] " + key + ": " + problem);
            return false;
        }
    } else {
        error(where, "[gateway] " + key + " must be a duration like \"5s\" or \"250ms\" (or whole seconds), not " +
                         type_name(v));
        return false;
    }
    if (!allow_zero && value.count() == 0) {
        error(where, "[gateway] " + key + " must be greater than zero");
        return false;
    }
    out = value;
    return true;
}

void loader::read_listen(const std::string& key, const toml::value& v, std::vector<listen_address>& out) {
    std::vector<const toml::value*> items;
    if (v.is_string()) {
        items.push_back(&v);
    } else if (v.is_array()) {
        for (const auto& item : v.as_array()) {
            items.push_back(&item);
        }
    } else {
        error(toml_compat::position_of(v),
              "[gateway] " + key + " must be an array of \"ip:port\" strings, not " + type_name(v));
        return;
    }
    std::vector<listen_address> parsed;
    bool ok = true;
    for (const toml::value* item : items) {
        const position where = toml_compat::position_of(*item);
        if (!item->is_string()) {
            error(where, "[gateway] " + key + ": each listener must be an \"ip:port\" string, not " + type_name(*item));
            ok = false;
            continue;
        }
        listen_address address;
        std::string problem;
        const std::string text = toml_compat::string_of(*item);
        if (!parse_listen_address(text, address, problem)) {
            error(where, "[gateway] " + key + ": \"" + text + "\": " + problem);
            ok = false;
            continue;
        }
        if (std::find(parsed.begin(), parsed.end(), address) != parsed.end()) {
            error(where, "[gateway] " + key + ": \"" + text + "\" is listed twice");
            ok = false;
            continue;
        }
        parsed.push_back(address);
    }
    if (ok) {
        out = std::move(parsed);
    }
}

void loader::read_gateway(const toml::value& table) {
    for (const auto& [key, value] : table.as_table()) {
        const position where = toml_compat::position_of(value);
        std::int64_t number = 0;
        if (key == "http_listen") {
            read_listen(key, value, gateway_.http_listen);
        } else if (key == "https_listen") {
            read_listen(key, value, gateway_.https_listen);
        } else if (key == "workers") {
            if (read_integer(key, value, 0, 1024, number)) {
                gateway_.workers = static_cast<unsigned>(number);
            }
        } else if (key == "max_connections") {
            if (read_integer(key, value, 1, 10'000'000, number)) {
                gateway_.max_connections = static_cast<std::size_t>(number);
            }
        } else if (key == "max_header_bytes") {
            if (read_integer(key, value, 1024, 1024 * 1024, number)) {
                gateway_.max_header_bytes = static_cast<std::size_t>(number);
            }
        } else if (key == "read_timeout") {
            read_duration(key, value, gateway_.read_timeout, false);
        } else if (key == "connect_timeout") {
            read_duration(key, value, gateway_.connect_timeout, false);
        } else if (key == "idle_timeout") {
            read_duration(key, value, gateway_.idle_timeout, false);
        } else if (key == "drain_timeout") {
            read_duration(key, value, gateway_.drain_timeout, true);
        } else if (key == "access_log") {
            if (!value.is_string()) {
                error(where, "[gateway] access_log must be \"stdout\", \"stderr\", \"off\" or a file path, not " +
                                 std::string(type_name(value)));
            } else if (toml_compat::string_of(value).empty()) {
                error(where, "[gateway] access_log is empty: use \"stdout\", \"stderr\", \"off\" or a file path");
            } else {
                gateway_.access_log = toml_compat::string_of(value);
            }
        } else if (key == "user" || key == "group") {
            if (!value.is_string() || toml_compat::string_of(value).empty()) {
                error(where, "[gateway] " + key + " must be a non-empty " + key + " name");
            } else {
                (key == "user" ? gateway_.user : gateway_.group) = toml_compat::string_of(value);
            }
        } else if (key == "log_format") {
            const std::string text = value.is_string() ? toml_compat::string_of(value) : std::string();
            if (text == "text") {
                gateway_.log_format = log_format::text;
            } else if (text == "json") {
                gateway_.log_format = log_format::json;
            } else {
                error(where, "[gateway] log_format must be \"text\" or \"json\"");
            }
        } else {
            std::string message = "unknown key '" + key + "' in [gateway]";
            if (const auto guess = did_you_mean(key, known_gateway_keys); !guess.empty()) {
                message += "; did you mean '" + guess + "'?";
            }
            error(where, key_column(where, key), message);
        }
    }
}

bool loader::read_route_key(const std::string& key, const toml::value& value, std::string& rule) {
    if (key == "*") {
        rule = "*";
        return true;
    }
    std::string_view name = key;
    const bool wildcard = name.rfind("*.", 0) == 0;
    if (wildcard) {
        name.remove_prefix(2);
    }
    if (name.find('*') != std::string_view::npos) {
        error(value,
              "route key \"" + key +
                  "\": '*' is allowed only as a whole first label (\"*.example.com\") or alone (\"*\")",
              key);
        return false;
    }
    const std::string normalised = normalise_name(name);
    if (const auto problem = dns_name_problem(normalised); !problem.empty()) {
        error(value, "route key \"" + key + "\" is not a valid host name: " + problem, key);
        return false;
    }
    rule = wildcard ? "*." + normalised : normalised;
    return true;
}

void loader::read_backends(const toml::value& table, backends_table& into) {
    std::vector<entry> entries;
    entries.reserve(table.as_table().size());
    for (const auto& [key, value] : table.as_table()) {
        const std::string context = "[" + std::string(into.name) + "] \"" + key + "\"";
        if (value.is_table()) {
            error(value,
                  context + " is a table: a dotted host name must be quoted, e.g. \"" + key +
                      ".example.com\" = \"127.0.0.1:8080\"",
                  key);
            continue;
        }
        std::string rule;
        if (!read_route_key(key, value, rule)) {
            continue;
        }
        entry e{key, {rule, {}}, &value};
        std::vector<const toml::value*> items;
        if (value.is_string()) {
            items.push_back(&value);
        } else if (value.is_array()) {
            if (value.as_array().empty()) {
                error(value, context + " has an empty backend list");
                continue;
            }
            for (const auto& item : value.as_array()) {
                items.push_back(&item);
            }
        } else {
            error(value, context + " must be a \"host:port\" string or an array of them, not " + type_name(value));
            continue;
        }
        bool ok = true;
        for (const toml::value* item : items) {
            if (!item->is_string()) {
                error(*item, context + ": each backend must be a \"host:port\" string, not " + type_name(*item));
                ok = false;
                continue;
            }
            const std::string text = toml_compat::string_of(*item);
            backend_address address;
            std::string problem;
            if (!parse_backend_address(text, address, problem)) {
                error(*item, context + ": backend \"" + text + "\": " + problem);
                ok = false;
                continue;
            }
            if (std::find(e.r.backends.begin(), e.r.backends.end(), address) != e.r.backends.end()) {
                warning(*item, context + ": backend \"" + text + "\" is listed twice");
                continue;
            }
            e.r.backends.push_back(std::move(address));
        }
        if (ok) {
            entries.push_back(std::move(e));
        }
    }
    // Two keys that normalise alike ("Example.com", "example.com.") are an error, not last-wins.
    // toml11 tables are unordered, so the later of the two in the file is the one reported.
    std::unordered_map<std::string_view, const entry*> seen;
    seen.reserve(entries.size());
    for (const auto& e : entries) {
        const auto [it, inserted] = seen.emplace(e.r.rule, &e);
        if (inserted) {
            continue;
        }
        const entry* first = it->second;
        const entry* second = &e;
        const position a = toml_compat::position_of(*first->value);
        const position b = toml_compat::position_of(*second->value);
        if (std::tie(b.line, b.column) < std::tie(a.line, a.column)) {
            std::swap(first, second);
        }
        error(*second->value,
              "[" + std::string(into.name) + "] \"" + second->key + "\" names the same host as \"" + first->key +
                  "\" (line " + std::to_string(std::min(a.line, b.line)) + ") once normalised to \"" + e.r.rule +
                  "\"; keep one",
              second->key);
    }
    into.entries = std::move(entries);
}

void loader::merge(const backends_table& common, const backends_table& specific, std::string_view protocol,
                   std::shared_ptr<const route_table>& out) {
    route_table::builder builder;
    builder.reserve(common.entries.size() + specific.entries.size());
    std::unordered_map<std::string_view, const entry*> specific_rules;
    specific_rules.reserve(specific.entries.size());
    for (const auto& e : specific.entries) {
        specific_rules.emplace(e.r.rule, &e);
    }
    for (const auto& e : common.entries) {
        if (const auto it = specific_rules.find(e.r.rule); it != specific_rules.end()) {
            warning(*e.value,
                    "[backends] \"" + e.key + "\" is shadowed for " + std::string(protocol) + " by [" +
                        std::string(specific.name) + "] \"" + it->second->key + "\" (line " +
                        std::to_string(toml_compat::position_of(*it->second->value).line) + ")",
                    e.key);
            continue;
        }
        builder.add(e.r);
    }
    for (const auto& e : specific.entries) {
        builder.add(e.r);
    }
    out = builder.build();
}

// TOML files are UTF-8. Checked here, before toml11 sees the text: toml11 3.7 reads past its
// buffer on a truncated sequence in a literal string (found by fuzz/fuzz_config.cpp).
// Returns the offset of the first bad byte, or npos.
std::size_t invalid_utf8_at(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t length = 0;
        std::uint32_t code = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
            code = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            code = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            code = c & 0x07u;
        } else {
            return i; // a continuation byte out of place, or a lead byte UTF-8 never uses
        }
        if (text.size() - i < length) {
            return i;
        }
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0u) != 0x80u) {
                return i;
            }
            code = (code << 6) | (next & 0x3Fu);
        }
        const bool overlong = (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
        const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
        if (overlong || surrogate || code > 0x10FFFF) {
            return i;
        }
        i += length;
    }
    return std::string_view::npos;
}

// toml11 parses nested arrays and inline tables by recursion, one stack frame chain per level:
// a few thousand '[' overflow the stack (found by fuzz/fuzz_config.cpp). No kiagateway config
// nests more than twice, so deeper nesting is refused before toml11 runs. Strings and comments
// are skipped, so brackets inside them do not count. Returns the offset of the offending
// bracket, or npos.
constexpr int max_nesting = 32;

std::size_t too_deep_at(std::string_view text) {
    int depth = 0;
    std::size_t i = 0;
    const auto starts = [&text](std::size_t at, std::string_view what) { return text.substr(at, what.size()) == what; };
    while (i < text.size()) {
        const char c = text[i];
        if (c == '#') {
            const std::size_t end = text.find('\n', i);
            i = end == std::string_view::npos ? text.size() : end;
        } else if (starts(i, "\"\"\"") || starts(i, "'''")) {
            const std::string_view fence = text.substr(i, 3);
            std::size_t j = i + 3;
            while (j < text.size() && !starts(j, fence)) {
                j += (fence[0] == '"' && text[j] == '\\') ? 2 : 1;
            }
            i = std::min(text.size(), j + 3);
        } else if (c == '"' || c == '\'') {
            std::size_t j = i + 1;
            while (j < text.size() && text[j] != c && text[j] != '\n') {
                j += (c == '"' && text[j] == '\\') ? 2 : 1;
            }
            i = std::min(text.size(), j + 1);
        } else {
            if (c == '[' || c == '{') {
                if (++depth > max_nesting) {
                    return i;
                }
            } else if ((c == ']' || c == '}') && depth > 0) {
                --depth;
            }
            ++i;
        }
    }
    return std::string_view::npos;
}

// line:column of a byte offset, for problems found before toml11 has given places.
std::pair<std::size_t, std::size_t> place_of(std::string_view text, std::size_t offset) {
    const std::size_t line = static_cast<std::size_t>(std::count(text.begin(), text.begin() + offset, '\n')) + 1;
    const std::size_t line_start = offset == 0 ? std::string_view::npos : text.rfind('\n', offset - 1);
    const std::size_t column = line_start == std::string_view::npos ? offset + 1 : offset - line_start;
    return {line, column};
}

std::string read_file(const std::string& path, std::string& problem) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
        problem = "cannot read the config: no such file";
        return {};
    }
    if (std::filesystem::is_directory(status)) {
        problem = "cannot read the config: it is a directory";
        return {};
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        problem = std::string("cannot read the config: ") + std::strerror(errno);
        return {};
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        problem = "cannot read the config: read error";
        return {};
    }
    return text.str();
}

} // namespace

load_result load_config_text(std::string_view text, const std::string& name) {
    const auto refuse = [&](std::size_t offset, std::string message) {
        const auto [line, column] = place_of(text, offset);
        load_result out;
        out.errors.push_back({diagnostic::severity::error, name, line, column, std::move(message)});
        return out;
    };
    if (const std::size_t bad = invalid_utf8_at(text); bad != std::string_view::npos) {
        char byte[8];
        std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[bad])));
        return refuse(bad, std::string("the file is not valid UTF-8 (byte ") + byte +
                               "): save it as UTF-8, which TOML requires");
    }
    if (const std::size_t deep = too_deep_at(text); deep != std::string_view::npos) {
        return refuse(deep, "arrays or tables nested more than " + std::to_string(max_nesting) +
                                " levels deep: not a kiagateway config");
    }
    // toml11 v3 takes ~1.3 s for a 100 000-route file; the plain reader takes a tenth of that.
    // Its tree has no places, so any diagnostic that points into the file is made again from
    // a toml11 parse; and anything outside the plain subset goes to toml11 directly.
    if (const auto tree = parse_plain_toml(text)) {
        loader fast(name);
        load_result result = fast.walk(*tree);
        if (!fast.needs_places()) {
            return result;
        }
    }
    loader precise(name);
    return precise.run(text);
}

load_result load_config_file(const std::string& path) {
    std::string problem;
    const std::string text = read_file(path, problem);
    if (!problem.empty()) {
        load_result out;
        out.errors.push_back({diagnostic::severity::error, path, 0, 0, problem});
        return out;
    }
    return load_config_text(text, path);
}

} // namespace kiagateway
