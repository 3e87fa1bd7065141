// The socket operations of src/reactor_ops.hpp where the reactor is not Asio 1.22's epoll one:
// built from Asio's own.
#include "reactor_ops.hpp"

#include "platform.hpp"

namespace kiagateway {

struct read_wait::operation {};

read_wait::~read_wait() = default;

void read_wait::release() noexcept {}

void read_wait::prepare_listener(asio::ip::tcp::acceptor&) noexcept {}

void read_wait::accepted(tcp_socket&) noexcept {}

void read_wait::first_read_waits(tcp_socket&) noexcept {}

void read_wait::start(tcp_socket& socket, std::shared_ptr<void> keep) {
    // A wait for readability holds no buffer (Windows: a zero-byte overlapped receive; kqueue and
    // the other reactors: a readiness event), then one non-blocking read into the target's room.
    socket.async_wait(asio::socket_base::wait_read,
                      [this, &socket, keep = std::move(keep)](const std::error_code& waited) mutable {
                          if (waited) {
                              target_->read_done(waited, 0);
                              return;
                          }
                          const asio::mutable_buffer space = target_->read_space();
                          std::error_code ec;
                          const std::size_t n = platform::receive_now(socket, space.data(), space.size(), ec);
                          if (n == 0) {
                              target_->read_space_unused();
                              if (ec == asio::error::would_block) {
                                  start(socket, std::move(keep)); // readable, then not: wait again
                                  return;
                              }
                              if (!ec) {
                                  ec = asio::error::eof;
                              }
                          }
                          target_->read_done(ec, n);
                      });
}

void async_connect_nodelay(tcp_socket& socket, const asio::ip::tcp::endpoint& to, asio::const_buffer,
                           connect_handler done) {
    socket.async_connect(to, [&socket, done = std::move(done)](const std::error_code& ec) {
        if (!ec) {
            std::error_code ignored;
            socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        }
        done(ec, 0); // the first bytes are the caller's to send
    });
}

} // namespace kiagateway
