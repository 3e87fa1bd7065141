// Durations in the config: "250ms", "5s", "2m", "1h", or an integer number of seconds.
#include "duration.hpp"

#include <charconv>

namespace kiagateway {

bool parse_duration(std::string_view text, duration& out, std::string& error) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        ++digits;
    }
    const std::string_view number = text.substr(0, digits);
    const std::string_view unit = text.substr(digits);
    const std::string quoted = "\"" + std::string(text) + "\"";
    if (number.empty()) {
        error = quoted + " is not a duration: write a whole number and a unit, like \"5s\", \"250ms\", \"2m\"";
        return false;
    }
    std::int64_t per_unit = 0;
    if (unit == "ms") {
        per_unit = 1;
    } else if (unit == "s") {
        per_unit = 1000;
    } else if (unit == "m") {
        per_unit = 60'000;
    } else if (unit == "h") {
        per_unit = 3'600'000;
    } else {
        error = quoted + " has " +
                (unit.empty() ? std::string("no unit") : "unknown unit '" + std::string(unit) + "'") +
                ": use ms, s, m or h, like \"5s\"";
        return false;
    }
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    // A week is far beyond any sensible timeout; the cap keeps arithmetic on deadlines safe.
    constexpr std::int64_t max_ms = 7LL * 24 * 3'600'000;
    if (ec != std::errc{} || end != number.data() + number.size() || value > max_ms / per_unit) {
        error = quoted + " is too long (at most 168h)";
        return false;
    }
    out = duration(value * per_unit);
    return true;
}

std::string format_duration(duration value) {
    const auto ms = value.count();
    if (ms != 0 && ms % 3'600'000 == 0) {
        return std::to_string(ms / 3'600'000) + "h";
    }
    if (ms != 0 && ms % 60'000 == 0) {
        return std::to_string(ms / 60'000) + "m";
    }
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + "s";
    }
    return std::to_string(ms) + "ms";
}

} // namespace kiagateway
