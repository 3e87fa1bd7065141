// Backend and listener addresses: "host:port" parsing and validation, with no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kiagateway {

enum class host_kind { ipv4, ipv6, dns };

// A backend as written in the config: resolved (for DNS names) at connect time.
struct backend_address {
    std::string host; // IPv6 without brackets; DNS names normalised
    std::uint16_t port = 0;
    host_kind kind = host_kind::dns;

    // "host:port", with brackets around an IPv6 host: the form the config uses.
    std::string to_string() const;
    friend bool operator==(const backend_address&, const backend_address&) = default;
};

// Parses "host:port" where host is an IPv4 literal, a bracketed IPv6 literal or
// a DNS name, and port is 1-65535. On failure returns false and says why in `error`.
bool parse_backend_address(std::string_view text, backend_address& out, std::string& error);

// A listener: an IP literal (IPv4, or bracketed IPv6) and a port 0-65535 (0 = any free port).
struct listen_address {
    std::string ip; // no brackets
    std::uint16_t port = 0;
    bool v6 = false;

    std::string to_string() const;
    friend bool operator==(const listen_address&, const listen_address&) = default;
};

bool parse_listen_address(std::string_view text, listen_address& out, std::string& error);

bool is_ipv4_literal(std::string_view text);
bool is_ipv6_literal(std::string_view text); // without brackets

} // namespace kiagateway
