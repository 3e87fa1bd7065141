// A listening socket: accepts connections and hands each to the next worker, round robin.
#include "listener.hpp"

#include "endpoint.hpp"
#include "platform.hpp"
#include "reactor_ops.hpp"
#include "session.hpp"

#include <stdexcept>

namespace kiagateway {

namespace {

constexpr auto descriptor_pause = std::chrono::milliseconds(100);
constexpr auto error_pause = std::chrono::milliseconds(10);

bool out_of_descriptors(const std::error_code& ec) {
    return ec == asio::error::no_descriptors || ec == std::errc::too_many_files_open_in_system ||
           ec == std::errc::too_many_files_open || ec == asio::error::no_buffer_space ||
           ec == std::errc::not_enough_memory;
}

} // namespace

std::string describe_bind_error(const listen_address& address, const std::error_code& ec) {
    std::string message = "cannot listen on " + address.to_string() + ": " + ec.message();
    if (const std::string hint = platform::bind_error_hint(address.port, ec); !hint.empty()) {
        message += " (" + hint + ")";
    } else if (ec == std::errc::address_not_available) {
        message += " (no interface on this machine has that address)";
    }
    return message;
}

listener::listener(worker& home, std::vector<std::unique_ptr<worker>>& workers, protocol proto,
                   const listen_address& address, mode how)
    : home_(home), workers_(workers), proto_(proto), mode_(how), acceptor_(home.io()), pause_timer_(home.io()) {
    std::error_code ec;
    const auto ip = asio::ip::make_address(address.ip, ec);
    asio::ip::tcp::endpoint endpoint(ip, address.port);
    const auto fail = [&address](const std::error_code& error) {
        throw std::runtime_error(describe_bind_error(address, error));
    };
    if (ec) {
        fail(ec);
    }
    const auto open_socket = [&](asio::ip::tcp::acceptor& a, bool shared) {
        if (a.open(endpoint.protocol(), ec); ec) {
            fail(ec);
        }
        if (address.v6) {
            // "[::]" means IPv6 only: "0.0.0.0" has its own socket, and the two must not collide.
            a.set_option(asio::ip::v6_only(true), ec);
        }
        if (ec = platform::prepare_listening_socket(a, shared); ec) {
            fail(ec);
        }
        read_wait::prepare_listener(a);
    };
    if (how == mode::own_worker_first) {
        // SO_REUSEPORT would let this group join another process's listening socket of the same
        // user (a second kiagateway on the same port): a plain socket proves the port is free
        // first, and turns port 0 into the port the whole group then shares.
        asio::ip::tcp::acceptor probe(home.io());
        open_socket(probe, false);
        if (probe.bind(endpoint, ec); ec) {
            fail(ec);
        }
        endpoint.port(probe.local_endpoint(ec).port());
    }
    open_socket(acceptor_, how != mode::round_robin);
    if (acceptor_.bind(endpoint, ec); ec) {
        fail(ec);
    }
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
        fail(ec);
    }
    const auto local = acceptor_.local_endpoint(ec);
    text_ = endpoint_text(local);
    port_ = local.port();
}

void listener::start() {
    // Everything a listener does happens on its own worker's thread, start and close included,
    // so an accept can never be left pending on an io_context that has stopped running.
    asio::post(home_.io(), [self = shared_from_this()] { self->do_accept(); });
}

void listener::close(std::function<void()> closed) {
    asio::post(home_.io(), [self = shared_from_this(), closed = std::move(closed)] {
        std::error_code ignored;
        self->acceptor_.close(ignored);
        self->pause_timer_.cancel();
        if (closed) {
            closed();
        }
    });
}

void listener::do_accept() {
    worker& target = mode_ == mode::round_robin ? *workers_[next_worker_] : home_;
    acceptor_.async_accept(target.io(), peer_,
                           [self = shared_from_this()](const std::error_code& ec, tcp_socket socket) {
                               self->on_accept(ec, std::move(socket));
                           });
}

void listener::on_accept(const std::error_code& ec, tcp_socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
        return; // closed: the gateway is stopping
    }
    shared_state& shared = home_.shared();
    if (ec) {
        if (out_of_descriptors(ec)) {
            // Without a descriptor the pending connection stays queued and accept fails at once
            // again: pause instead of spinning, and say so once per burst, not once per failure.
            if (refused_in_burst_++ == 0) {
                shared.log.warning("accept on " + text_ + ": " + ec.message() +
                                   "; pausing accepts briefly (raise the open-file limit: LimitNOFILE, ulimit -n)");
            }
            pause_then_accept(descriptor_pause);
        } else {
            shared.log.warning("accept on " + text_ + ": " + ec.message());
            pause_then_accept(error_pause);
        }
        return;
    }
    if (refused_in_burst_ != 0) {
        shared.log.info("accepting on " + text_ + " again after " + std::to_string(refused_in_burst_) +
                        " failed accepts (out of file descriptors)");
        refused_in_burst_ = 0;
    }
    worker& target = mode_ == mode::round_robin ? *workers_[next_worker_] : home_;
    next_worker_ = (next_worker_ + 1) % workers_.size();
    if (&target == &home_) {
        // Still inside the accept's completion, on the socket's own thread: see reactor_ops.hpp.
        read_wait::first_read_waits(socket);
    }

    const std::size_t limit = home_.current()->settings.max_connections;
    if (shared.open_connections.fetch_add(1, std::memory_order_relaxed) >= limit) {
        // Over max_connections: accepted only to be closed at once, so the client is not left
        // waiting in the backlog; counted and logged like any other connection.
        shared.limit_rejections.fetch_add(1, std::memory_order_relaxed);
        asio::post(target.io(), [&target, proto = proto_, text = text_, peer = peer_, s = std::move(socket)]() mutable {
            auto rejected = std::make_shared<session>(target, std::move(s), peer, proto, text);
            rejected->reject_over_limit();
        });
    } else {
        asio::post(target.io(), [&target, proto = proto_, text = text_, peer = peer_, s = std::move(socket)]() mutable {
            std::make_shared<session>(target, std::move(s), peer, proto, text)->start();
        });
    }
    do_accept();
}

void listener::pause_then_accept(std::chrono::milliseconds pause) {
    pause_timer_.expires_after(pause);
    pause_timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
        if (!ec && self->acceptor_.is_open()) {
            self->do_accept();
        }
    });
}

} // namespace kiagateway
