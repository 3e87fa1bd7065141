// Logs: operational lines to stderr, and one access-log line per connection (text or JSON).
#include "log.hpp"

#include "json.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

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
}

void text_field(std::string& out, const char* key, std::string_view value) {
    out += ' ';
    out += key;
    out += '=';
    out += value.empty() ? std::string_view("-") : value;
}

void json_field(std::string& out, const char* key, std::string_view value) {
    out += ",\"";
    out += key;
    out += "\":";
    out += value.empty() ? std::string("null") : json_quote(value);
}

void json_number(std::string& out, const char* key, std::uint64_t value) {
    out += ",\"";
    out += key;
    out += "\":";
    out += std::to_string(value);
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
        line = "{\"time\":\"" + now + "\",\"level\":\"" + level_name(lvl) + "\",\"message\":" + json_quote(message) + "}";
    } else {
        line = now + " " + level_name(lvl) + ": ";
        line += message;
    }
    write_line(stderr, line);
}

access_log::access_log(const std::string& target, log_format format) : format_(format) {
    if (target == "off") {
        return;
    }
    if (target == "stdout") {
        file_ = stdout;
    } else if (target == "stderr") {
        file_ = stderr;
    } else {
        file_ = std::fopen(target.c_str(), "a");
        if (file_ == nullptr) {
            throw std::runtime_error("cannot open the access log " + target + ": " + std::strerror(errno));
        }
        owned_ = true;
    }
    // Line-buffered: `tail -f` and log shippers see each connection when it ends.
    std::setvbuf(file_, nullptr, _IOLBF, 1 << 16);
}

access_log::~access_log() {
    if (owned_) {
        std::fclose(file_);
    } else if (file_ != nullptr) {
        std::fflush(file_);
    }
}

void access_log::write(const access_record& r) {
    if (file_ == nullptr) {
        return;
    }
    std::string line;
    line.reserve(256);
    if (format_ == log_format::json) {
        line += "{\"time\":\"" + format_time(r.start) + "\"";
        json_number(line, "id", r.id);
        json_field(line, "client", r.client);
        json_field(line, "listener", r.listener);
        json_field(line, "protocol", to_string(r.proto));
        json_field(line, "name", r.name);
        json_field(line, "rule", r.rule);
        json_field(line, "backend", r.backend);
        json_number(line, "bytes_up", r.bytes_up);
        json_number(line, "bytes_down", r.bytes_down);
        json_number(line, "duration_ms", static_cast<std::uint64_t>(r.duration.count()));
        json_field(line, "outcome", to_string(r.result));
        line += '}';
    } else {
        line += format_time(r.start);
        text_field(line, "id", std::to_string(r.id));
        text_field(line, "client", r.client);
        text_field(line, "listener", r.listener);
        text_field(line, "proto", to_string(r.proto));
        text_field(line, "name", r.name);
        text_field(line, "rule", r.rule);
        text_field(line, "backend", r.backend);
        text_field(line, "up", std::to_string(r.bytes_up));
        text_field(line, "down", std::to_string(r.bytes_down));
        text_field(line, "ms", std::to_string(r.duration.count()));
        text_field(line, "outcome", to_string(r.result));
    }
    write_line(file_, line);
}

} // namespace kiagateway
