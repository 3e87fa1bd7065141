// The `validate` and `dry-run-route` commands: config in, report out, an exit code.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace kiagateway {

enum class report_format { text, json };

// Exit codes shared by every command.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1; // invalid config, failed expectation, unreadable input
inline constexpr int exit_usage = 2;

struct validate_options {
    std::string config_path = "servers.toml";
    report_format format = report_format::text;
};

int validate_command(const validate_options& options, std::ostream& out, std::ostream& err);

struct dry_run_query {
    enum class kind { host, sni, http_request, tls_client_hello };
    kind what = kind::host;
    std::string value; // a name, or a file path for captured bytes
};

struct dry_run_options {
    std::string config_path = "servers.toml";
    std::vector<dry_run_query> queries;
    // Empty, one (applies to every query) or one per query. "none" expects no route.
    std::vector<std::string> expect;
    report_format format = report_format::text;
};

int dry_run_command(const dry_run_options& options, std::ostream& out, std::ostream& err);

struct run_options {
    std::string config_path = "servers.toml";
    // When given, these replace the file's http_listen / https_listen ("off" = none).
    std::optional<std::vector<std::string>> http_listen;
    std::optional<std::vector<std::string>> https_listen;
    // Started by the Windows Service Control Manager (`run --service`).
    bool service = false;
};

// Serves until stopped; the exit code is 0 after a clean stop.
int run_command(const run_options& options, std::ostream& err);

} // namespace kiagateway
