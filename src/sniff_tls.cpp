// TLS ClientHello parser: reassembles handshake records and reads the server_name and ALPN extensions.
#include "sniff_tls.hpp"

#include "name.hpp"

#include <algorithm>
#include <bitset>
#include <string>
#include <utility>
#include <vector>

namespace kiagateway {

namespace {

constexpr std::uint8_t content_type_handshake = 22;
constexpr std::size_t record_header_size = 5;
constexpr std::size_t max_record_length = 16384; // 2^14, RFC 8446 §5.1
constexpr std::uint8_t handshake_client_hello = 1;
constexpr std::size_t handshake_header_size = 4;
constexpr std::size_t max_session_id = 32;
constexpr std::uint16_t extension_server_name = 0;
constexpr std::uint16_t extension_alpn = 16;
constexpr std::uint8_t name_type_host_name = 0;

// What went wrong, as the static text the result carries; `detail == nullptr` means nothing did.
struct problem {
    sniff_error error = sniff_error::none;
    const char* detail = nullptr;
};

constexpr problem malformed(const char* detail) { return {sniff_error::malformed, detail}; }

sniff_result invalid(problem p) {
    sniff_result r;
    r.status = sniff_status::invalid;
    r.error = p.error;
    r.detail = p.detail;
    return r;
}

// Bounds-checked big-endian reads: every read says whether the bytes were there, so a
// length field can never take the parser past the end of its span.
class reader {
public:
    explicit reader(std::span<const std::uint8_t> data) noexcept : data_(data) {}

    bool empty() const noexcept { return pos_ == data_.size(); }
    std::size_t remaining() const noexcept { return data_.size() - pos_; }

    bool read_u8(std::uint8_t& out) noexcept {
        std::span<const std::uint8_t> b;
        if (!read(1, b)) {
            return false;
        }
        out = b[0];
        return true;
    }

    bool read_u16(std::uint16_t& out) noexcept {
        std::span<const std::uint8_t> b;
        if (!read(2, b)) {
            return false;
        }
        out = static_cast<std::uint16_t>((b[0] << 8) | b[1]);
        return true;
    }

    bool read(std::size_t n, std::span<const std::uint8_t>& out) noexcept {
        if (n > remaining()) {
            return false;
        }
        out = data_.subspan(pos_, n);
        pos_ += n;
        return true;
    }

    bool skip(std::size_t n) noexcept {
        std::span<const std::uint8_t> ignored;
        return read(n, ignored);
    }

private:
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
};

std::size_t read_u24(const std::uint8_t* p) { return (std::size_t{p[0]} << 16) | (std::size_t{p[1]} << 8) | p[2]; }

// Checks as much of a record header as has arrived, always in the same order, so a bad
// byte is reported the moment it is seen and the verdict does not depend on how the
// header was split across reads. `header` holds 0 to 5 bytes.
problem record_header_problem(std::span<const std::uint8_t> header, bool first_record) {
    if (header.size() >= 1) {
        if (first_record && (header[0] & 0x80) != 0) {
            return malformed("SSLv2-style ClientHello is not supported");
        }
        if (header[0] != content_type_handshake) {
            return malformed("not a TLS handshake record");
        }
    }
    if (header.size() >= 2 && header[1] != 3) {
        return malformed("record version is not 3.x");
    }
    if (header.size() >= 3 && header[2] > 4) {
        return malformed("record version is newer than 3.4");
    }
    if (header.size() >= record_header_size) {
        const std::size_t length = (std::size_t{header[3]} << 8) | header[4];
        if (length == 0) {
            // RFC 8446 §5.1: handshake records must not be empty.
            return malformed("zero-length handshake record");
        }
        if (length > max_record_length) {
            return malformed("record length exceeds 16384");
        }
    }
    return {};
}

bool is_host_name_char(std::uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
}

problem parse_server_name(std::span<const std::uint8_t> data, std::string& name) {
    reader r(data);
    std::uint16_t list_length = 0;
    if (!r.read_u16(list_length)) {
        return malformed("server_name extension is truncated");
    }
    if (list_length != r.remaining()) {
        return malformed("server_name list length does not match");
    }
    if (list_length == 0) {
        return malformed("server_name list is empty");
    }
    bool have_host_name = false;
    while (!r.empty()) {
        std::uint8_t name_type = 0;
        std::uint16_t length = 0;
        if (!r.read_u8(name_type) || !r.read_u16(length)) {
            return malformed("server_name entry is truncated");
        }
        std::span<const std::uint8_t> value;
        if (!r.read(length, value)) {
            return malformed("server_name entry length exceeds the list");
        }
        if (name_type != name_type_host_name) {
            continue; // RFC 6066 §3: other name types may be defined later
        }
        if (have_host_name) {
            return {sniff_error::duplicate_name, "more than one host_name in server_name"};
        }
        have_host_name = true;
        if (value.empty()) {
            return {sniff_error::bad_name, "server_name host_name is empty"};
        }
        if (!std::all_of(value.begin(), value.end(), is_host_name_char)) {
            return {sniff_error::bad_name, "server_name host_name has a character other than letters, "
                                           "digits, '-', '.' and '_'"};
        }
        name = normalise_name(std::string_view(reinterpret_cast<const char*>(value.data()), value.size()));
        if (name.empty()) {
            return {sniff_error::bad_name, "server_name host_name is only a dot"};
        }
    }
    if (!have_host_name) {
        name.clear();
    }
    return {};
}

problem parse_alpn(std::span<const std::uint8_t> data, std::vector<std::string>& protocols) {
    reader r(data);
    std::uint16_t list_length = 0;
    if (!r.read_u16(list_length)) {
        return malformed("ALPN extension is truncated");
    }
    if (list_length != r.remaining()) {
        return malformed("ALPN protocol list length does not match");
    }
    if (list_length == 0) {
        return malformed("ALPN protocol list is empty");
    }
    while (!r.empty()) {
        std::uint8_t length = 0;
        std::span<const std::uint8_t> value;
        r.read_u8(length); // cannot fail: the loop runs only while bytes remain
        if (length == 0) {
            return malformed("ALPN protocol name is empty");
        }
        if (!r.read(length, value)) {
            return malformed("ALPN protocol name length exceeds the list");
        }
        protocols.emplace_back(reinterpret_cast<const char*>(value.data()), value.size());
    }
    return {};
}

// `body` is the whole ClientHello message, without its 4-byte handshake header.
sniff_result parse_client_hello(std::span<const std::uint8_t> body) {
    reader r(body);
    std::uint8_t session_id_length = 0;
    if (!r.skip(2 + 32) || !r.read_u8(session_id_length)) { // legacy_version, random
        return invalid(malformed("ClientHello is truncated before session_id"));
    }
    if (session_id_length > max_session_id) {
        return invalid(malformed("ClientHello session_id is longer than 32 bytes"));
    }
    std::uint16_t cipher_suites_length = 0;
    if (!r.skip(session_id_length) || !r.read_u16(cipher_suites_length)) {
        return invalid(malformed("ClientHello is truncated before cipher_suites"));
    }
    if (cipher_suites_length < 2 || cipher_suites_length % 2 != 0) {
        return invalid(malformed("ClientHello cipher_suites length is odd or zero"));
    }
    std::uint8_t compression_methods_length = 0;
    if (!r.skip(cipher_suites_length) || !r.read_u8(compression_methods_length)) {
        return invalid(malformed("ClientHello is truncated before compression_methods"));
    }
    if (compression_methods_length == 0) {
        return invalid(malformed("ClientHello has no compression method"));
    }
    if (!r.skip(compression_methods_length)) {
        return invalid(malformed("ClientHello compression_methods length exceeds the message"));
    }

    sniff_result result;
    result.status = sniff_status::no_name;
    if (r.empty()) {
        return result; // a ClientHello may end without extensions (RFC 5246 §7.4.1.2)
    }
    std::uint16_t extensions_length = 0;
    if (!r.read_u16(extensions_length) || extensions_length != r.remaining()) {
        return invalid(malformed("ClientHello extensions length does not match"));
    }
    std::bitset<65536> seen; // 8 KiB: linear in the extension count, unlike a pairwise search
    while (!r.empty()) {
        std::uint16_t type = 0;
        std::uint16_t length = 0;
        std::span<const std::uint8_t> data;
        if (!r.read_u16(type) || !r.read_u16(length)) {
            return invalid(malformed("ClientHello extension header is truncated"));
        }
        if (!r.read(length, data)) {
            return invalid(malformed("ClientHello extension length exceeds the extensions block"));
        }
        if (seen.test(type)) {
            return invalid(type == extension_server_name
                               ? problem{sniff_error::duplicate_name, "more than one server_name extension"}
                               : malformed("ClientHello has the same extension type twice"));
        }
        seen.set(type);
        problem p;
        if (type == extension_server_name) {
            p = parse_server_name(data, result.name);
        } else if (type == extension_alpn) {
            p = parse_alpn(data, result.alpn);
        }
        if (p.detail != nullptr) {
            return invalid(p);
        }
    }
    if (!result.name.empty()) {
        result.status = sniff_status::found;
    }
    return result;
}

// Runs each time a record completes: the handshake header is checked as soon as it is
// there, the ClientHello parsed once it is whole. need_more means "wait for another record".
sniff_result on_record(std::span<const std::uint8_t> handshake, std::size_t records, const tls_limits& limits) {
    if (handshake[0] != handshake_client_hello) {
        return invalid(malformed("first handshake message is not a ClientHello"));
    }
    if (handshake.size() >= handshake_header_size) {
        const std::size_t needed = handshake_header_size + read_u24(handshake.data() + 1);
        // Fail as soon as the declared length shows the message cannot fit, rather than
        // after the client has sent (or stalled on) the bytes that would prove it.
        const std::size_t fewest_records = (needed + max_record_length - 1) / max_record_length;
        if (needed + fewest_records * record_header_size > limits.max_bytes) {
            return invalid({sniff_error::too_large, "ClientHello is larger than the byte limit"});
        }
        if (fewest_records > limits.max_records) {
            return invalid({sniff_error::too_many_records, "ClientHello needs more records than allowed"});
        }
        if (handshake.size() >= needed) {
            return parse_client_hello(handshake.subspan(handshake_header_size, needed - handshake_header_size));
        }
    }
    if (records >= limits.max_records) {
        return invalid({sniff_error::too_many_records, "ClientHello spans more records than allowed"});
    }
    return {};
}

} // namespace

tls_sniffer::tls_sniffer(tls_limits limits) noexcept : limits_(limits) {}

sniff_result tls_sniffer::parse(std::span<const std::uint8_t> data) {
    if (done_) {
        return result_;
    }
    const auto finish = [this](sniff_result result) {
        done_ = true;
        result_ = std::move(result);
        handshake_ = {}; // the verdict is kept; the reassembly buffer is not needed any more
        return result_;
    };
    // Bytes past the limit are never looked at, so the verdict on a long buffer is the
    // same whether it arrived at once or in pieces.
    const std::span<const std::uint8_t> view = data.first(std::min(data.size(), limits_.max_bytes));
    while (record_offset_ <= view.size()) {
        const std::span<const std::uint8_t> rest = view.subspan(record_offset_);
        const std::span<const std::uint8_t> header = rest.first(std::min(rest.size(), record_header_size));
        if (const problem p = record_header_problem(header, record_offset_ == 0); p.detail != nullptr) {
            return finish(invalid(p));
        }
        if (header.size() < record_header_size) {
            break;
        }
        const std::size_t length = (std::size_t{header[3]} << 8) | header[4];
        if (rest.size() < record_header_size + length) {
            break; // the work waits until the record is whole: 1-byte reads stay linear
        }
        const auto fragment = rest.subspan(record_header_size, length);
        handshake_.insert(handshake_.end(), fragment.begin(), fragment.end());
        record_offset_ += record_header_size + length;
        ++records_;
        if (sniff_result r = on_record(handshake_, records_, limits_); r.status != sniff_status::need_more) {
            return finish(std::move(r));
        }
    }
    if (data.size() > limits_.max_bytes) {
        return finish(invalid({sniff_error::too_large, "ClientHello is not complete within the byte limit"}));
    }
    return {};
}

sniff_result sniff_tls(std::span<const std::uint8_t> data, tls_limits limits) {
    return tls_sniffer(limits).parse(data);
}

} // namespace kiagateway
