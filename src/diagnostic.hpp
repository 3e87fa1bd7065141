// A problem found in a config file, located at file:line:col like a compiler message.
#pragma once

#include <cstddef>
#include <string>

namespace kiagateway {

struct diagnostic {
    enum class severity { error, warning };

    severity level = severity::error;
    std::string file;
    std::size_t line = 0;   // 1-based; 0 when the problem has no place in the file
    std::size_t column = 0; // 1-based
    std::string message;

    // "file:line:col: error: message" (or "file: error: message" with no place).
    std::string to_text() const;
};

} // namespace kiagateway
