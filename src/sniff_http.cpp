// HTTP/1.x request-head parser: finds the end of the head, checks its grammar and picks the host.
#include "sniff_http.hpp"

#include "name.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace kiagateway {

namespace {

// Leading empty lines a server ignores before the request line (RFC 9112 §2.2 asks for at least one).
constexpr int max_leading_empty_lines = 2;

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 9110 §5.6.2.
bool is_tchar(unsigned char c) {
    return is_alpha(c) || is_digit(c) || (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool is_hex_digit(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 reg-name characters other than '%' (unreserved and sub-delims).
bool is_reg_name_char(unsigned char c) {
    return is_alpha(c) || is_digit(c) || (c != '\0' && std::strchr("-._~!$&'()*+,;=", c) != nullptr);
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

bool starts_with_icase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

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

sniff_result named(sniff_status status, std::string name = {}) {
    sniff_result r;
    r.status = status;
    r.name = std::move(name);
    return r;
}

constexpr const char* not_a_method = "request line does not start with a method token";

// Where the request line starts, past up to two empty lines. Looks only at the first few
// bytes, so a TLS handshake or other binary sent to the HTTP port fails on its first byte.
struct request_line_start {
    bool complete = false; // false: need more bytes to know
    problem error;
    std::size_t offset = 0;
};

request_line_start find_request_line(std::string_view data) {
    std::size_t pos = 0;
    for (int empty_lines = 0;; ++empty_lines) {
        if (empty_lines > max_leading_empty_lines) {
            return {true, malformed("more than two empty lines before the request line")};
        }
        if (pos >= data.size()) {
            return {};
        }
        if (data[pos] == '\n') {
            pos += 1;
        } else if (data[pos] == '\r') {
            if (pos + 1 >= data.size()) {
                return {};
            }
            if (data[pos + 1] != '\n') {
                return {true, malformed(not_a_method)};
            }
            pos += 2;
        } else if (is_tchar(static_cast<unsigned char>(data[pos]))) {
            return {true, {}, pos};
        } else {
            return {true, malformed(not_a_method)};
        }
    }
}

// One line without its LF and without one CR before it.
std::string_view chomp(std::string_view line) {
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return line;
}

struct request_line {
    bool prior_knowledge = false; // "PRI * HTTP/2.0": the h2c preface, no Host to find
    bool http_1_1 = false;
    bool absolute_form = false;
    std::string target_name; // the host of an absolute-form target
};

problem parse_request_line(std::string_view line, request_line& out) {
    if (line == "PRI * HTTP/2.0") {
        out.prior_knowledge = true;
        return {};
    }
    std::size_t pos = 0;
    while (pos < line.size() && is_tchar(static_cast<unsigned char>(line[pos]))) {
        ++pos;
    }
    if (pos == 0) {
        return malformed(not_a_method);
    }
    if (pos == line.size() || line[pos] != ' ') {
        return malformed("request method is not a token followed by one space");
    }
    const std::size_t target_start = ++pos;
    while (pos < line.size() && static_cast<unsigned char>(line[pos]) > ' ' && line[pos] != '\x7f') {
        ++pos;
    }
    const std::string_view target = line.substr(target_start, pos - target_start);
    if (target.empty()) {
        return malformed("request target is missing or after more than one space");
    }
    if (pos == line.size()) {
        return malformed("request line has no HTTP version");
    }
    if (line[pos] != ' ') {
        return malformed("request target has whitespace or a control character");
    }
    const std::string_view version = line.substr(pos + 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        return malformed("HTTP version is not HTTP/1.0 or HTTP/1.1");
    }
    out.http_1_1 = version == "HTTP/1.1";

    // RFC 9112 §3.2.2: the authority of an absolute-form target wins over Host.
    std::string_view rest;
    if (starts_with_icase(target, "http://")) {
        rest = target.substr(7);
    } else if (starts_with_icase(target, "https://")) {
        rest = target.substr(8);
    } else {
        return {};
    }
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos) {
        return {sniff_error::bad_name, "request target has userinfo"};
    }
    if (!parse_host_authority(authority, out.target_name)) {
        return {sniff_error::bad_name, "request target has no valid host[:port]"};
    }
    out.absolute_form = true;
    return {};
}

struct host_header {
    int count = 0;
    std::string name; // empty for an empty Host value
};

problem parse_header_line(std::string_view line, host_header& host) {
    if (is_ows(line.front())) {
        // RFC 9112 §5.2: obs-fold; also whitespace before the first header (§2.2).
        return malformed("header line starts with whitespace (obsolete line folding)");
    }
    std::size_t pos = 0;
    while (pos < line.size() && is_tchar(static_cast<unsigned char>(line[pos]))) {
        ++pos;
    }
    if (pos == line.size()) {
        return malformed("header line has no colon");
    }
    if (line[pos] != ':') {
        return malformed(is_ows(line[pos]) ? "whitespace between header field name and colon"
                                           : "header field name is not a token");
    }
    if (pos == 0) {
        return malformed("header field name is empty");
    }
    const std::string_view field_name = line.substr(0, pos);
    std::string_view value = line.substr(pos + 1);
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) {
            return malformed("header field value has a control character");
        }
    }
    while (!value.empty() && is_ows(value.front())) {
        value.remove_prefix(1);
    }
    while (!value.empty() && is_ows(value.back())) {
        value.remove_suffix(1);
    }
    if (!iequals(field_name, "host")) {
        return {};
    }
    if (++host.count > 1) {
        return {sniff_error::duplicate_name, "more than one Host header"};
    }
    if (!value.empty() && !parse_host_authority(value, host.name)) {
        return {sniff_error::bad_name, "Host header is not a valid host[:port]"};
    }
    return {};
}

// The verdict on a complete head: `head` runs from the request line to the LF of the
// empty line that ends it.
sniff_result parse_head(std::string_view head) {
    request_line request;
    const std::size_t line_end = head.find('\n');
    if (const problem p = parse_request_line(chomp(head.substr(0, line_end)), request); p.detail != nullptr) {
        return invalid(p);
    }
    host_header host;
    for (std::size_t start = line_end + 1;;) {
        const std::size_t end = head.find('\n', start);
        const std::string_view line = chomp(head.substr(start, end - start));
        if (line.empty()) {
            break; // the empty line that ends the head
        }
        if (const problem p = parse_header_line(line, host); p.detail != nullptr) {
            return invalid(p);
        }
        start = end + 1;
    }
    if (request.http_1_1 && host.count == 0) {
        // RFC 9112 §3.2: even with an absolute-form target.
        return invalid({sniff_error::missing_host, "HTTP/1.1 request has no Host header"});
    }
    if (request.absolute_form) {
        return named(sniff_status::found, std::move(request.target_name));
    }
    if (host.name.empty()) {
        return named(sniff_status::no_name); // HTTP/1.0 without Host, or an empty Host (RFC 9112 §3.2)
    }
    return named(sniff_status::found, std::move(host.name));
}

} // namespace

http_sniffer::http_sniffer(http_limits limits) noexcept : limits_(limits) {}

sniff_result http_sniffer::parse(std::span<const std::uint8_t> data) {
    if (done_) {
        return result_;
    }
    const auto finish = [this](sniff_result result) {
        done_ = true;
        result_ = std::move(result);
        return result_;
    };
    // Bytes past the limit are never looked at, so the verdict on a long buffer is the
    // same whether it arrived at once or in pieces.
    const std::string_view view(reinterpret_cast<const char*>(data.data()), std::min(data.size(), limits_.max_bytes));
    scanned_ = std::min(scanned_, view.size());

    // Cheap to redo on every call: it reads at most the first six bytes.
    const request_line_start start = find_request_line(view);
    if (start.error.detail != nullptr) {
        return finish(invalid(start.error));
    }
    if (start.complete) {
        for (std::size_t lf = view.find('\n', std::max(scanned_, start.offset)); lf != std::string_view::npos;
             lf = view.find('\n', lf + 1)) {
            if (!request_line_checked_) {
                // Judge the request line as soon as it is whole, before waiting on headers.
                request_line request;
                const problem p = parse_request_line(chomp(view.substr(start.offset, lf - start.offset)), request);
                if (p.detail != nullptr) {
                    return finish(invalid(p));
                }
                if (request.prior_knowledge) {
                    return finish(named(sniff_status::no_name));
                }
                request_line_checked_ = true;
                continue;
            }
            // An LF ends the head when the line before it is empty ("\n\n" or "\n\r\n"); both
            // bytes looked back at lie after the request line's LF, or are that LF.
            if (view[lf - 1] == '\n' || (view[lf - 1] == '\r' && view[lf - 2] == '\n')) {
                return finish(parse_head(view.substr(start.offset, lf + 1 - start.offset)));
            }
        }
        scanned_ = view.size();
    }
    if (data.size() > limits_.max_bytes) {
        return finish(invalid({sniff_error::too_large, "request head is not complete within the byte limit"}));
    }
    return {};
}

sniff_result sniff_http(std::span<const std::uint8_t> data, http_limits limits) {
    return http_sniffer(limits).parse(data);
}

bool parse_host_authority(std::string_view authority, std::string& name) {
    std::string_view host;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        const std::string_view address = authority.substr(1, close - 1);
        // Only the characters of an IPv6 address; no zone id, no IPvFuture.
        if (std::count(address.begin(), address.end(), ':') < 2 ||
            !std::all_of(address.begin(), address.end(),
                         [](char c) { return is_hex_digit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; })) {
            return false;
        }
        host = authority.substr(0, close + 1);
        port = authority.substr(close + 1);
    } else {
        host = authority.substr(0, authority.find(':'));
        port = authority.substr(host.size());
        for (std::size_t i = 0; i < host.size(); ++i) {
            const auto c = static_cast<unsigned char>(host[i]);
            if (c == '%') {
                if (i + 2 >= host.size() || !is_hex_digit(static_cast<unsigned char>(host[i + 1])) ||
                    !is_hex_digit(static_cast<unsigned char>(host[i + 2]))) {
                    return false;
                }
                i += 2;
            } else if (!is_reg_name_char(c)) {
                return false;
            }
        }
    }
    if (!port.empty()) {
        if (port.front() != ':' || !std::all_of(port.begin() + 1, port.end(),
                                                [](char c) { return is_digit(static_cast<unsigned char>(c)); })) {
            return false;
        }
    }
    std::string normalised = normalise_name(host);
    if (normalised.empty()) {
        return false;
    }
    name = std::move(normalised);
    return true;
}

} // namespace kiagateway
