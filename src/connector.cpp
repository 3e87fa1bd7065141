// Connects to a route's backends in order (failover), each attempt under connect_timeout.
#include "connector.hpp"

#include "reactor_ops.hpp"

namespace kiagateway {

connector::connector(asio::io_context::executor_type executor, duration timeout)
    : executor_(executor), timeout_(timeout), timer_(executor) {}

void connector::start(const route& r, asio::const_buffer first, handler done) {
    route_ = &r;
    first_ = first;
    done_ = std::move(done);
    index_ = 0;
    try_backend();
}

void connector::cancel() {
    cancelled_ = true;
    if (done_) {
        end_attempt(asio::error::operation_aborted);
    }
}

void connector::try_backend() {
    if (cancelled_ || index_ >= route_->backends.size()) {
        auto done = std::move(done_);
        done(tcp_socket(executor_), nullptr, 0);
        return;
    }
    const backend_address& b = route_->backends[index_];
    const unsigned attempt = ++attempt_;
    socket_ = std::make_shared<tcp_socket>(executor_);
    // The deadline covers resolving and connecting, and ends the attempt itself: a lookup stuck
    // in getaddrinfo (which cancel() cannot interrupt) does not hold the connection past it.
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this(), attempt](const std::error_code& ec) {
        if (!ec && attempt == self->attempt_) {
            self->end_attempt(asio::error::timed_out);
        }
    });
    if (b.kind != host_kind::dns) {
        std::error_code ec;
        const auto address = asio::ip::make_address(b.host, ec);
        if (ec) {
            end_attempt(ec);
            return;
        }
        connect_endpoints(attempt, {asio::ip::tcp::endpoint(address, b.port)});
        return;
    }
    if (!resolver_) {
        resolver_.emplace(executor_);
    }
    resolver_->async_resolve(b.host, std::to_string(b.port), asio::ip::resolver_base::numeric_service,
                             [self = shared_from_this(), attempt](
                                 const std::error_code& ec, const asio::ip::tcp::resolver::results_type& results) {
                                 if (attempt != self->attempt_) {
                                     return; // the attempt already ended (deadline, cancel)
                                 }
                                 if (ec) {
                                     self->end_attempt(ec);
                                     return;
                                 }
                                 std::vector<asio::ip::tcp::endpoint> endpoints;
                                 for (const auto& entry : results) {
                                     endpoints.push_back(entry.endpoint());
                                 }
                                 self->connect_endpoints(attempt, std::move(endpoints));
                             });
}

void connector::connect_endpoints(unsigned attempt, std::vector<asio::ip::tcp::endpoint> endpoints) {
    endpoints_ = std::move(endpoints);
    next_endpoint_ = 0;
    connect_next(attempt, asio::error::host_not_found);
}

void connector::connect_next(unsigned attempt, const std::error_code& last_error) {
    if (next_endpoint_ >= endpoints_.size()) {
        end_attempt(last_error); // every address of this backend refused (or it had none)
        return;
    }
    const asio::ip::tcp::endpoint to = endpoints_[next_endpoint_++];
    std::error_code ignored;
    socket_->close(ignored);
    async_connect_nodelay(
        *socket_, to, first_,
        [self = shared_from_this(), attempt, socket = socket_](const std::error_code& ec, std::size_t sent) {
            if (attempt != self->attempt_) {
                return; // the attempt already ended (deadline, cancel)
            }
            if (ec) {
                self->connect_next(attempt, ec);
                return;
            }
            self->end_attempt(ec, sent);
        });
}

void connector::end_attempt(const std::error_code& ec, std::size_t sent) {
    ++attempt_; // whatever of this attempt is still pending now completes unheard
    timer_.cancel();
    if (resolver_) {
        resolver_->cancel();
    }
    if (!ec && !cancelled_) {
        auto done = std::move(done_);
        done(std::move(*socket_), &route_->backends[index_], sent);
        return;
    }
    std::error_code ignored;
    socket_->close(ignored); // a pending connect on it completes with operation_aborted
    ++index_;
    try_backend();
}

} // namespace kiagateway
