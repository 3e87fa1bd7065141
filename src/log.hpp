// Logs: operational lines to stderr, and one access-log line per connection (text or JSON).
#pragma once

#include "config.hpp"
#include "router.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace kiagateway {

// Operational messages ("listening on ...", "reload failed ..."): stderr, one line each,
// "<time> <level>: <message>" or a JSON object when the config asks for JSON.
class logger {
public:
    enum class level { info, warning, error };

    void set_format(log_format format) noexcept { format_ = format; }
    // Also hands every message to `mirror` (the Windows service's Event Log). Set it before any
    // other thread logs; it must be thread-safe.
    void set_mirror(std::function<void(level, std::string_view)> mirror) { mirror_ = std::move(mirror); }
    void write(level lvl, std::string_view message);
    void info(std::string_view message) { write(level::info, message); }
    void warning(std::string_view message) { write(level::warning, message); }
    void error(std::string_view message) { write(level::error, message); }

private:
    log_format format_ = log_format::text;
    std::function<void(level, std::string_view)> mirror_;
};

// Everything the access log says about one connection.
struct access_record {
    std::chrono::system_clock::time_point start;
    std::uint64_t id = 0;
    std::string client;   // "ip:port"
    std::string listener; // "ip:port"
    protocol proto = protocol::http;
    std::string name;             // empty when none was found
    std::string rule;             // empty when no rule matched
    std::string backend;          // empty when none was connected
    std::uint64_t bytes_up = 0;   // client -> backend, the sniffed bytes included
    std::uint64_t bytes_down = 0; // backend -> client
    std::chrono::milliseconds duration{0};
    outcome result = outcome::ok;
};

// The access log target from [gateway] access_log: "stdout", "stderr", "off" or a file (appended).
// Workers only queue lines; one writer thread does the (possibly blocking) writes, so a reader that
// stops reading (a full pipe) never stalls a worker. Past a cap the lines are dropped and counted.
class access_log {
public:
    // Throws std::runtime_error naming the file when it cannot be opened.
    access_log(const std::string& target, log_format format);
    // Writes out what is queued (waiting at most a few seconds for a stalled reader).
    ~access_log();
    access_log(const access_log&) = delete;
    access_log& operator=(const access_log&) = delete;

    bool enabled() const noexcept { return queue_ != nullptr; }
    void write(const access_record& record);

    // Bytes that may wait for the writer before lines are dropped.
    static constexpr std::size_t max_queued_bytes = 4 * 1024 * 1024;

private:
    struct queue; // shared with the writer thread, which may outlive a stalled shutdown
    std::shared_ptr<queue> queue_;
    log_format format_;
};

// "2026-11-27T12:00:00.123Z"
std::string format_time(std::chrono::system_clock::time_point t);

} // namespace kiagateway
