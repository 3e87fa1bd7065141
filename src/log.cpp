// Logs: operational lines to stderr, and one access-log line per connection (text or JSON).
#include "log.hpp"

#include "json.hpp"

#include <asio/detail/signal_blocker.hpp>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace kiagateway {

namespace {

const char* level_name(logger::level lvl) {
    switch (lvl) {
    case logger::level::info:
        return "info";
    case logger::level::warning:
        return "warning";
    case logger::level::error:
        return "error";
    }
    return "info";
}

// One fwrite per line: stdio locks the stream per call, so lines from several
// worker threads never interleave.
void write_line(std::FILE* file, std::string& line) {
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), file);
    // stderr is not always unbuffered (Windows' C runtime buffers it when it is a pipe): each
    // operational line must be out at once, for a supervisor's log as for a person watching.
    std::fflush(file);
}

// One access-log field under its text key ("up") and its JSON key ("bytes_up"): the one list
// both formats are written from.
struct field {
    const char* text_key;
    const char* json_key;
    std::string_view value; // empty = missing: "-" in text, null in JSON
    bool number;
};

void append_text(std::string& out, const field& f) {
    out += ' ';
    out += f.text_key;
    out += '=';
    out += f.value.empty() ? std::string_view("-") : f.value;
}

void append_json(std::string& out, const field& f) {
    out += ",\"";
    out += f.json_key;
    out += "\":";
    if (f.value.empty()) {
        out += "null";
    } else if (f.number) {
        out += f.value;
    } else {
        out += json_quote(f.value);
    }
}

} // namespace

std::string format_time(std::chrono::system_clock::time_point t) {
    // C++20 calendar types: portable, no gmtime_r / gmtime_s split.
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day date{day};
    const hh_mm_ss time{floor<milliseconds>(t - day)};
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()), static_cast<int>(time.subseconds().count()));
    return buffer;
}

void logger::write(level lvl, std::string_view message) {
    std::string line;
    const std::string now = format_time(std::chrono::system_clock::now());
    if (format_ == log_format::json) {
        line =
            "{\"time\":\"" + now + "\",\"level\":\"" + level_name(lvl) + "\",\"message\":" + json_quote(message) + "}";
    } else {
        line = now + " " + level_name(lvl) + ": ";
        line += message;
    }
    write_line(stderr, line);
    if (mirror_) {
        mirror_(lvl, message);
    }
}

struct access_log::queue {
    std::FILE* file = nullptr;
    bool owned = false;
    std::mutex mutex;
    std::condition_variable wake;    // lines queued, or stopping
    std::condition_variable drained; // the writer has finished
    std::string pending;             // complete lines, newline-terminated
    std::uint64_t dropped = 0;
    bool stopping = false;
    bool finished = false;

    void run() {
        std::string batch;
        std::uint64_t reported = 0;
        std::unique_lock lock(mutex);
        while (true) {
            wake.wait(lock, [this] { return stopping || !pending.empty(); });
            if (pending.empty() && stopping) {
                break;
            }
            batch.swap(pending);
            const std::uint64_t dropped_now = dropped;
            lock.unlock();
            std::fwrite(batch.data(), 1, batch.size(), file); // may block: only this thread waits
            std::fflush(file);
            batch.clear();
            if (dropped_now != reported) {
                std::string line = format_time(std::chrono::system_clock::now()) +
                                   " warning: access log: " + std::to_string(dropped_now - reported) +
                                   " lines dropped: its reader is not keeping up";
                write_line(stderr, line);
                reported = dropped_now;
            }
            lock.lock();
        }
        if (owned) {
            std::fclose(file);
        }
        finished = true;
        drained.notify_all();
    }
};

access_log::access_log(const std::string& target, log_format format) : format_(format) {
    if (target == "off") {
        return;
    }
    auto q = std::make_shared<queue>();
    if (target == "stdout") {
        q->file = stdout;
    } else if (target == "stderr") {
        q->file = stderr;
    } else {
        q->file = std::fopen(target.c_str(), "a");
        if (q->file == nullptr) {
            throw std::runtime_error("cannot open the access log " + target + ": " + std::strerror(errno));
        }
        q->owned = true;
    }
    // Unbuffered: the writer batches lines itself, and nothing stays in stdio's buffer for exit()
    // to flush (which would block on a pipe nobody reads).
    std::setvbuf(q->file, nullptr, _IONBF, 0);
    queue_ = q;
    // Started with signals blocked: it starts before the platform layer sets up signal handling
    // (platform/posix takes SIGTERM/SIGHUP with sigwait and needs every other thread to block them).
    asio::detail::signal_blocker block_in_new_thread;
    std::thread([q] { q->run(); }).detach();
}

access_log::~access_log() {
    if (!queue_) {
        return;
    }
    std::unique_lock lock(queue_->mutex);
    queue_->stopping = true;
    queue_->wake.notify_one();
    // A reader that never reads would block the writer forever; the process is ending, so give it
    // a few seconds, then leave it (the thread owns its share of the queue).
    queue_->drained.wait_for(lock, std::chrono::seconds(3), [this] { return queue_->finished; });
}

void access_log::write(const access_record& r) {
    if (!queue_) {
        return;
    }
    const std::string time = format_time(r.start);
    const std::string id = std::to_string(r.id);
    const std::string up = std::to_string(r.bytes_up);
    const std::string down = std::to_string(r.bytes_down);
    const std::string ms = std::to_string(r.duration.count());
    const field fields[] = {
        {"id", "id", id, true},
        {"client", "client", r.client, false},
        {"listener", "listener", r.listener, false},
        {"proto", "protocol", to_string(r.proto), false},
        {"name", "name", r.name, false},
        {"rule", "rule", r.rule, false},
        {"backend", "backend", r.backend, false},
        {"up", "bytes_up", up, true},
        {"down", "bytes_down", down, true},
        {"ms", "duration_ms", ms, true},
        {"outcome", "outcome", to_string(r.result), false},
    };
    std::string line;
    line.reserve(256);
    if (format_ == log_format::json) {
        line += "{\"time\":\"" + time + "\"";
        for (const field& f : fields) {
            append_json(line, f);
        }
        line += '}';
    } else {
        line += time;
        for (const field& f : fields) {
            append_text(line, f);
        }
    }
    line += '\n';
    std::lock_guard lock(queue_->mutex);
    if (queue_->pending.size() + line.size() > max_queued_bytes) {
        ++queue_->dropped;
        return;
    }
    const bool was_empty = queue_->pending.empty();
    queue_->pending += line;
    if (was_empty) {
        queue_->wake.notify_one();
    }
}

} // namespace kiagateway
