// A listening socket: accepts connections and hands each to the next worker, round robin.
#pragma once

#include "address.hpp"
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
    // Opens, binds and listens at once, so a bad address fails at start-up with its name.
    // Throws std::runtime_error with a message naming the address and the likely cause.
    listener(worker& home, std::vector<std::unique_ptr<worker>>& workers, protocol proto,
             const listen_address& address);

    // Starts and stops accepting; from any thread (both are posted to the listener's own worker).
    void start();
    // `closed` runs on the listener's worker once the acceptor is closed: every connection it
    // accepted before is counted in open_connections by then.
    void close(std::function<void()> closed = {});
    const std::string& address() const noexcept { return text_; }
    protocol proto() const noexcept { return proto_; }

private:
    void do_accept();
    void on_accept(const std::error_code& ec, asio::ip::tcp::socket socket);
    void pause_then_accept(std::chrono::milliseconds pause);

    worker& home_;
    std::vector<std::unique_ptr<worker>>& workers_;
    protocol proto_;
    asio::ip::tcp::acceptor acceptor_;
    asio::steady_timer pause_timer_;
    std::string text_; // the bound address, with the real port when 0 was asked for
    std::size_t next_worker_ = 0;
    std::uint64_t refused_in_burst_ = 0; // accepts failed for lack of descriptors, since the last success
};

// Explains a bind failure the way an operator needs it: which address, why, what to do.
std::string describe_bind_error(const listen_address& address, const std::error_code& ec);

} // namespace kiagateway
