// Sniffer test helpers: feeding bytes in every way a socket may split them, and reading the capture manifest.
#pragma once

#include "sniff.hpp"
#include "test_support.hpp"

#include <cstring>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace kiagateway::test {

inline bool same_result(const sniff_result& a, const sniff_result& b) {
    return a.status == b.status && a.error == b.error && std::strcmp(a.detail, b.detail) == 0 && a.name == b.name &&
           a.alpn == b.alpn;
}

inline std::string describe(const sniff_result& r) {
    std::string text = std::string(to_string(r.status)) + "/" + to_string(r.error) + " '" + r.detail + "' name='" +
                       r.name + "' alpn=[";
    for (const std::string& protocol : r.alpn) {
        text += protocol + ",";
    }
    return text + "]";
}

inline void require_invalid(const sniff_result& r, sniff_error error, std::string_view detail) {
    INFO(describe(r));
    REQUIRE(r.status == sniff_status::invalid);
    REQUIRE(r.error == error);
    REQUIRE(std::string_view(r.detail) == detail);
    REQUIRE(r.name.empty());
}

struct split_outcome {
    sniff_result result;     // the verdict on the whole buffer, in one call
    std::size_t complete_at; // the shortest prefix that gets a verdict (data.size() + 1 when none does)
};

// Feeds `data` one byte a call, and in two calls split at every `stride`-th boundary, and
// requires that every way gives need_more up to one point and the one-call verdict from there on.
template <class Sniffer, class Limits>
split_outcome check_splits(const std::vector<std::uint8_t>& data, Limits limits, std::size_t stride = 1) {
    const std::span<const std::uint8_t> all(data);
    const sniff_result whole = Sniffer(limits).parse(all);
    INFO("one call: " << describe(whole));

    std::size_t complete_at = data.size() + 1;
    Sniffer bytewise(limits);
    for (std::size_t n = 0; n <= data.size(); ++n) {
        const sniff_result r = bytewise.parse(all.first(n));
        if (r.status == sniff_status::need_more) {
            CAPTURE(n, complete_at);
            REQUIRE(complete_at > data.size()); // a verdict, once given, is not taken back
            continue;
        }
        if (complete_at > data.size()) {
            complete_at = n;
        }
        CAPTURE(n, describe(r));
        REQUIRE(same_result(r, whole));
    }

    for (std::size_t n = 1; n < data.size(); n += stride) {
        Sniffer sniffer(limits);
        const sniff_result first = sniffer.parse(all.first(n));
        CAPTURE(n, complete_at, describe(first));
        REQUIRE(first.status == (n < complete_at ? sniff_status::need_more : whole.status));
        REQUIRE(same_result(sniffer.parse(all), whole));
    }
    return {whole, complete_at};
}

struct fixture {
    std::string file;
    std::string protocol;
    std::string name; // empty for '-'
    std::vector<std::string> alpn;
};

inline std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(text);
    while (std::getline(in, part, separator)) {
        parts.push_back(part);
    }
    return parts;
}

// tests/data/fixtures.tsv, read at run time: the captures are made by another tool and
// may be re-captured, so the test follows the manifest rather than a copy of it.
inline std::vector<fixture> read_fixtures() {
    std::ifstream in(data_path("fixtures.tsv"));
    REQUIRE(in);
    std::string line;
    REQUIRE(std::getline(in, line));
    const std::vector<std::string> header = split(line, '\t');
    const auto column = [&](const std::string& name) {
        for (std::size_t i = 0; i < header.size(); ++i) {
            if (header[i] == name) {
                return i;
            }
        }
        FAIL("fixtures.tsv has no column " << name);
        return std::size_t{0};
    };
    const std::size_t file = column("file");
    const std::size_t protocol = column("protocol");
    const std::size_t name = column("name");
    const std::size_t alpn = column("alpn");

    std::vector<fixture> rows;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.empty()) {
            continue;
        }
        const std::vector<std::string> cells = split(line, '\t');
        INFO("fixtures.tsv row: " << line);
        REQUIRE(cells.size() == header.size());
        fixture row{cells[file], cells[protocol], cells[name] == "-" ? "" : cells[name], {}};
        if (cells[alpn] != "-") {
            row.alpn = split(cells[alpn], ',');
        }
        rows.push_back(row);
    }
    REQUIRE(rows.size() >= 5);
    return rows;
}

// Runs check_splits on every capture of `protocol` in the manifest, one SECTION each, and
// requires the manifest's name and ALPN list. Each capture ends where its ClientHello or
// request head ends, so nothing may be decided before the last byte. Returns how many ran.
template <class Sniffer, class Limits> std::size_t check_fixtures(std::string_view protocol, Limits limits) {
    std::size_t count = 0;
    for (const fixture& f : read_fixtures()) {
        if (f.protocol != protocol) {
            continue;
        }
        ++count;
        SECTION(f.file) {
            const std::vector<std::uint8_t> data = read_bytes(data_path(f.file));
            const split_outcome out = check_splits<Sniffer>(data, limits);
            INFO(describe(out.result));
            REQUIRE(out.result.status == (f.name.empty() ? sniff_status::no_name : sniff_status::found));
            REQUIRE(out.result.name == f.name);
            REQUIRE(out.result.alpn == f.alpn);
            REQUIRE(out.complete_at == data.size());
        }
    }
    return count;
}

} // namespace kiagateway::test
