// Durations in the config: "250ms", "5s", "2m", "1h", or an integer number of seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiagateway {

using duration = std::chrono::milliseconds;

// Parses a duration string with a unit. Returns false and says why in `error`.
bool parse_duration(std::string_view text, duration& out, std::string& error);

// The shortest exact form: "300s", "250ms", "2m".
std::string format_duration(duration value);

} // namespace kiagateway
