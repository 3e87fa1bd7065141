// Where the kernel has no socket-to-socket zero-copy move the relay can use (everything but Linux
// here), the pump keeps using its buffer for bulk transfers too: available() says so, and the rest
// is never reached (a call anyway gets operation_not_supported).
#include "pump.hpp"

namespace kiagateway::zero_copy {

bool available() noexcept { return false; }

pipe* open(std::error_code& ec) {
    ec = asio::error::operation_not_supported;
    return nullptr;
}

void close(pipe*) noexcept {}

std::size_t fill(pipe*, tcp_socket&, std::size_t, std::error_code& ec) {
    ec = asio::error::operation_not_supported;
    return 0;
}

std::size_t drain(pipe*, tcp_socket&, std::size_t, std::error_code& ec) {
    ec = asio::error::operation_not_supported;
    return 0;
}

std::size_t capacity() noexcept { return 0; }

} // namespace kiagateway::zero_copy
