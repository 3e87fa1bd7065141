// What the gateway does with a sniffed connection: the one decision shared by live traffic and dry-run.
#pragma once

#include "route_table.hpp"
#include "sniff.hpp"

#include <string_view>

namespace kiagateway {

enum class protocol { http, tls };

enum class outcome {
    ok,          // routed (the access log says ok once the backend took it)
    no_route,    // a name (or none) that no rule matches
    bad_request, // invalid bytes, or a head over the size limit
    timeout,
    connect_failed,
    limit,
    shutdown, // cut by the gateway's stop (drain time up, or a second signal) before it finished
};

const char* to_string(protocol p) noexcept;
const char* to_string(outcome o) noexcept;

struct routing_decision {
    outcome result = outcome::no_route;
    const route* matched = nullptr; // set when result is ok
    // What the client is told when no backend gets the connection.
    int http_status = 0;    // HTTP: 400, 431 or 502; 0 when routed (or TLS)
    bool tls_alert = false; // TLS: send a fatal unrecognized_name alert before closing
};

// `sniffed` must be final (not need_more). A valid head without a name goes to
// the "*" fallback when there is one.
routing_decision decide(protocol p, const sniff_result& sniffed, const route_table& table);

// The HTTP answer for a status decide() gave, with Connection: close.
const char* http_error_response(int status) noexcept;

// A fatal TLS alert, unrecognized_name (RFC 6066 §3), as a plaintext record: 7 bytes.
std::string_view tls_unrecognized_name_alert() noexcept;

} // namespace kiagateway
