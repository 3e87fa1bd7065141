// libFuzzer target: the config loader on arbitrary text must report, never crash or throw.
#include "config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const kiagateway::load_result result = kiagateway::load_config_text(text, "fuzz.toml");
    // A config is either loaded or explained: never both, never neither.
    if (result.ok() == !result.errors.empty()) {
        std::abort();
    }
    for (const auto& d : result.errors) {
        if (d.message.empty()) {
            std::abort();
        }
    }
    return 0;
}
