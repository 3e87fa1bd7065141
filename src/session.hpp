// One client connection: sniff the name under a deadline, route it, answer or connect, then relay.
#pragma once

#include "connector.hpp"
#include "log.hpp"
#include "net.hpp"
#include "reactor_ops.hpp"
#include "relay.hpp"
#include "sniff_http.hpp"
#include "sniff_tls.hpp"
#include "worker.hpp"

#include <asio.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiagateway {

class session final : public std::enable_shared_from_this<session>, private read_wait::target {
public:
    // `open_connections` was already counted for this connection; the session gives it back.
    // `peer` is the client's address, as accept returned it.
    session(worker& owner, tcp_socket client, const asio::ip::tcp::endpoint& peer, protocol proto,
            const std::string& listener);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    void start();
    // Over max_connections: close at once, logged with outcome "limit".
    void reject_over_limit();
    // Closes the connection now, whatever it is doing.
    void close();
    // While relaying: closes the connection if it moved no byte for idle_timeout before `now`.
    void close_if_idle(std::chrono::steady_clock::time_point now);
    // close() for the gateway's stop (the end of a drain): logged as "shutdown" unless finished.
    void shut_down();

private:
    enum class phase { sniffing, answering, connecting, relaying, done };

    std::size_t read_limit() const noexcept;
    // The sniffing read (read_wait::target): the head buffer is taken only once the client sends.
    asio::mutable_buffer read_space() override;
    void read_space_unused() noexcept override;
    void read_done(const std::error_code& ec, std::size_t n) override;
    void on_read(std::size_t n);
    void route(const sniff_result& sniffed);
    // Sends a final answer (an HTTP error or a TLS alert), then closes gracefully.
    void answer(std::string_view bytes);
    void linger();
    void drain_client();
    void on_connected(tcp_socket backend, const backend_address* connected_to, std::size_t sent);

    worker& worker_;
    tcp_socket client_;
    tcp_socket backend_; // once connected
    // Sniffing's deadline, then the answer's linger (the relay's idle timeout is the worker's sweep).
    steady_timer timer_;
    std::shared_ptr<const runtime> runtime_; // the table this connection started with, kept on reload
    phase phase_ = phase::sniffing;
    head_buffer buffer_;
    std::size_t filled_ = 0;
    read_wait sniffing_{*this, read_wait::origin::accepted};
    // The protocol's sniffer, while sniffing: what it keeps (a ClientHello's reassembled handshake)
    // is freed once the name is known, not held for the connection's life.
    std::unique_ptr<tls_sniffer> tls_;
    std::unique_ptr<http_sniffer> http_;
    std::weak_ptr<connector> connector_;
    std::optional<relay> relay_;
    std::chrono::steady_clock::time_point started_;
    access_record record_;
    // The worker's list of its sessions runs through them (worker::add, worker::remove).
    friend class worker;
    session* previous_in_worker_ = nullptr;
    session* next_in_worker_ = nullptr;
};

} // namespace kiagateway
