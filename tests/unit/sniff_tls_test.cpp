// Unit tests for the TLS ClientHello sniffer: hand-built hellos varied field by field, and real captures.
#include "sniff_test_support.hpp"
#include "sniff_tls.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace kiagateway;
using namespace kiagateway::test;
using byte_vector = std::vector<std::uint8_t>;

// ---- A small ClientHello builder: every part is plain bytes, so a test can break any one of them.

void put_u8(byte_vector& out, std::size_t value) { out.push_back(static_cast<std::uint8_t>(value)); }

void put_u16(byte_vector& out, std::size_t value) {
    put_u8(out, value >> 8);
    put_u8(out, value & 0xff);
}

void put_u24(byte_vector& out, std::size_t value) {
    put_u8(out, value >> 16);
    put_u16(out, value & 0xffff);
}

void put(byte_vector& out, const byte_vector& more) { out.insert(out.end(), more.begin(), more.end()); }

void put(byte_vector& out, std::string_view text) { out.insert(out.end(), text.begin(), text.end()); }

// A vector<...> with a 2-byte length in front, as TLS writes them.
byte_vector with_u16_length(const byte_vector& content) {
    byte_vector out;
    put_u16(out, content.size());
    put(out, content);
    return out;
}

byte_vector extension(std::uint16_t type, const byte_vector& data) {
    byte_vector out;
    put_u16(out, type);
    put_u16(out, data.size());
    put(out, data);
    return out;
}

byte_vector server_name_entry(std::uint8_t name_type, std::string_view name) {
    byte_vector out;
    put_u8(out, name_type);
    put_u16(out, name.size());
    put(out, name);
    return out;
}

byte_vector server_name_ext(std::initializer_list<byte_vector> entries) {
    byte_vector list;
    for (const byte_vector& entry : entries) {
        put(list, entry);
    }
    return extension(0, with_u16_length(list));
}

byte_vector sni(std::string_view name) { return server_name_ext({server_name_entry(0, name)}); }

byte_vector alpn(std::initializer_list<std::string_view> protocols) {
    byte_vector list;
    for (std::string_view protocol : protocols) {
        put_u8(list, protocol.size());
        put(list, protocol);
    }
    return extension(16, with_u16_length(list));
}

byte_vector padding(std::size_t size) { return extension(21, byte_vector(size, 0)); }

struct client_hello {
    std::uint16_t legacy_version = 0x0303;
    byte_vector session_id = byte_vector(32, 0x5a);
    byte_vector cipher_suites = {0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f};
    byte_vector compression_methods = {0x00};
    std::vector<byte_vector> extensions;
    bool extensions_block = true;                 // false: the hello ends after compression_methods
    std::optional<std::size_t> extensions_length; // overrides the true length of the block

    byte_vector body() const {
        byte_vector out;
        put_u16(out, legacy_version);
        put(out, byte_vector(32, 0xa5)); // random
        put_u8(out, session_id.size());
        put(out, session_id);
        put_u16(out, cipher_suites.size());
        put(out, cipher_suites);
        put_u8(out, compression_methods.size());
        put(out, compression_methods);
        if (extensions_block) {
            byte_vector block;
            for (const byte_vector& e : extensions) {
                put(block, e);
            }
            put_u16(out, extensions_length.value_or(block.size()));
            put(out, block);
        }
        return out;
    }

    // The handshake message: type 1, 3-byte length, body.
    byte_vector message() const { return handshake_message(1, body()); }

    static byte_vector handshake_message(std::uint8_t type, const byte_vector& body) {
        byte_vector out;
        put_u8(out, type);
        put_u24(out, body.size());
        put(out, body);
        return out;
    }
};

byte_vector record(std::uint8_t content_type, std::uint16_t version, const byte_vector& payload) {
    byte_vector out;
    put_u8(out, content_type);
    put_u16(out, version);
    put_u16(out, payload.size());
    put(out, payload);
    return out;
}

// Handshake bytes cut into records of the given fragment sizes; the last record takes what is left.
byte_vector records(const byte_vector& handshake, const std::vector<std::size_t>& sizes,
                    std::uint16_t version = 0x0301) {
    byte_vector out;
    std::size_t at = 0;
    for (std::size_t size : sizes) {
        REQUIRE(at < handshake.size()); // the test meant every record to carry bytes
        const std::size_t n = std::min(size, handshake.size() - at);
        put(out, record(22, version, byte_vector(handshake.begin() + at, handshake.begin() + at + n)));
        at += n;
    }
    if (at < handshake.size()) {
        put(out, record(22, version, byte_vector(handshake.begin() + at, handshake.end())));
    }
    return out;
}

// Handshake bytes in records of at most `fragment` bytes each.
byte_vector records_of(const byte_vector& handshake, std::size_t fragment) {
    const std::size_t count = (handshake.size() + fragment - 1) / fragment;
    return records(handshake, std::vector<std::size_t>(count, fragment));
}

byte_vector wire(const client_hello& hello) { return records(hello.message(), {}); }

client_hello typical_hello() {
    client_hello hello;
    hello.extensions = {extension(0x0a0a, {}), sni("www.example.com"), extension(43, {0x02, 0x03, 0x04}),
                        alpn({"h2", "http/1.1"})};
    return hello;
}

// A hello whose message is exactly `size` bytes, grown with a padding extension.
client_hello hello_of_size(std::size_t size) {
    client_hello hello = typical_hello();
    const std::size_t base = hello.message().size() + 4; // + an empty padding extension
    REQUIRE(size >= base);
    hello.extensions.push_back(padding(size - base));
    REQUIRE(hello.message().size() == size);
    return hello;
}

byte_vector prefix(const byte_vector& data, std::size_t n) { return byte_vector(data.begin(), data.begin() + n); }

sniff_result sniff(const byte_vector& data, tls_limits limits = {}) { return sniff_tls(data, limits); }

sniff_result sniff(const client_hello& hello) { return sniff(wire(hello)); }

sniff_result with_extensions(std::vector<byte_vector> extensions) {
    client_hello hello;
    hello.extensions = std::move(extensions);
    return sniff(hello);
}

} // namespace

TEST_CASE("tls: SNI and ALPN come from a ClientHello", "[tls]") {
    SECTION("a typical hello") {
        const sniff_result r = sniff(typical_hello());
        INFO(describe(r));
        REQUIRE(r.status == sniff_status::found);
        REQUIRE(r.error == sniff_error::none);
        REQUIRE(std::string_view(r.detail).empty());
        REQUIRE(r.name == "www.example.com");
        REQUIRE(r.alpn == std::vector<std::string>{"h2", "http/1.1"});
    }
    SECTION("the name is normalised: lower case, one trailing dot removed") {
        REQUIRE(with_extensions({sni("WWW.Example.COM.")}).name == "www.example.com");
    }
    SECTION("underscores, digits and hyphens are accepted") {
        REQUIRE(with_extensions({sni("_acme-1.Example.com")}).name == "_acme-1.example.com");
    }
    SECTION("SNI without ALPN is found, with no ALPN") {
        const sniff_result r = with_extensions({sni("a.example")});
        REQUIRE(r.status == sniff_status::found);
        REQUIRE(r.name == "a.example");
        REQUIRE(r.alpn.empty());
    }
    SECTION("ALPN without SNI is no_name, and still lists ALPN") {
        const sniff_result r = with_extensions({alpn({"http/1.1"})});
        REQUIRE(r.status == sniff_status::no_name);
        REQUIRE(r.name.empty());
        REQUIRE(r.alpn == std::vector<std::string>{"http/1.1"});
    }
    SECTION("a hello without any extensions block is no_name") {
        client_hello hello;
        hello.extensions_block = false;
        REQUIRE(sniff(hello).status == sniff_status::no_name);
    }
    SECTION("an empty extensions block is no_name") { REQUIRE(with_extensions({}).status == sniff_status::no_name); }
    SECTION("every record version from 3.0 to 3.4 is accepted") {
        for (std::uint16_t version = 0x0300; version <= 0x0304; ++version) {
            CAPTURE(version);
            REQUIRE(sniff(records(typical_hello().message(), {}, version)).status == sniff_status::found);
        }
    }
    SECTION("empty session_id, one cipher suite, several compression methods, old legacy_version") {
        client_hello hello = typical_hello();
        hello.session_id.clear();
        hello.cipher_suites = {0x00, 0x2f};
        hello.compression_methods = {0x01, 0x00};
        hello.legacy_version = 0x0301;
        REQUIRE(sniff(hello).name == "www.example.com");
    }
    SECTION("bytes after the ClientHello are not looked at") {
        byte_vector data = wire(typical_hello());
        put(data, record(23, 0x0303, {1, 2, 3})); // e.g. early application data
        REQUIRE(sniff(data).status == sniff_status::found);
        byte_vector in_record = typical_hello().message();
        put(in_record, byte_vector{2, 0, 0}); // the start of another handshake message
        REQUIRE(sniff(records(in_record, {})).status == sniff_status::found);
    }
}

TEST_CASE("tls: bytes that are not a TLS handshake fail on the first byte", "[tls]") {
    for (std::uint8_t first : std::initializer_list<std::uint8_t>{0x80, 0x81, 0xff, 0x00, 0x14, 0x15, 0x17, 'G', 'P'}) {
        CAPTURE(first);
        const sniff_result r = sniff(byte_vector{first});
        REQUIRE(r.status == sniff_status::invalid);
        REQUIRE(r.error == sniff_error::malformed);
        REQUIRE(std::string_view(r.detail) ==
                ((first & 0x80) != 0 ? "SSLv2-style ClientHello is not supported" : "not a TLS handshake record"));
    }
    SECTION("a whole SSLv2-style hello") {
        const byte_vector v2 = {0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10};
        REQUIRE(sniff(v2).status == sniff_status::invalid);
    }
    SECTION("the record version is checked byte by byte") {
        REQUIRE(sniff(byte_vector{0x16}).status == sniff_status::need_more);
        require_invalid(sniff(byte_vector{0x16, 0x02}), sniff_error::malformed, "record version is not 3.x");
        REQUIRE(sniff(byte_vector{0x16, 0x03, 0x04}).status == sniff_status::need_more);
        require_invalid(sniff(byte_vector{0x16, 0x03, 0x05}), sniff_error::malformed,
                        "record version is newer than 3.4");
    }
}

TEST_CASE("tls: record lengths", "[tls]") {
    SECTION("a zero-length record fails on its header") {
        require_invalid(sniff(byte_vector{0x16, 0x03, 0x01, 0x00, 0x00}), sniff_error::malformed,
                        "zero-length handshake record");
    }
    SECTION("a record longer than 16384 fails on its header") {
        require_invalid(sniff(byte_vector{0x16, 0x03, 0x01, 0x40, 0x01}), sniff_error::malformed,
                        "record length exceeds 16384");
        REQUIRE(sniff(byte_vector{0x16, 0x03, 0x01, 0x40, 0x00}).status == sniff_status::need_more);
    }
    SECTION("a record of exactly 16384 bytes") {
        const byte_vector data = wire(hello_of_size(16384));
        REQUIRE(data.size() == 16384 + 5);
        REQUIRE(sniff(data).name == "www.example.com");
    }
    SECTION("the header of a later record is checked as well") {
        const byte_vector message = typical_hello().message();
        byte_vector data = records(prefix(message, 20), {});
        put(data, record(22, 0x0301, {}));
        require_invalid(sniff(data), sniff_error::malformed, "zero-length handshake record");

        data = records(prefix(message, 20), {});
        put(data, record(21, 0x0301, {2, 40})); // an alert between fragments
        require_invalid(sniff(data), sniff_error::malformed, "not a TLS handshake record");

        data = records(prefix(message, 20), {});
        put(data, byte_vector{0x96});
        require_invalid(sniff(data), sniff_error::malformed, "not a TLS handshake record");
    }
}

TEST_CASE("tls: the handshake is reassembled across records", "[tls]") {
    const byte_vector message = typical_hello().message();
    SECTION("the 4-byte handshake header split over three records") {
        const sniff_result r = sniff(records(message, {1, 2, 1, 30}));
        REQUIRE(r.status == sniff_status::found);
        REQUIRE(r.name == "www.example.com");
        REQUIRE(r.alpn == std::vector<std::string>{"h2", "http/1.1"});
    }
    SECTION("a large ClientHello over several full records") {
        const byte_vector data = records_of(hello_of_size(30000).message(), 16384);
        REQUIRE(data.size() == 30000 + 2 * 5);
        REQUIRE(sniff(data).name == "www.example.com");
    }
    SECTION("a large ClientHello over seven records of 3000 bytes") {
        const sniff_result r = sniff(records_of(hello_of_size(20000).message(), 3000));
        REQUIRE(r.status == sniff_status::found);
        REQUIRE(r.alpn.size() == 2);
    }
    SECTION("eight records are allowed") {
        const byte_vector data = records(message, {10, 10, 10, 10, 10, 10, 10});
        REQUIRE(data.size() == message.size() + 8 * 5);
        REQUIRE(sniff(data).status == sniff_status::found);
    }
    SECTION("a ninth record is refused when the eighth ends and the hello is still incomplete") {
        const byte_vector data = records(message, {10, 10, 10, 10, 10, 10, 10, 10});
        const std::size_t end_of_eighth = 8 * (5 + 10);
        REQUIRE(sniff(prefix(data, end_of_eighth - 1)).status == sniff_status::need_more);
        require_invalid(sniff(prefix(data, end_of_eighth)), sniff_error::too_many_records,
                        "ClientHello spans more records than allowed");
        require_invalid(sniff(data), sniff_error::too_many_records, "ClientHello spans more records than allowed");
    }
    SECTION("the record limit is configurable") {
        const byte_vector data = records(message, {10, 10});
        REQUIRE(sniff(data, {.max_bytes = 32768, .max_records = 3}).status == sniff_status::found);
        REQUIRE(sniff(data, {.max_bytes = 32768, .max_records = 2}).error == sniff_error::too_many_records);
    }
    SECTION("a declared length that no allowed number of records can carry fails on the first record") {
        const byte_vector big = hello_of_size(3 * 16384).message();
        const byte_vector data = records(prefix(big, 100), {});
        const tls_limits limits{.max_bytes = 1 << 20, .max_records = 2};
        require_invalid(sniff(data, limits), sniff_error::too_many_records,
                        "ClientHello needs more records than allowed");
    }
    SECTION("the first handshake message must be a ClientHello") {
        const byte_vector server_hello = client_hello::handshake_message(2, typical_hello().body());
        require_invalid(sniff(records(prefix(server_hello, 1), {})), sniff_error::malformed,
                        "first handshake message is not a ClientHello");
    }
}

TEST_CASE("tls: the byte limit", "[tls]") {
    SECTION("a declared length over the limit fails on the first record") {
        const byte_vector data = records(prefix(hello_of_size(40000).message(), 16384), {});
        require_invalid(sniff(data), sniff_error::too_large, "ClientHello is larger than the byte limit");
    }
    SECTION("a small configured limit") {
        const byte_vector message = hello_of_size(300).message();
        const tls_limits limits{.max_bytes = 200, .max_records = 8};
        require_invalid(sniff(records(message, {100}), limits), sniff_error::too_large,
                        "ClientHello is larger than the byte limit");
        // In one record, the record itself never completes within the limit.
        const byte_vector one_record = records(message, {});
        REQUIRE(sniff(prefix(one_record, 200), limits).status == sniff_status::need_more);
        require_invalid(sniff(prefix(one_record, 201), limits), sniff_error::too_large,
                        "ClientHello is not complete within the byte limit");
    }
    SECTION("a hello that ends exactly at the limit is found, whatever follows it") {
        byte_vector data = wire(typical_hello());
        const tls_limits limits{.max_bytes = data.size(), .max_records = 8};
        REQUIRE(sniff(data, limits).status == sniff_status::found);
        put(data, byte_vector(100, 0x17));
        REQUIRE(sniff(data, limits).status == sniff_status::found);
        const tls_limits one_short{.max_bytes = limits.max_bytes - 1, .max_records = 8};
        REQUIRE(sniff(data, one_short).error == sniff_error::too_large);
    }
    SECTION("a stalled hello is need_more up to the limit and too_large past it") {
        // Several records that never finish the declared message.
        const byte_vector data = records_of(hello_of_size(32700).message(), 1000);
        REQUIRE(data.size() > 32768);
        const tls_limits limits{.max_bytes = 32768, .max_records = 64};
        REQUIRE(sniff(prefix(data, 32768), limits).status == sniff_status::need_more);
        require_invalid(sniff(prefix(data, 32769), limits), sniff_error::too_large,
                        "ClientHello is not complete within the byte limit");
    }
}

TEST_CASE("tls: ClientHello fields", "[tls]") {
    SECTION("every truncation of the body before the extensions is invalid") {
        const client_hello hello = typical_hello();
        const byte_vector body = hello.body();
        client_hello bare = hello;
        bare.extensions_block = false;
        const std::size_t extensions_at = bare.body().size();
        for (std::size_t n = 0; n < body.size(); ++n) {
            CAPTURE(n);
            const sniff_result r = sniff(records(client_hello::handshake_message(1, prefix(body, n)), {}));
            if (n == extensions_at) {
                REQUIRE(r.status == sniff_status::no_name); // a hello may end without extensions
            } else {
                REQUIRE(r.status == sniff_status::invalid);
                REQUIRE(r.error == sniff_error::malformed);
            }
        }
    }
    SECTION("session_id") {
        client_hello hello = typical_hello();
        hello.session_id = byte_vector(33, 1);
        require_invalid(sniff(hello), sniff_error::malformed, "ClientHello session_id is longer than 32 bytes");
    }
    SECTION("cipher_suites must be an even, non-zero length") {
        client_hello hello = typical_hello();
        hello.cipher_suites = {0x13, 0x01, 0x13};
        require_invalid(sniff(hello), sniff_error::malformed, "ClientHello cipher_suites length is odd or zero");
        hello.cipher_suites.clear();
        require_invalid(sniff(hello), sniff_error::malformed, "ClientHello cipher_suites length is odd or zero");
    }
    SECTION("at least one compression method") {
        client_hello hello = typical_hello();
        hello.compression_methods.clear();
        require_invalid(sniff(hello), sniff_error::malformed, "ClientHello has no compression method");
    }
    SECTION("the extensions length must match what remains") {
        client_hello hello = typical_hello();
        client_hello bare;
        bare.extensions_block = false;
        const std::size_t real = hello.body().size() - bare.body().size() - 2;
        for (std::size_t wrong : {real - 1, real + 1, std::size_t{0}}) {
            CAPTURE(wrong);
            hello.extensions_length = wrong;
            require_invalid(sniff(hello), sniff_error::malformed, "ClientHello extensions length does not match");
        }
    }
    SECTION("one stray byte where the extensions length would be") {
        client_hello hello;
        hello.extensions_block = false;
        byte_vector body = hello.body();
        body.push_back(0);
        require_invalid(sniff(records(client_hello::handshake_message(1, body), {})), sniff_error::malformed,
                        "ClientHello extensions length does not match");
    }
    SECTION("an extension longer than the block") {
        require_invalid(with_extensions({sni("a.example"), byte_vector{0x00, 0x10, 0x00, 0x05, 0x00, 0x03}}),
                        sniff_error::malformed, "ClientHello extension length exceeds the extensions block");
    }
    SECTION("an extension header cut short") {
        require_invalid(with_extensions({sni("a.example"), byte_vector{0x00, 0x10, 0x00}}), sniff_error::malformed,
                        "ClientHello extension header is truncated");
    }
    SECTION("the same extension type twice") {
        require_invalid(with_extensions({alpn({"h2"}), sni("a.example"), alpn({"h2"})}), sniff_error::malformed,
                        "ClientHello has the same extension type twice");
        require_invalid(with_extensions({extension(43, {}), extension(43, {})}), sniff_error::malformed,
                        "ClientHello has the same extension type twice");
    }
    SECTION("two server_name extensions are a duplicate name") {
        require_invalid(with_extensions({sni("a.example"), sni("a.example")}), sniff_error::duplicate_name,
                        "more than one server_name extension");
    }
}

TEST_CASE("tls: the server_name extension", "[tls]") {
    const byte_vector entry = server_name_entry(0, "a.example");
    SECTION("the list length must match the extension") {
        byte_vector data;
        put_u16(data, entry.size() + 1);
        put(data, entry);
        require_invalid(with_extensions({extension(0, data)}), sniff_error::malformed,
                        "server_name list length does not match");
        data.clear();
        put_u16(data, entry.size() - 1);
        put(data, entry);
        require_invalid(with_extensions({extension(0, data)}), sniff_error::malformed,
                        "server_name list length does not match");
    }
    SECTION("an empty list, or no list at all") {
        require_invalid(with_extensions({extension(0, {0, 0})}), sniff_error::malformed, "server_name list is empty");
        require_invalid(with_extensions({extension(0, {0})}), sniff_error::malformed,
                        "server_name extension is truncated");
    }
    SECTION("an entry longer than the list") {
        require_invalid(with_extensions({extension(0, with_u16_length({0, 0, 10, 'a', 'b'}))}), sniff_error::malformed,
                        "server_name entry length exceeds the list");
        require_invalid(with_extensions({extension(0, with_u16_length({0, 0}))}), sniff_error::malformed,
                        "server_name entry is truncated");
    }
    SECTION("an empty host_name") {
        require_invalid(with_extensions({sni("")}), sniff_error::bad_name, "server_name host_name is empty");
    }
    SECTION("characters other than letters, digits, '-', '.' and '_'") {
        using namespace std::string_literals;
        for (const std::string& name : {"a.exam\0ple"s, "a.example\0"s, "a example"s,
                                        "b\xc3\xbc"
                                        "cher.example"s,
                                        "a/b"s, "a*.example"s, "a:443"s, "a\r\n"s}) {
            CAPTURE(name);
            require_invalid(with_extensions({sni(name)}), sniff_error::bad_name,
                            "server_name host_name has a character other than letters, digits, '-', '.' and '_'");
        }
    }
    SECTION("a name that normalises to nothing") {
        require_invalid(with_extensions({sni(".")}), sniff_error::bad_name, "server_name host_name is only a dot");
    }
    SECTION("two host_name entries in one list") {
        require_invalid(with_extensions({server_name_ext({entry, server_name_entry(0, "b.example")})}),
                        sniff_error::duplicate_name, "more than one host_name in server_name");
    }
    SECTION("unknown name types are skipped") {
        const sniff_result r = with_extensions({server_name_ext({server_name_entry(7, "x"), entry})});
        REQUIRE(r.status == sniff_status::found);
        REQUIRE(r.name == "a.example");
        // Unknown types may hold any bytes; only host_name is checked.
        REQUIRE(with_extensions({server_name_ext({server_name_entry(1, std::string_view("\0 /", 3))})}).status ==
                sniff_status::no_name);
    }
}

TEST_CASE("tls: the ALPN extension", "[tls]") {
    SECTION("protocol names are kept in order, as bytes") {
        const sniff_result r =
            with_extensions({sni("a.example"), alpn({"http/1.1", "h2", std::string_view("\x0a\x0a", 2)})});
        REQUIRE(r.alpn == std::vector<std::string>{"http/1.1", "h2", "\x0a\x0a"});
    }
    SECTION("the list length must match the extension") {
        require_invalid(with_extensions({sni("a.example"), extension(16, {0, 4, 2, 'h', '2'})}), sniff_error::malformed,
                        "ALPN protocol list length does not match");
        require_invalid(with_extensions({sni("a.example"), extension(16, {0, 2, 2, 'h', '2'})}), sniff_error::malformed,
                        "ALPN protocol list length does not match");
        require_invalid(with_extensions({sni("a.example"), extension(16, {})}), sniff_error::malformed,
                        "ALPN extension is truncated");
    }
    SECTION("empty lists and names") {
        require_invalid(with_extensions({sni("a.example"), extension(16, {0, 0})}), sniff_error::malformed,
                        "ALPN protocol list is empty");
        require_invalid(with_extensions({sni("a.example"), extension(16, with_u16_length({2, 'h', '2', 0}))}),
                        sniff_error::malformed, "ALPN protocol name is empty");
    }
    SECTION("a name longer than the list") {
        require_invalid(with_extensions({sni("a.example"), extension(16, with_u16_length({2, 'h', '2', 5, 'x'}))}),
                        sniff_error::malformed, "ALPN protocol name length exceeds the list");
    }
}

TEST_CASE("tls: a verdict is returned again on later calls", "[tls]") {
    SECTION("invalid stays invalid") {
        tls_sniffer sniffer;
        const byte_vector garbage = {'G', 'E', 'T'};
        REQUIRE(sniffer.parse(garbage).status == sniff_status::invalid);
        const sniff_result again = sniffer.parse(wire(typical_hello()));
        REQUIRE(again.status == sniff_status::invalid);
        REQUIRE(std::string_view(again.detail) == "not a TLS handshake record");
    }
    SECTION("found stays found") {
        tls_sniffer sniffer;
        byte_vector data = wire(typical_hello());
        REQUIRE(sniffer.parse(data).name == "www.example.com");
        put(data, byte_vector(64, 0xff));
        const sniff_result again = sniffer.parse(data);
        REQUIRE(again.status == sniff_status::found);
        REQUIRE(again.name == "www.example.com");
        REQUIRE(again.alpn.size() == 2);
    }
}

TEST_CASE("tls: hand-built hellos give the same verdict however they are split", "[tls][split]") {
    const byte_vector message = typical_hello().message();
    client_hello no_sni;
    no_sni.extensions = {alpn({"h2"})};
    client_hello bad_alpn = typical_hello();
    bad_alpn.extensions.push_back(extension(16, {0, 0}));

    struct input {
        const char* what;
        byte_vector bytes;
        sniff_status status;
    };
    const std::vector<input> inputs = {
        {"one record", wire(typical_hello()), sniff_status::found},
        {"header split over records", records(message, {1, 2, 1, 30, 7}), sniff_status::found},
        {"eight records", records(message, {10, 10, 10, 10, 10, 10, 10}), sniff_status::found},
        {"no SNI", wire(no_sni), sniff_status::no_name},
        {"bad ALPN at the end", wire(bad_alpn), sniff_status::invalid},
        {"nine records", records(message, {10, 10, 10, 10, 10, 10, 10, 10}), sniff_status::invalid},
    };
    for (const input& in : inputs) {
        SECTION(in.what) {
            const split_outcome out = check_splits<tls_sniffer>(in.bytes, tls_limits{});
            REQUIRE(out.result.status == in.status);
            if (in.status != sniff_status::invalid) {
                REQUIRE(out.complete_at == in.bytes.size());
            }
        }
    }
    SECTION("a 30000-byte hello in 16 KiB records") {
        const byte_vector data = records_of(hello_of_size(30000).message(), 16384);
        const split_outcome out = check_splits<tls_sniffer>(data, tls_limits{}, 7);
        REQUIRE(out.result.name == "www.example.com");
        REQUIRE(out.complete_at == data.size());
    }
    SECTION("a stalled hello over the limit") {
        const byte_vector data = records_of(hello_of_size(32700).message(), 1000);
        const split_outcome out = check_splits<tls_sniffer>(data, tls_limits{.max_bytes = 32768, .max_records = 64}, 5);
        REQUIRE(out.result.error == sniff_error::too_large);
        REQUIRE(out.complete_at == 32769);
    }
}

TEST_CASE("tls: captured ClientHellos, split at every byte", "[tls][split][fixtures]") {
    REQUIRE(check_fixtures<tls_sniffer>("tls", tls_limits{}) >= 3);
}

TEST_CASE("sniff result codes have distinct names", "[sniff]") {
    const std::vector<std::string> names = {
        to_string(sniff_status::need_more),
        to_string(sniff_status::found),
        to_string(sniff_status::no_name),
        to_string(sniff_status::invalid),
        to_string(sniff_error::none),
        to_string(sniff_error::too_large),
        to_string(sniff_error::too_many_records),
        to_string(sniff_error::malformed),
        to_string(sniff_error::bad_name),
        to_string(sniff_error::duplicate_name),
        to_string(sniff_error::missing_host),
    };
    REQUIRE(names[1] == "found");
    REQUIRE(names[9] == "duplicate_name");
    for (std::size_t i = 0; i < names.size(); ++i) {
        for (std::size_t j = i + 1; j < names.size(); ++j) {
            REQUIRE(names[i] != names[j]);
        }
        REQUIRE(names[i] != "unknown");
    }
}
