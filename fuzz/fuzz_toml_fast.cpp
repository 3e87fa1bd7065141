// libFuzzer target: whatever the plain TOML reader accepts, toml11 must accept and read the same way.
#include "toml_fast.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto fast = kiagateway::parse_plain_toml(text);
    if (!fast) {
        return 0;
    }
    toml::value reference;
    try {
        std::istringstream in(text);
        reference = toml::parse(in, "fuzz.toml");
    } catch (...) {
        std::abort(); // the fast reader accepted what TOML rejects
    }
    if (!(reference == *fast)) {
        std::abort(); // the two readers disagree on the content
    }
    return 0;
}
