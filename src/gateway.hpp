// The gateway: workers, listeners, reload and graceful stop, driven from one control thread.
#pragma once

#include "config.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "worker.hpp"

#include <asio.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kiagateway {

// What a service manager may want to hear (systemd's sd_notify, the Windows SCM): set by the
// platform layer before run(); each is called on the control thread.
struct lifecycle_hooks {
    std::function<void(const std::string& status)> ready; // accepting; also after a reload
    std::function<void()> reloading;
    std::function<void()> stopping;
};

class gateway {
public:
    // Binds every listener (throws std::runtime_error naming the address on failure) and
    // prepares the workers; nothing is accepted before run().
    gateway(config cfg, logger& log, access_log& access);
    ~gateway();
    gateway(const gateway&) = delete;
    gateway& operator=(const gateway&) = delete;

    // The control context: signals, reload and stop are handled here, on the thread in run().
    asio::io_context& control() noexcept { return control_; }
    void set_hooks(lifecycle_hooks hooks) { hooks_ = std::move(hooks); }

    // Starts the workers and serves until stopped; returns the process exit code.
    int run();
    // Reads the config file again; on any error the current routes stay. Control thread only.
    void reload();
    // First call: stop accepting and drain (up to drain_timeout); a second call closes
    // everything at once. Control thread only.
    void stop();

    const std::vector<std::shared_ptr<listener>>& listeners() const noexcept { return listeners_; }

private:
    void close_listeners();
    void poll_drain();
    void close_all_connections();
    void finish();

    config config_;
    logger& log_;
    asio::io_context control_{1};
    asio::executor_work_guard<asio::io_context::executor_type> control_guard_{control_.get_executor()};
    asio::steady_timer drain_deadline_{control_};
    asio::steady_timer drain_poll_{control_};
    shared_state shared_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<std::shared_ptr<listener>> listeners_;
    enum class state { created, running, draining, closing, stopped } state_ = state::created;
    lifecycle_hooks hooks_;
    std::size_t listeners_open_ = 0; // until each has confirmed its close, the count is not final
};

} // namespace kiagateway
