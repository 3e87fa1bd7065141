// A problem found in a config file, located at file:line:col like a compiler message.
#include "diagnostic.hpp"

namespace kiagateway {

std::string diagnostic::to_text() const {
    std::string out = file;
    if (line != 0) {
        out += ':' + std::to_string(line) + ':' + std::to_string(column == 0 ? 1 : column);
    }
    out += level == severity::error ? ": error: " : ": warning: ";
    out += message;
    return out;
}

} // namespace kiagateway
