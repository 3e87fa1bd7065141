// Pipes bytes both ways between client and backend until both directions are closed.
#pragma once

#include "duration.hpp"

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace kiagateway {

class relay : public std::enable_shared_from_this<relay> {
public:
    struct result {
        std::uint64_t bytes_up = 0;   // client -> backend, the replayed prefix included
        std::uint64_t bytes_down = 0; // backend -> client
        bool idle_timeout = false;    // closed for want of traffic
        bool aborted = false;         // a reset or error, not an orderly close both ways
    };
    using handler = std::function<void(const result&)>;

    // `upstream_buffer` is reused for the client -> backend direction (it held the sniffed bytes).
    relay(asio::ip::tcp::socket client, asio::ip::tcp::socket backend, std::vector<std::uint8_t> upstream_buffer,
          duration idle_timeout);

    // Writes `prefix` bytes of the upstream buffer (the sniffed head) to the backend, then relays.
    void start(std::size_t prefix, handler done);
    // Closes both sockets now.
    void close();

private:
    // One direction: EOF on `from` becomes shutdown(send) on `to` (half-close), so
    // protocols that signal "done" with a FIN keep working through the gateway.
    struct direction {
        asio::ip::tcp::socket* from;
        asio::ip::tcp::socket* to;
        std::vector<std::uint8_t> buffer;
        std::uint64_t bytes = 0;
        bool done = false;
    };

    void do_read(direction& d);
    void do_write(direction& d, std::size_t n);
    void finish_direction(direction& d, bool eof);
    void arm_idle_timer();
    void complete();

    asio::ip::tcp::socket client_;
    asio::ip::tcp::socket backend_;
    direction up_;
    direction down_;
    asio::steady_timer timer_;
    duration idle_timeout_;
    std::chrono::steady_clock::time_point last_activity_;
    result result_;
    bool completed_ = false;
    handler done_;
};

} // namespace kiagateway
