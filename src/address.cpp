// Backend and listener addresses: "host:port" parsing and validation, with no I/O.
#include "address.hpp"

#include "name.hpp"

#include <charconv>

namespace kiagateway {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Splits "host:port" / "[v6]:port"; `bracketed` tells which form was used.
bool split_host_port(std::string_view text, std::string_view& host, std::string_view& port, bool& bracketed,
                     std::string& error) {
    bracketed = false;
    if (text.empty()) {
        error = "the address is empty";
        return false;
    }
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            error = "'[' without a closing ']'";
            return false;
        }
        host = text.substr(1, close - 1);
        bracketed = true;
        const auto rest = text.substr(close + 1);
        if (rest.empty() || rest.front() != ':') {
            error = "a port is required: write \"[" + std::string(host) + "]:PORT\"";
            return false;
        }
        port = rest.substr(1);
        return true;
    }
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        error = "a port is required: write \"" + std::string(text) + ":PORT\"";
        return false;
    }
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
        error = "an IPv6 address must be in brackets: write \"[" + std::string(host) +
                "]:" + std::string(text.substr(colon + 1)) + "\"";
        return false;
    }
    port = text.substr(colon + 1);
    return true;
}

bool parse_port(std::string_view text, unsigned min, std::uint16_t& out, std::string& error) {
    unsigned value = 0;
    if (text.empty()) {
        error = "the port is empty";
        return false;
    }
    for (char c : text) {
        if (!is_digit(c)) {
            error = "port '" + std::string(text) + "' is not a number";
            return false;
        }
    }
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > 65535 || value < min) {
        error = "port " + std::string(text) + " is out of range (" + std::to_string(min) + "-65535)";
        return false;
    }
    out = static_cast<std::uint16_t>(value);
    return true;
}

bool all_digits_and_dots(std::string_view text) {
    for (char c : text) {
        if (!is_digit(c) && c != '.') {
            return false;
        }
    }
    return true;
}

} // namespace

bool is_ipv4_literal(std::string_view text) {
    int parts = 0;
    std::size_t start = 0;
    while (true) {
        const auto dot = text.find('.', start);
        const auto part = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (part.empty() || part.size() > 3 || (part.size() > 1 && part.front() == '0')) {
            return false;
        }
        unsigned value = 0;
        for (char c : part) {
            if (!is_digit(c)) {
                return false;
            }
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value > 255) {
            return false;
        }
        ++parts;
        if (dot == std::string_view::npos) {
            break;
        }
        start = dot + 1;
    }
    return parts == 4;
}

bool is_ipv6_literal(std::string_view text) {
    // RFC 4291 text form: up to 8 groups of 1-4 hex digits, one "::" at most,
    // optionally ending in an embedded IPv4 address. No zone ids.
    if (text.size() < 2 || text.size() > 45) {
        return false;
    }
    int groups = 0;
    bool compressed = false;
    std::size_t i = 0;
    if (text.substr(0, 2) == "::") {
        compressed = true;
        i = 2;
        if (i == text.size()) {
            return true;
        }
    } else if (text.front() == ':') {
        return false;
    }
    while (i < text.size()) {
        std::size_t j = i;
        while (j < text.size() && is_hex(text[j])) {
            ++j;
        }
        if (j < text.size() && text[j] == '.') {
            // Embedded IPv4 takes two groups and must be last.
            if (!is_ipv4_literal(text.substr(i))) {
                return false;
            }
            groups += 2;
            i = text.size();
            break;
        }
        if (j == i || j - i > 4) {
            return false;
        }
        ++groups;
        i = j;
        if (i == text.size()) {
            break;
        }
        if (text[i] != ':') {
            return false;
        }
        ++i;
        if (i < text.size() && text[i] == ':') {
            if (compressed) {
                return false;
            }
            compressed = true;
            ++i;
            if (i == text.size()) {
                break;
            }
        } else if (i == text.size()) {
            return false; // trailing single ':'
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

std::string backend_address::to_string() const {
    const std::string port_text = std::to_string(port);
    return kind == host_kind::ipv6 ? "[" + host + "]:" + port_text : host + ":" + port_text;
}

std::string listen_address::to_string() const {
    const std::string port_text = std::to_string(port);
    return v6 ? "[" + ip + "]:" + port_text : ip + ":" + port_text;
}

bool parse_backend_address(std::string_view text, backend_address& out, std::string& error) {
    std::string_view host;
    std::string_view port;
    bool bracketed = false;
    if (!split_host_port(text, host, port, bracketed, error)) {
        return false;
    }
    if (!parse_port(port, 1, out.port, error)) {
        return false;
    }
    if (bracketed) {
        if (!is_ipv6_literal(host)) {
            error = "'" + std::string(host) + "' is not a valid IPv6 address";
            return false;
        }
        out.host = normalise_name(host);
        out.kind = host_kind::ipv6;
        return true;
    }
    if (host.empty()) {
        error = "the host is empty";
        return false;
    }
    if (all_digits_and_dots(host)) {
        if (!is_ipv4_literal(host)) {
            error = "'" + std::string(host) + "' is not a valid IPv4 address";
            return false;
        }
        out.host = std::string(host);
        out.kind = host_kind::ipv4;
        return true;
    }
    out.host = normalise_name(host);
    if (const auto problem = dns_name_problem(out.host); !problem.empty()) {
        error = "host '" + std::string(host) + "' is not a valid DNS name: " + problem;
        return false;
    }
    out.kind = host_kind::dns;
    return true;
}

bool parse_listen_address(std::string_view text, listen_address& out, std::string& error) {
    std::string_view host;
    std::string_view port;
    bool bracketed = false;
    if (!split_host_port(text, host, port, bracketed, error)) {
        return false;
    }
    if (!parse_port(port, 0, out.port, error)) {
        return false;
    }
    if (bracketed ? !is_ipv6_literal(host) : !is_ipv4_literal(host)) {
        error = "'" + std::string(host) +
                "' is not an IP address (listeners take IP literals: \"0.0.0.0:80\", \"[::]:80\")";
        return false;
    }
    out.ip = normalise_name(host);
    out.v6 = bracketed;
    return true;
}

} // namespace kiagateway
