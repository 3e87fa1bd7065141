// Connects to a route's backends in order (failover), each attempt under connect_timeout.
#pragma once

#include "duration.hpp"
#include "route_table.hpp"

#include <asio.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

namespace kiagateway {

class connector : public std::enable_shared_from_this<connector> {
public:
    // `backend` is the one that took the connection, or null when every attempt failed.
    using handler = std::function<void(asio::ip::tcp::socket socket, const backend_address* backend)>;

    connector(asio::any_io_executor executor, duration timeout);

    // Tries r.backends in order: IP literals directly, DNS names resolved now (asynchronously)
    // and each of their addresses tried in turn. `r` must outlive the attempt.
    void start(const route& r, handler done);
    // Gives up at once (the handler still runs, with no backend).
    void cancel();

private:
    void try_backend();
    void connect_endpoints();
    void on_attempt_done(const std::error_code& ec);
    void next_backend();

    asio::any_io_executor executor_;
    duration timeout_;
    asio::ip::tcp::socket socket_;
    asio::steady_timer timer_;
    std::optional<asio::ip::tcp::resolver> resolver_;
    std::vector<asio::ip::tcp::endpoint> endpoints_; // of the current backend
    unsigned attempt_ = 0;                           // tells a stale timer from the current attempt's
    const route* route_ = nullptr;
    std::size_t index_ = 0;
    bool timed_out_ = false;
    bool cancelled_ = false;
    handler done_;
};

} // namespace kiagateway
