// The relay's wait for bytes where the reactor is not Asio 1.22's epoll one: async_read_some
// (src/read_wait.hpp).
#include "read_wait.hpp"

namespace kiagateway {

struct read_wait::operation {};

read_wait::~read_wait() = default;

void read_wait::prepare_listener(asio::ip::tcp::acceptor&) noexcept {}

void read_wait::accepted(asio::ip::tcp::socket&) noexcept {}

void read_wait::start(asio::ip::tcp::socket& socket, asio::mutable_buffer into, std::shared_ptr<void> keep) {
    socket.async_read_some(into, [keep = std::move(keep), done = done_, context = context_](
                                     const std::error_code& ec, std::size_t n) { done(context, ec, n); });
}

} // namespace kiagateway
