// Host names: normalisation and validation shared by the config loader, the sniffers and dry-run.
#include "name.hpp"

namespace kiagateway {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_ldh(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'; }

} // namespace

std::string normalise_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1);
    }
    std::string out(name);
    for (char& c : out) {
        c = lower(c);
    }
    return out;
}

std::string dns_name_problem(std::string_view name) {
    if (name.empty()) {
        return "the name is empty";
    }
    if (name.size() > 253) {
        return "the name is longer than 253 characters";
    }
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) {
            dot = name.size();
        }
        const std::string_view label = name.substr(start, dot - start);
        if (label.empty()) {
            return "the name has an empty label";
        }
        if (label.size() > 63) {
            return "label '" + std::string(label) + "' is longer than 63 characters";
        }
        for (char c : label) {
            if (static_cast<unsigned char>(c) >= 0x80) {
                return "the name is not ASCII: write it in A-label (punycode, xn--...) form";
            }
            if (!is_ldh(c)) {
                return "character '" + std::string(1, c) +
                       "' is not allowed in a DNS name (letters, digits, '-' and '.' only)";
            }
        }
        if (label.front() == '-' || label.back() == '-') {
            return "label '" + std::string(label) + "' starts or ends with '-'";
        }
        start = dot + 1;
    }
    return {};
}

bool is_dns_name(std::string_view name) { return dns_name_problem(name).empty(); }

} // namespace kiagateway
