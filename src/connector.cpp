// Connects to a route's backends in order (failover), each attempt under connect_timeout.
#include "connector.hpp"

namespace kiagateway {

connector::connector(asio::any_io_executor executor, duration timeout)
    : executor_(executor), timeout_(timeout), socket_(executor), timer_(executor) {}

void connector::start(const route& r, handler done) {
    route_ = &r;
    done_ = std::move(done);
    index_ = 0;
    try_backend();
}

void connector::cancel() {
    cancelled_ = true;
    timer_.cancel();
    if (resolver_) {
        resolver_->cancel();
    }
    std::error_code ignored;
    socket_.close(ignored);
}

void connector::try_backend() {
    if (cancelled_ || index_ >= route_->backends.size()) {
        auto done = std::move(done_);
        done(asio::ip::tcp::socket(executor_), nullptr);
        return;
    }
    const backend_address& b = route_->backends[index_];
    timed_out_ = false;
    // The deadline covers resolving and connecting: one connect_timeout per backend.
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this(), attempt = ++attempt_](const std::error_code& ec) {
        if (ec || attempt != self->attempt_) {
            return; // cancelled, or a late tick from an attempt that already ended
        }
        self->timed_out_ = true;
        if (self->resolver_) {
            self->resolver_->cancel();
        }
        std::error_code ignored;
        self->socket_.close(ignored);
    });
    endpoints_.clear();
    if (b.kind != host_kind::dns) {
        std::error_code ec;
        const auto address = asio::ip::make_address(b.host, ec);
        if (ec) {
            on_attempt_done(ec);
            return;
        }
        endpoints_.emplace_back(address, b.port);
        connect_endpoints();
        return;
    }
    if (!resolver_) {
        resolver_.emplace(executor_);
    }
    resolver_->async_resolve(
        b.host, std::to_string(b.port), asio::ip::resolver_base::numeric_service,
        [self = shared_from_this()](const std::error_code& ec, const asio::ip::tcp::resolver::results_type& results) {
            if (ec || self->timed_out_ || self->cancelled_) {
                self->on_attempt_done(ec ? ec : asio::error::timed_out);
                return;
            }
            for (const auto& entry : results) {
                self->endpoints_.push_back(entry.endpoint());
            }
            self->connect_endpoints();
        });
}

void connector::connect_endpoints() {
    asio::async_connect(socket_, endpoints_,
                        [self = shared_from_this()](const std::error_code& ec, const asio::ip::tcp::endpoint&) {
                            self->on_attempt_done(ec);
                        });
}

void connector::on_attempt_done(const std::error_code& ec) {
    ++attempt_; // any tick of this attempt's timer is now stale
    timer_.cancel();
    if (!ec && !timed_out_ && !cancelled_) {
        auto done = std::move(done_);
        done(std::move(socket_), &route_->backends[index_]);
        return;
    }
    std::error_code ignored;
    socket_.close(ignored);
    ++index_;
    try_backend();
}

} // namespace kiagateway
