// A worker: one thread running its own io_context, and the connections it owns.
#pragma once

#include "config.hpp"
#include "duration.hpp"
#include "log.hpp"
#include "net.hpp"
#include "pump.hpp"

#include <asio.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

namespace kiagateway {

class session;

// What a connection needs from the config: immutable, replaced as a whole on reload.
struct runtime {
    std::shared_ptr<const route_table> http;
    std::shared_ptr<const route_table> https;
    gateway_settings settings;
};

// Gateway-wide state the workers share: counters and the log sinks.
struct shared_state {
    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::uint64_t> limit_rejections{0};
    logger& log;
    access_log& access;
};

class worker {
public:
    worker(unsigned index, unsigned count, shared_state& shared, std::shared_ptr<const runtime> rt)
        : index_(index), count_(count), shared_(shared), runtime_(std::move(rt)) {}

    asio::io_context& io() noexcept { return io_; }
    shared_state& shared() noexcept { return shared_; }
    // Pipes or buffers for bytes in flight; only on this worker's thread.
    pump_pool& pumps() noexcept { return pumps_; }
    unsigned index() const noexcept { return index_; }

    // Only on this worker's thread.
    const std::shared_ptr<const runtime>& current() const noexcept { return runtime_; }
    void replace(std::shared_ptr<const runtime> rt) { runtime_ = std::move(rt); }
    std::uint64_t next_id() noexcept { return index_ + count_ * ++counter_; }
    // The worker's sessions are linked through themselves (no allocation per connection).
    void add(session* s) noexcept;
    void remove(session* s) noexcept;
    std::size_t session_count() const noexcept { return session_count_; }
    // Closes every connection, and any that arrives after (handed over just before a listener closed).
    void close_all();
    // A connection started relaying with this idle timeout: the worker's sweep (one timer for all
    // its connections, not one each) runs while it has connections, often enough for it.
    void watch_idle(duration idle_timeout);
    bool closing() const noexcept { return closing_; }

    void start() {
        thread_ = std::thread([this] { io_.run(); });
    }
    void release() { guard_.reset(); }
    void join() {
        if (thread_.joinable()) {
            thread_.join();
        }
    }

private:
    unsigned index_;
    unsigned count_;
    shared_state& shared_;
    // Before io_: the relays its handlers own give their pipes back while io_ is destroyed.
    pump_pool pumps_;
    // A concurrency hint of 1: only this worker's thread runs it (Asio's single-thread fast path).
    // Asio still locks, which other threads rely on: listeners post here and register accepted
    // sockets with this context's reactor.
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
    std::thread thread_;
    std::shared_ptr<const runtime> runtime_;
    session* first_session_ = nullptr;
    std::size_t session_count_ = 0;
    // In sweep_every_, closes the connections idle for their idle_timeout (and again after, while
    // there are connections).
    void arm_sweep();
    steady_timer idle_sweep_{io_};
    duration sweep_every_ = std::chrono::seconds(1);
    bool sweeping_ = false;
    std::uint64_t counter_ = 0;
    bool closing_ = false;
};

} // namespace kiagateway
