// The one place that papers over toml11 v3 (Debian 12) and v4 (vcpkg, Homebrew) differences.
#pragma once

#include <toml.hpp>

#include <cstddef>
#include <string>

#if defined(TOML11_VERSION_MAJOR) && TOML11_VERSION_MAJOR >= 4
#define KG_TOML11_V4 1
#endif

namespace kiagateway::toml_compat {

struct position {
    std::size_t line = 0;   // 1-based; 0 = unknown
    std::size_t column = 0; // 1-based; 0 = unknown
    std::string line_text;  // the source line, for finding a key's column
};

inline position position_of(const toml::value& v) {
    const auto& loc = v.location();
#ifdef KG_TOML11_V4
    return {loc.first_line_number(), loc.first_column_number(), loc.first_line()};
#else
    return {loc.line(), loc.column(), loc.line_str()};
#endif
}

// The position a syntax error points at, and its human-readable text.
struct syntax_problem {
    position where;
    std::string text; // what() of the exception: may span several lines
};

inline syntax_problem describe(const toml::syntax_error& e) {
#ifdef KG_TOML11_V4
    syntax_problem out{{}, e.what()};
    if (!e.errors().empty() && !e.errors().front().locations().empty()) {
        const auto& loc = e.errors().front().locations().front().first;
        out.where = {loc.first_line_number(), loc.first_column_number(), loc.first_line()};
    }
    return out;
#else
    const auto& loc = e.location();
    return {{loc.line(), loc.column(), loc.line_str()}, e.what()};
#endif
}

inline std::string string_of(const toml::value& v) { return std::string(v.as_string()); }

} // namespace kiagateway::toml_compat
