// libFuzzer target for the TLS ClientHello sniffer: any bytes, any split, the same verdict and no crash.
#include "fuzz_split.hpp"
#include "sniff_tls.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kiagateway;
    const std::span<const std::uint8_t> input(data, size);
    const std::uint8_t control = fuzz::control_byte(input);

    fuzz::require_split_agrees<tls_sniffer>(input, tls_limits{}, control, true);

    tls_limits tight = fuzz::tight_limits<tls_limits>(input.size(), control);
    tight.max_records = 1 + (control >> 5);
    fuzz::require_split_agrees<tls_sniffer>(input, tight, control, false);
    return 0;
}
