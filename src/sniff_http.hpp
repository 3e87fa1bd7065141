// HTTP/1.x request-head sniffer: finds the host the request is for (Host, or an absolute-form target).
#pragma once

#include "sniff.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace kiagateway {

struct http_limits {
    std::size_t max_bytes = 32 * 1024; // the whole head, request line to empty line
};

// Incremental and pure, like tls_sniffer: call parse() with all bytes received
// so far; it resumes its scan for the end of the head. No I/O, no exceptions.
class http_sniffer {
public:
    explicit http_sniffer(http_limits limits = {}) noexcept;
    sniff_result parse(std::span<const std::uint8_t> data);

private:
    http_limits limits_;
    std::size_t scanned_ = 0; // bytes already searched for the end of the head
    bool request_line_checked_ = false;
    bool done_ = false;
    sniff_result result_;
};

sniff_result sniff_http(std::span<const std::uint8_t> data, http_limits limits = {});

// The host named by a Host header value or URI authority: the port is
// stripped, the name normalised; an IPv6 literal keeps its brackets.
// Returns false when `authority` is not a valid host[:port].
bool parse_host_authority(std::string_view authority, std::string& name);

} // namespace kiagateway
