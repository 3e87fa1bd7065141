// Pipes bytes both ways between client and backend until both directions are closed.
#include "relay.hpp"

#include "platform.hpp"

namespace kiagateway {

namespace {

// Chunks one direction may move before it lets the worker's other connections run.
constexpr int chunks_per_turn = 16;

} // namespace

relay::relay(tcp_socket& client, tcp_socket& backend, head_buffer& sniffed, duration idle_timeout, pump_pool& pumps)
    : client_(client), backend_(backend), sniffed_(sniffed),
      up_(*this, client_, read_wait::origin::accepted, backend_, pumps),
      down_(*this, backend_, read_wait::origin::connected, client_, pumps), idle_timeout_(idle_timeout) {}

void relay::start(std::size_t prefix, std::size_t sent, std::weak_ptr<void> owner, handler done) {
    owner_ = std::move(owner);
    done_ = std::move(done);
    up_.bytes = sent;
    last_activity_ = std::chrono::steady_clock::now();
    // The client's socket was readied when its session started.
    if (platform::prepare_relay_socket(backend_)) {
        result_.aborted = true;
        close();
        complete();
        return;
    }
    listen(down_);
    if (sent >= prefix) {
        sniffed_.release();
        listen(up_);
        return;
    }
    // The sniffed bytes go first, exactly as received; then their buffer is freed.
    asio::async_write(backend_, asio::buffer(sniffed_.data() + sent, prefix - sent),
                      [this, owner = keep()](const std::error_code& error, std::size_t written) {
                          up_.bytes += written;
                          sniffed_.release();
                          if (error) {
                              finish_direction(up_, false);
                              return;
                          }
                          listen(up_);
                      });
}

void relay::close() {
    std::error_code ignored;
    client_.close(ignored);
    backend_.close(ignored);
}

void relay::close_if_idle(std::chrono::steady_clock::time_point now) {
    if (!completed_ && now - last_activity_ >= idle_timeout_) {
        result_.idle_timeout = true;
        close();
    }
}

void relay::listen(direction& d) {
    if (d.bytes_in_flight.zero_copy()) {
        // A bulk transfer: its bytes go through a pipe, not through user space. A wait for
        // readability (one epoll_ctl) costs less than reading the first bytes of every burst through user space.
        wait(d, *d.from, asio::socket_base::wait_read);
        return;
    }
    // Messages: the read is the wait (src/reactor_ops.hpp). No wait for readability, which would
    // cost an epoll_ctl per message, and where possible no read that fails with EAGAIN either.
    d.reading.start(*d.from, keep());
}

void relay::direction::read_done(const std::error_code& ec, std::size_t n) {
    if (done) {
        return;
    }
    if (ec) {
        owner->finish_direction(*this, ec == asio::error::eof);
        return;
    }
    bytes_in_flight.took(n);
    owner->move(*this);
}

void relay::move(direction& d) {
    for (int chunk = 0; chunk < chunks_per_turn; ++chunk) {
        std::error_code ec;
        if (d.bytes_in_flight.pending() == 0) {
            // The last read did not fill its space: `from` had nothing more a moment ago, and
            // anything since is an edge the reactor has not seen yet. Let the reactor's read wait.
            if (!d.bytes_in_flight.last_fill_was_full()) {
                listen(d);
                return;
            }
            const std::size_t n = d.bytes_in_flight.fill(*d.from, ec);
            if (ec == asio::error::would_block) {
                listen(d);
                return;
            }
            if (ec || n == 0) {
                finish_direction(d, !ec);
                return;
            }
        }
        const std::size_t written = d.bytes_in_flight.drain(*d.to, ec);
        d.bytes += written;
        if (written > 0) {
            last_activity_ = std::chrono::steady_clock::now(); // idle = no byte moved for idle_timeout
        }
        if (ec == asio::error::would_block) {
            wait(d, *d.to, asio::socket_base::wait_write);
            return;
        }
        if (ec) {
            finish_direction(d, false);
            return;
        }
    }
    // A long transfer: give the worker's other connections their turn, then carry on.
    asio::post(client_.get_executor(), [this, owner = keep(), &d] {
        if (!d.done) {
            move(d);
        }
    });
}

void relay::wait(direction& d, tcp_socket& socket, asio::socket_base::wait_type what) {
    socket.async_wait(what, [this, owner = keep(), &d, what](const std::error_code& ec) {
        if (d.done) {
            return;
        }
        if (ec) {
            finish_direction(d, false);
            return;
        }
        if (what == asio::socket_base::wait_read) {
            d.bytes_in_flight.expect_bytes(); // so move() reads rather than waits again
        }
        move(d);
    });
}

void relay::finish_direction(direction& d, bool eof) {
    if (d.done) {
        return;
    }
    d.done = true;
    direction& other = &d == &up_ ? down_ : up_;
    if (eof) {
        // Half-close: `to` may still be sending the other way. When that way is done too, both
        // sockets close now, and close sends the FIN itself.
        if (!other.done) {
            std::error_code ignored;
            d.to->shutdown(tcp_socket::shutdown_send, ignored);
        }
    } else {
        // A reset, a failed write or a forced close: nothing orderly is left in either direction.
        result_.aborted = true;
        close();
    }
    if (other.done) {
        complete();
    }
}

void relay::complete() {
    if (completed_) {
        return;
    }
    completed_ = true;
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
