// Pipes bytes both ways between client and backend until both directions are closed.
#pragma once

#include "duration.hpp"
#include "net.hpp"
#include "pump.hpp"
#include "reactor_ops.hpp"

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace kiagateway {

// A part of its connection's session: the sockets and the sniffed bytes are the session's, and
// so is the lifetime (one object per connection, not one per phase: less memory
// per idle connection, one allocation fewer per connection).
class relay {
public:
    struct result {
        std::uint64_t bytes_up = 0;   // client -> backend, the replayed prefix included
        std::uint64_t bytes_down = 0; // backend -> client
        bool idle_timeout = false;    // closed for want of traffic
        bool aborted = false;         // a reset or error, not an orderly close both ways
    };
    using handler = std::function<void(const result&)>;

    // `sniffed` holds the bytes read from the client before routing; `pumps` is the worker's pool
    // (it must outlive the relay: the worker owns both). `client` is ready for
    // platform::receive_now already (its session made it so before sniffing). All must outlive
    // the relay. No timer of its own: the worker's sweep calls close_if_idle.
    relay(tcp_socket& client, tcp_socket& backend, head_buffer& sniffed, duration idle_timeout, pump_pool& pumps);
    relay(const relay&) = delete;
    relay& operator=(const relay&) = delete;

    // Writes the first `prefix` sniffed bytes to the backend, exactly as received (then gives
    // their buffer back), then relays; the first `sent` of them went with the connect already.
    // `owner` owns the relay: the pending operations keep it alive. `done` runs once, when both
    // directions are over (it must not own the owner).
    void start(std::size_t prefix, std::size_t sent, std::weak_ptr<void> owner, handler done);
    // Closes both sockets now.
    void close();
    // Closes the connection if no byte moved either way for idle_timeout before `now` (the
    // worker's sweep asks: src/worker.hpp).
    void close_if_idle(std::chrono::steady_clock::time_point now);

private:
    // One direction: read from `from` (the reactor's read is the wait, and takes a pooled buffer
    // only once bytes are there), move the bytes through the pump, wait until `to` takes them,
    // repeat. While waiting for `from` nothing is held but the read itself. EOF on `from` becomes
    // shutdown(send) on `to` (half-close), so protocols that end with a FIN keep working.
    struct direction final : read_wait::target {
        direction(relay& r, tcp_socket& source, read_wait::origin source_origin, tcp_socket& sink,
                  pump_pool& pumps) noexcept
            : owner(&r), from(&source), to(&sink), bytes_in_flight(pumps), reading(*this, source_origin) {}
        asio::mutable_buffer read_space() override { return bytes_in_flight.read_space(); }
        void read_space_unused() noexcept override { bytes_in_flight.read_space_unused(); }
        void read_done(const std::error_code& ec, std::size_t n) override;

        relay* owner;
        tcp_socket* from;
        tcp_socket* to;
        pump bytes_in_flight;
        read_wait reading;
        std::uint64_t bytes = 0;
        bool done = false;
    };

    void listen(direction& d);
    void move(direction& d);
    // Waits until `socket` is readable (from) or writable (to), then moves on.
    void wait(direction& d, tcp_socket& socket, asio::socket_base::wait_type what);
    void finish_direction(direction& d, bool eof);
    void complete();

    // What keeps the relay alive while an operation is pending: its owner.
    std::shared_ptr<void> keep() const { return owner_.lock(); }

    tcp_socket& client_;
    tcp_socket& backend_;
    head_buffer& sniffed_; // given back once written to the backend
    std::weak_ptr<void> owner_;
    direction up_;
    direction down_;
    duration idle_timeout_;
    std::chrono::steady_clock::time_point last_activity_;
    result result_;
    bool completed_ = false;
    handler done_;
};

} // namespace kiagateway
