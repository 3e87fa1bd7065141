// The socket operations of src/reactor_ops.hpp where the reactor is not Asio 1.22's epoll one:
// Asio's own.
#include "reactor_ops.hpp"

namespace kiagateway {

struct read_wait::operation {};

read_wait::~read_wait() = default;

void read_wait::release() noexcept {}

void read_wait::prepare_listener(asio::ip::tcp::acceptor&) noexcept {}

void read_wait::accepted(asio::ip::tcp::socket&) noexcept {}

void read_wait::start(asio::ip::tcp::socket& socket, asio::mutable_buffer into, std::shared_ptr<void> keep) {
    socket.async_read_some(into, [keep = std::move(keep), done = done_, context = context_](
                                     const std::error_code& ec, std::size_t n) { done(context, ec, n); });
}

void async_connect_nodelay(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& to, connect_handler done) {
    socket.async_connect(to, [&socket, done = std::move(done)](const std::error_code& ec) {
        if (!ec) {
            std::error_code ignored;
            socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        }
        done(ec);
    });
}

} // namespace kiagateway
