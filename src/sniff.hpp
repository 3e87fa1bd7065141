// The result shared by the protocol sniffers: what the first bytes of a connection say.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace kiagateway {

enum class sniff_status {
    need_more, // the bytes so far are a valid prefix; read more
    found,     // the name the client asked for is in `name`
    no_name,   // a complete, valid head that names no host (route to the "*" fallback, if any)
    invalid,   // not this protocol, malformed, or over a limit: `error` says which
};

enum class sniff_error {
    none,
    too_large,        // over the byte limit before the head was complete (HTTP 431)
    too_many_records, // TLS: the ClientHello spans more records than allowed
    malformed,        // the bytes break the protocol's grammar
    bad_name,         // the Host header or SNI is not a usable host name
    duplicate_name,   // more than one Host header / server_name
    missing_host,     // HTTP/1.1 without a Host header (RFC 9112 §3.2)
};

struct sniff_result {
    sniff_status status = sniff_status::need_more;
    sniff_error error = sniff_error::none;
    // Static text, for logs and dry-run; empty unless status is invalid.
    const char* detail = "";
    // Normalised (ASCII lower case, one trailing dot removed); empty unless status is found.
    std::string name;
    // TLS only: the ALPN protocol names offered by the client, in order.
    std::vector<std::string> alpn;
};

const char* to_string(sniff_status status) noexcept;
const char* to_string(sniff_error error) noexcept;

} // namespace kiagateway
