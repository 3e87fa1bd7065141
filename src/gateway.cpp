// The gateway: workers, listeners, reload and graceful stop, driven from one control thread.
#include "gateway.hpp"

#include "platform.hpp"

#include "duration.hpp"

#include <thread>

namespace kiagateway {

namespace {

constexpr auto drain_poll_interval = std::chrono::milliseconds(20);

std::shared_ptr<const runtime> make_runtime(const config& cfg) {
    return std::make_shared<const runtime>(runtime{cfg.http, cfg.https, cfg.gateway});
}

std::string count_of(std::size_t n, const char* thing) { return std::to_string(n) + " " + thing + (n == 1 ? "" : "s"); }

std::string routes_summary(const config& cfg) {
    return "http " + count_of(cfg.http->size(), "route") + ", tls " + count_of(cfg.https->size(), "route");
}

} // namespace

gateway::gateway(config cfg, logger& log, access_log& access)
    : config_(std::move(cfg)), log_(log), shared_{{0}, {0}, log, access} {
    unsigned count = config_.gateway.workers;
    if (count == 0) {
        count = std::max(1u, std::thread::hardware_concurrency());
    }
    const auto rt = make_runtime(config_);
    for (unsigned i = 0; i < count; ++i) {
        workers_.push_back(std::make_unique<worker>(i, count, shared_, rt));
    }
    // Linux: every worker has its own socket on each address (SO_REUSEPORT), so accepting needs
    // no hand-over between threads. Elsewhere the listeners are spread over the workers, and each
    // accepts for all of them in turn.
    const bool per_worker = platform::listen_per_worker() && workers_.size() > 1;
    std::size_t next = 0;
    const auto bind_all = [&](const std::vector<listen_address>& addresses, protocol proto) {
        for (const auto& address : addresses) {
            if (!per_worker) {
                listeners_.push_back(
                    std::make_shared<listener>(*workers_[next++ % workers_.size()], workers_, proto, address));
                continue;
            }
            auto first =
                std::make_shared<listener>(*workers_[0], workers_, proto, address, listener::mode::own_worker_first);
            listen_address shared_address = address;
            shared_address.port = first->port();
            listeners_.push_back(std::move(first));
            for (std::size_t i = 1; i < workers_.size(); ++i) {
                listeners_.push_back(std::make_shared<listener>(*workers_[i], workers_, proto, shared_address,
                                                                listener::mode::own_worker));
            }
        }
    };
    bind_all(config_.gateway.http_listen, protocol::http);
    bind_all(config_.gateway.https_listen, protocol::tls);
}

gateway::~gateway() {
    if (state_ != state::stopped && state_ != state::created) {
        close_all_connections();
        finish();
    }
}

int gateway::run() {
    state_ = state::running;
    for (const auto& l : listeners_) {
        if (l->primary()) {
            log_.info(std::string("listening for ") + to_string(l->proto()) + " on " + l->address());
        }
    }
    for (auto& w : workers_) {
        w->start();
    }
    for (const auto& l : listeners_) {
        l->start();
    }
    const std::string status = count_of(workers_.size(), "worker") + ", " + routes_summary(config_) + ", at most " +
                               count_of(config_.gateway.max_connections, "connection");
    log_.info("ready: " + status + ", config " + config_.path);
    if (hooks_.ready) {
        hooks_.ready(status);
    }
    control_.run();
    return 0;
}

void gateway::reload() {
    if (state_ != state::running) {
        return;
    }
    if (hooks_.reloading) {
        hooks_.reloading();
    }
    // Whatever happens, the gateway is serving again afterwards (with the old table on error).
    const auto serving_again = [this] {
        if (hooks_.ready) {
            hooks_.ready(routes_summary(config_));
        }
    };
    load_result loaded = load_config_file(config_.path);
    if (!loaded.ok()) {
        log_.error("reload failed, keeping the current routes: " + std::to_string(loaded.errors.size()) +
                   (loaded.errors.size() == 1 ? " error" : " errors") + " in " + config_.path);
        for (const auto& d : loaded.errors) {
            log_.error(d.to_text());
        }
        serving_again();
        return;
    }
    for (const auto& d : loaded.warnings) {
        log_.warning(d.to_text());
    }
    config next = std::move(*loaded.cfg);
    // Listeners, workers and log targets are fixed at start; routes, timeouts and limits reload.
    const auto& before = config_.gateway;
    const auto& after = next.gateway;
    if (after.workers != before.workers || after.access_log != before.access_log ||
        after.log_format != before.log_format || after.user != before.user || after.group != before.group) {
        log_.warning("workers, access_log, log_format, user and group changes take effect at the next restart");
    }
    if (!config_.listen_overridden &&
        (after.http_listen != before.http_listen || after.https_listen != before.https_listen)) {
        log_.warning("listener changes take effect at the next restart");
    }
    next.gateway.http_listen = before.http_listen;
    next.gateway.https_listen = before.https_listen;
    next.listen_overridden = config_.listen_overridden;
    config_ = std::move(next);
    const auto rt = make_runtime(config_);
    for (auto& w : workers_) {
        asio::post(w->io(), [worker = w.get(), rt] { worker->replace(rt); });
    }
    log_.info("reloaded " + config_.path + ": " + routes_summary(config_));
    serving_again();
}

void gateway::stop() {
    if (state_ == state::running) {
        state_ = state::draining;
        if (hooks_.stopping) {
            hooks_.stopping();
        }
        close_listeners();
        const std::size_t open = shared_.open_connections.load();
        log_.info("stopping: listeners closed; " + count_of(open, "open connection") + " may finish within " +
                  format_duration(config_.gateway.drain_timeout) + " (a second signal stops at once)");
        drain_deadline_.expires_after(config_.gateway.drain_timeout);
        drain_deadline_.async_wait([this](const std::error_code& ec) {
            if (!ec && state_ == state::draining) {
                log_.info("drain time is up: closing " + count_of(shared_.open_connections.load(), "connection"));
                close_all_connections();
            }
        });
    } else if (state_ == state::draining) {
        log_.info("stopping now: closing " + count_of(shared_.open_connections.load(), "connection"));
        close_all_connections();
    }
}

void gateway::close_listeners() {
    // A connection accepted just before the close is counted (fetch_add) and handed to its worker
    // on the listener's thread, before the close runs there. So once every listener confirms,
    // open_connections is final and the drain can count down from it.
    listeners_open_ = listeners_.size();
    if (listeners_open_ == 0) {
        poll_drain();
        return;
    }
    for (const auto& l : listeners_) {
        l->close([this] {
            asio::post(control_, [this] {
                if (--listeners_open_ == 0) {
                    poll_drain();
                }
            });
        });
    }
}

void gateway::poll_drain() {
    if (shared_.open_connections.load() == 0) {
        finish();
        return;
    }
    drain_poll_.expires_after(drain_poll_interval);
    drain_poll_.async_wait([this](const std::error_code& ec) {
        if (!ec) {
            poll_drain();
        }
    });
}

void gateway::close_all_connections() {
    state_ = state::closing;
    for (auto& w : workers_) {
        asio::post(w->io(), [worker = w.get()] { worker->close_all(); });
    }
}

void gateway::finish() {
    if (state_ == state::stopped) {
        return;
    }
    state_ = state::stopped;
    drain_deadline_.cancel();
    drain_poll_.cancel();
    // Once no connection holds work, each io_context runs out and its thread ends.
    for (auto& w : workers_) {
        w->release();
    }
    for (auto& w : workers_) {
        w->join();
    }
    control_guard_.reset();
    control_.stop();
    log_.info("stopped");
}

} // namespace kiagateway
