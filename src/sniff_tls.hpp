// TLS ClientHello sniffer: finds the SNI host_name and ALPN list, without decrypting anything.
#pragma once

#include "sniff.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace kiagateway {

struct tls_limits {
    std::size_t max_bytes = 32 * 1024; // bytes read from the client before giving up
    std::size_t max_records = 8;       // TLS records the ClientHello may span
};

// Incremental and pure: call parse() with *all* the bytes received so far (the
// same buffer, grown); it resumes where it stopped, so a ClientHello sent one
// byte per write costs linear time. No I/O, no exceptions, never reads past
// `data`. Once it returns anything but need_more it keeps returning that.
class tls_sniffer {
public:
    explicit tls_sniffer(tls_limits limits = {}) noexcept;
    sniff_result parse(std::span<const std::uint8_t> data);

private:
    // Implementation state (record offset, reassembled handshake bytes, ...).
    tls_limits limits_;
    std::size_t record_offset_ = 0; // start of the next unparsed record in `data`
    std::size_t records_ = 0;
    std::vector<std::uint8_t> handshake_; // handshake-layer bytes reassembled from records
    bool done_ = false;
    sniff_result result_;
};

// Convenience for whole captures (dry-run, tests): one call on a complete buffer.
sniff_result sniff_tls(std::span<const std::uint8_t> data, tls_limits limits = {});

} // namespace kiagateway
