// The configuration: one TOML file, loaded and checked in full, every problem reported with its place.
#pragma once

#include "address.hpp"
#include "diagnostic.hpp"
#include "duration.hpp"
#include "route_table.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiagateway {

enum class log_format { text, json };

// [gateway]; the defaults are the ones DESIGN.md §2 documents.
struct gateway_settings {
    std::vector<listen_address> http_listen{{"0.0.0.0", 80, false}, {"::", 80, true}};
    std::vector<listen_address> https_listen{{"0.0.0.0", 443, false}, {"::", 443, true}};
    unsigned workers = 0; // 0 = one per CPU
    std::size_t max_connections = 50000;
    duration read_timeout = std::chrono::seconds(5);
    duration connect_timeout = std::chrono::seconds(3);
    duration idle_timeout = std::chrono::seconds(300);
    duration drain_timeout = std::chrono::seconds(30);
    std::size_t max_header_bytes = 32768;
    std::string access_log = "stdout"; // "stdout" | "stderr" | "off" | a file path
    kiagateway::log_format log_format = log_format::text;
    // POSIX: after binding, switch to this user / group (empty: stay as started).
    std::string user;
    std::string group;
};

struct config {
    std::string path;
    gateway_settings gateway;
    bool listen_overridden = false; // listeners came from the command line, not the file
    std::shared_ptr<const route_table> http;
    std::shared_ptr<const route_table> https;
};

struct load_result {
    std::optional<config> cfg; // set only when there are no errors
    std::vector<diagnostic> errors;
    std::vector<diagnostic> warnings;

    bool ok() const noexcept { return cfg.has_value(); }
};

// Reads and checks a config file. Never throws: every problem becomes a diagnostic.
load_result load_config_file(const std::string& path);

// The same on text in memory; `name` is the file name diagnostics carry.
load_result load_config_text(std::string_view text, const std::string& name);

} // namespace kiagateway
