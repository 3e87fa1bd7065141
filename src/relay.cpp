// Pipes bytes both ways between client and backend until both directions are closed.
#include "relay.hpp"

namespace kiagateway {

namespace {

constexpr std::size_t relay_buffer_size = 16 * 1024;

} // namespace

relay::relay(asio::ip::tcp::socket client, asio::ip::tcp::socket backend, std::vector<std::uint8_t> upstream_buffer,
             duration idle_timeout)
    : client_(std::move(client)),
      backend_(std::move(backend)), up_{&client_, &backend_, std::move(upstream_buffer)}, down_{&backend_,
                                                                                                &client_,
                                                                                                {}},
      timer_(client_.get_executor()), idle_timeout_(idle_timeout) {
    if (up_.buffer.size() < relay_buffer_size) {
        up_.buffer.resize(relay_buffer_size);
    }
    down_.buffer.resize(relay_buffer_size);
}

void relay::start(std::size_t prefix, handler done) {
    done_ = std::move(done);
    last_activity_ = std::chrono::steady_clock::now();
    arm_idle_timer();
    do_read(down_);
    if (prefix == 0) {
        do_read(up_);
        return;
    }
    // The sniffed bytes go first, exactly as received.
    do_write(up_, prefix);
}

void relay::close() {
    std::error_code ignored;
    client_.close(ignored);
    backend_.close(ignored);
    timer_.cancel();
}

void relay::do_read(direction& d) {
    d.from->async_read_some(asio::buffer(d.buffer),
                            [self = shared_from_this(), &d](const std::error_code& ec, std::size_t n) {
                                if (ec) {
                                    self->finish_direction(d, ec == asio::error::eof);
                                    return;
                                }
                                self->last_activity_ = std::chrono::steady_clock::now();
                                self->do_write(d, n);
                            });
}

void relay::do_write(direction& d, std::size_t n) {
    asio::async_write(*d.to, asio::buffer(d.buffer.data(), n),
                      [self = shared_from_this(), &d](const std::error_code& ec, std::size_t written) {
                          d.bytes += written;
                          if (ec) {
                              self->finish_direction(d, false);
                              return;
                          }
                          self->last_activity_ = std::chrono::steady_clock::now();
                          self->do_read(d);
                      });
}

void relay::finish_direction(direction& d, bool eof) {
    if (d.done) {
        return;
    }
    d.done = true;
    if (eof) {
        std::error_code ignored;
        d.to->shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    } else {
        // A reset, a failed write or a forced close: nothing orderly is left in either direction.
        result_.aborted = true;
        close();
    }
    if (up_.done && down_.done) {
        complete();
    }
}

void relay::arm_idle_timer() {
    // One timer per connection, re-armed only when it fires: reads just stamp the time.
    timer_.expires_at(last_activity_ + idle_timeout_);
    timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
        if (ec || self->completed_) {
            return;
        }
        if (std::chrono::steady_clock::now() - self->last_activity_ >= self->idle_timeout_) {
            self->result_.idle_timeout = true;
            self->close();
            return;
        }
        self->arm_idle_timer();
    });
}

void relay::complete() {
    if (completed_) {
        return;
    }
    completed_ = true;
    timer_.cancel();
    std::error_code ignored;
    client_.close(ignored);
    backend_.close(ignored);
    result_.bytes_up = up_.bytes;
    result_.bytes_down = down_.bytes;
    auto done = std::move(done_);
    if (done) {
        done(result_);
    }
}

} // namespace kiagateway
