// A fast reader for the plain subset of TOML that large route files use; toml11 handles everything else.
#pragma once

#include <toml.hpp>

#include <optional>
#include <string_view>

namespace kiagateway {

// Parses `text` when every line is blank, a comment, a simple [table] header, or
// `key = value` with a bare or plain-quoted key and a value that is a plain
// string (no escapes), a decimal integer, or a one-line array of plain strings.
// Returns nothing for anything else, including anything toml11 would reject:
// the caller then parses with toml11, which also gives exact error positions.
// Values carry no source location. The result equals toml11's (fuzz/fuzz_toml_fast.cpp).
std::optional<toml::value> parse_plain_toml(std::string_view text);

} // namespace kiagateway
