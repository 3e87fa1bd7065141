// Shared fuzz check: a sniffer must give the same verdict however the bytes are split, and keep its promises.
#pragma once

#include "sniff.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

namespace kiagateway::fuzz {

// abort() rather than assert(): the check must hold in release builds of the fuzzer too.
inline void require(bool ok) {
    if (!ok) {
        std::abort();
    }
}

inline bool same_result(const sniff_result& a, const sniff_result& b) {
    return a.status == b.status && a.error == b.error && std::strcmp(a.detail, b.detail) == 0 && a.name == b.name &&
           a.alpn == b.alpn;
}

// What every result promises, whatever the input.
inline void require_well_formed(const sniff_result& r, std::size_t size, std::size_t max_bytes) {
    const bool invalid = r.status == sniff_status::invalid;
    require(invalid == (r.error != sniff_error::none));
    require(invalid == (r.detail[0] != '\0'));
    require((r.status == sniff_status::found) == !r.name.empty());
    for (char c : r.name) {
        require(!(c >= 'A' && c <= 'Z'));
    }
    require(r.alpn.empty() || r.status == sniff_status::found || r.status == sniff_status::no_name);
    require(size <= max_bytes || r.status != sniff_status::need_more);
}

// Feeds `data` in three growing prefixes cut where `control` says, then checks that every
// verdict given on the way, and the last one, equal the verdict on the whole buffer at once.
template <class Sniffer, class Limits>
void require_split_agrees(std::span<const std::uint8_t> data, Limits limits, std::uint8_t control, bool byte_by_byte) {
    const sniff_result whole = Sniffer(limits).parse(data);
    require_well_formed(whole, data.size(), limits.max_bytes);

    const std::size_t first = data.size() * (control & 0x0f) / 16;
    const std::size_t second = first + (data.size() - first) * (control >> 4) / 16;
    Sniffer sniffer(limits);
    for (std::size_t cut : {first, second, data.size()}) {
        const sniff_result r = sniffer.parse(data.first(cut));
        require_well_formed(r, cut, limits.max_bytes);
        require(r.status == sniff_status::need_more || same_result(r, whole));
    }
    require(same_result(sniffer.parse(data), whole));

    if (byte_by_byte) {
        Sniffer bytewise(limits);
        for (std::size_t n = 0; n <= data.size(); ++n) {
            const sniff_result r = bytewise.parse(data.first(n));
            require(r.status == sniff_status::need_more || same_result(r, whole));
            if (n == data.size()) {
                require(same_result(r, whole));
            }
        }
    }
}

// Picks the split points and tight limits. It starts from the first byte, as the brief for
// these targets says, but mixes in the last byte and the size: nearly every TLS input starts
// with 0x16 and every HTTP one with a method letter, so the first byte alone would cut the
// corpus (raw captures, fed whole) at the same few places.
inline std::uint8_t control_byte(std::span<const std::uint8_t> data) {
    if (data.empty()) {
        return 0;
    }
    return static_cast<std::uint8_t>(data.front() ^ data.back() ^ data.size());
}

// Limits just under the input size, so that the over-the-limit paths are fuzzed too.
template <class Limits> Limits tight_limits(std::size_t size, std::uint8_t control) {
    Limits limits;
    limits.max_bytes = size * (control % 8 + 1) / 9;
    return limits;
}

} // namespace kiagateway::fuzz
