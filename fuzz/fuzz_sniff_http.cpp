// libFuzzer target for the HTTP request-head sniffer: any bytes, any split, the same verdict and no crash.
#include "fuzz_split.hpp"
#include "sniff_http.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kiagateway;
    const std::span<const std::uint8_t> input(data, size);
    const std::uint8_t control = fuzz::control_byte(input);

    fuzz::require_split_agrees<http_sniffer>(input, http_limits{}, control, true);
    fuzz::require_split_agrees<http_sniffer>(input, fuzz::tight_limits<http_limits>(input.size(), control), control,
                                             false);

    // The Host / authority parser on its own: a name it accepts is never empty.
    std::string name;
    if (parse_host_authority(std::string_view(reinterpret_cast<const char*>(input.data()), input.size()), name)) {
        fuzz::require(!name.empty());
    }
    return 0;
}
