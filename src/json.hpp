// Minimal JSON output for reports and logs: string quoting only; callers write the structure.
#pragma once

#include <string>
#include <string_view>

namespace kiagateway {

// `text` as a JSON string literal, quotes included; bytes >= 0x80 pass through
// (names are ASCII; file paths are UTF-8), control characters are escaped.
std::string json_quote(std::string_view text);

} // namespace kiagateway
