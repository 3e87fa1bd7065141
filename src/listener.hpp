// A listening socket. Either one per address, handing connections to the workers round robin, or
// (Linux) one per worker per address, all bound with SO_REUSEPORT, each keeping what it accepts.
#pragma once

#include "address.hpp"
#include "net.hpp"
#include "router.hpp"
#include "worker.hpp"

#include <asio.hpp>

#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace kiagateway {

class listener : public std::enable_shared_from_this<listener> {
public:
    enum class mode {
        round_robin,      // the only socket on its address: hands connections to every worker in turn
        own_worker_first, // the first of a SO_REUSEPORT group: checks the port is free, resolves port 0
        own_worker,       // a further socket of that group, on the first one's port
    };

    // Opens, binds and listens at once, so a bad address fails at start-up with its name.
    // Throws std::runtime_error with a message naming the address and the likely cause.
    listener(worker& home, std::vector<std::unique_ptr<worker>>& workers, protocol proto, const listen_address& address,
             mode how = mode::round_robin);

    // Starts and stops accepting; from any thread (both are posted to the listener's own worker).
    void start();
    // `closed` runs on the listener's worker once the acceptor is closed: every connection it
    // accepted before is counted in open_connections by then.
    void close(std::function<void()> closed = {});
    const std::string& address() const noexcept { return text_; }
    std::uint16_t port() const noexcept { return port_; }
    // The one socket of its address, or the first of its group: the one the start-up log names.
    bool primary() const noexcept { return mode_ != mode::own_worker; }
    protocol proto() const noexcept { return proto_; }

private:
    void do_accept();
    void on_accept(const std::error_code& ec, tcp_socket socket);
    void pause_then_accept(std::chrono::milliseconds pause);

    worker& home_;
    std::vector<std::unique_ptr<worker>>& workers_;
    protocol proto_;
    mode mode_;
    asio::ip::tcp::acceptor acceptor_;
    asio::ip::tcp::endpoint peer_; // the pending accept's client address (accept fills it: no getpeername)
    asio::steady_timer pause_timer_;
    std::string text_; // the bound address, with the real port when 0 was asked for
    std::uint16_t port_ = 0;
    std::size_t next_worker_ = 0;
    std::uint64_t refused_in_burst_ = 0; // accepts failed for lack of descriptors, since the last success
};

// Explains a bind failure the way an operator needs it: which address, why, what to do.
std::string describe_bind_error(const listen_address& address, const std::error_code& ec);

} // namespace kiagateway
