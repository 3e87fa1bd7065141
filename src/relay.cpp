// Pipes bytes both ways between client and backend until both directions are closed.
#include "relay.hpp"

namespace kiagateway {

namespace {

// Chunks one direction may move before it lets the worker's other connections run.
constexpr int chunks_per_turn = 16;

} // namespace

relay::relay(asio::ip::tcp::socket client, asio::ip::tcp::socket backend, std::vector<std::uint8_t> sniffed,
             duration idle_timeout, pump_pool& pumps)
    : client_(std::move(client)), backend_(std::move(backend)),
      sniffed_(std::move(sniffed)), up_{&client_, &backend_, pump(pumps)}, down_{&backend_, &client_, pump(pumps)},
      timer_(client_.get_executor()), idle_timeout_(idle_timeout) {}

void relay::start(std::size_t prefix, handler done) {
    done_ = std::move(done);
    last_activity_ = std::chrono::steady_clock::now();
    arm_idle_timer();
    // Reads and writes below never block: they return would_block, and the relay waits.
    std::error_code ec;
    client_.non_blocking(true, ec);
    if (!ec) {
        backend_.non_blocking(true, ec);
    }
    if (ec) {
        result_.aborted = true;
        close();
        complete();
        return;
    }
    // Each direction starts by reading: a wait alone could miss bytes whose readiness the reactor
    // saw (and let pass) while the connection was being set up.
    move(down_);
    if (prefix == 0) {
        sniffed_ = {};
        move(up_);
        return;
    }
    // The sniffed bytes go first, exactly as received; then their buffer is freed.
    asio::async_write(backend_, asio::buffer(sniffed_.data(), prefix),
                      [self = shared_from_this()](const std::error_code& error, std::size_t written) {
                          self->up_.bytes += written;
                          self->sniffed_ = {};
                          if (error) {
                              self->finish_direction(self->up_, false);
                              return;
                          }
                          self->move(self->up_);
                      });
}

void relay::close() {
    std::error_code ignored;
    client_.close(ignored);
    backend_.close(ignored);
    timer_.cancel();
}

void relay::move(direction& d) {
    for (int chunk = 0; chunk < chunks_per_turn; ++chunk) {
        std::error_code ec;
        const bool fill_now = d.bytes_in_flight.pending() == 0;
        if (fill_now) {
            const std::size_t n = d.bytes_in_flight.fill(*d.from, ec);
            if (ec == asio::error::would_block) {
                wait(d, *d.from, asio::socket_base::wait_read);
                return;
            }
            if (ec || n == 0) {
                finish_direction(d, !ec);
                return;
            }
            last_activity_ = std::chrono::steady_clock::now();
        }
        const std::size_t written = d.bytes_in_flight.drain(*d.to, ec);
        d.bytes += written;
        if (written > 0 && !fill_now) {
            last_activity_ = std::chrono::steady_clock::now(); // a write that had waited; a fill just stamped
        }
        if (ec == asio::error::would_block) {
            wait(d, *d.to, asio::socket_base::wait_write);
            return;
        }
        if (ec) {
            finish_direction(d, false);
            return;
        }
        // Read and written in this same turn, and the read did not fill the pump: `from` had no
        // more a moment ago, and whatever comes next is an edge the reactor has not consumed yet
        // (it runs only after this returns). So wait, rather than read again to hear would_block.
        if (fill_now && !d.bytes_in_flight.last_fill_was_full()) {
            wait(d, *d.from, asio::socket_base::wait_read);
            return;
        }
    }
    // A long transfer: give the worker's other connections their turn, then carry on.
    asio::post(client_.get_executor(), [self = shared_from_this(), &d] {
        if (!d.done) {
            self->move(d);
        }
    });
}

void relay::wait(direction& d, asio::ip::tcp::socket& socket, asio::socket_base::wait_type what) {
    socket.async_wait(what, [self = shared_from_this(), &d](const std::error_code& ec) {
        if (d.done) {
            return;
        }
        if (ec) {
            self->finish_direction(d, false);
            return;
        }
        self->move(d);
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
