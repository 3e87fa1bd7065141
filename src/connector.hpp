// Connects to a route's backends in order (failover), each attempt under connect_timeout, sending
// the connection's first bytes with the connect where the platform can. The socket it hands over
// has TCP_NODELAY.
#pragma once

#include "duration.hpp"
#include "net.hpp"
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
    // `backend` is the one that took the connection, or null when every attempt failed; `sent`
    // is how many of the first bytes it has been sent already (the rest are the caller's to send).
    using handler = std::function<void(tcp_socket socket, const backend_address* backend, std::size_t sent)>;

    connector(asio::io_context::executor_type executor, duration timeout);

    // Tries r.backends in order: IP literals directly, DNS names resolved now (asynchronously)
    // and each of their addresses tried in turn. `r` and `first`'s bytes must outlive the attempt.
    void start(const route& r, asio::const_buffer first, handler done);
    // Gives up at once (the handler still runs, with no backend).
    void cancel();

private:
    using socket_ptr = std::shared_ptr<tcp_socket>;

    void try_backend();
    void connect_endpoints(unsigned attempt, std::vector<asio::ip::tcp::endpoint> endpoints);
    // Tries the next of endpoints_, or ends the attempt with `last_error` when none is left.
    void connect_next(unsigned attempt, const std::error_code& last_error);
    // Ends the current attempt now, whatever is still pending: its late completions are ignored.
    void end_attempt(const std::error_code& ec, std::size_t sent = 0);

    asio::io_context::executor_type executor_;
    duration timeout_;
    steady_timer timer_;
    std::optional<asio::ip::tcp::resolver> resolver_;
    // A fresh socket per attempt: an abandoned attempt's pending connect keeps its own socket,
    // so it can never reopen or close the one the next attempt uses.
    socket_ptr socket_;
    std::vector<asio::ip::tcp::endpoint> endpoints_; // the current backend's addresses
    std::size_t next_endpoint_ = 0;
    const route* route_ = nullptr;
    asio::const_buffer first_;
    std::size_t index_ = 0;
    unsigned attempt_ = 0; // completions carry the attempt they belong to
    bool cancelled_ = false;
    handler done_;
};

} // namespace kiagateway
