// The Linux pump: bytes in flight sit in a pipe that splice(2) fills from one socket and empties
// into the other, so they never cross into user space. Pipes come from the worker's pool.
#include "pump.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace kiagateway {

namespace {

// A pipe holds 64 KiB (16 pages) by default: one fill moves at most that.
constexpr std::size_t pipe_capacity = 64 * 1024;
constexpr unsigned splice_flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

std::error_code last_error() {
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) {
        return asio::error::would_block;
    }
    return {error, asio::error::get_system_category()};
}

} // namespace

struct pump_pool::slot {
    int read_end = -1;
    int write_end = -1;
};

pump_pool::~pump_pool() {
    for (slot* s : free_) {
        ::close(s->read_end);
        ::close(s->write_end);
        delete s;
    }
}

std::size_t pump_pool::chunk_size() noexcept { return pipe_capacity; }

pump_pool::slot* pump_pool::take(std::error_code& ec) {
    ec.clear();
    if (!free_.empty()) {
        slot* s = free_.back();
        free_.pop_back();
        return s;
    }
    int ends[2];
    if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) != 0) {
        ec = last_error();
        return nullptr;
    }
    return new slot{ends[0], ends[1]};
}

void pump_pool::give(slot* s, bool clean) {
    // A pipe that may still hold another connection's bytes is never handed out again.
    if (clean && free_.size() < max_free) {
        free_.push_back(s);
        return;
    }
    ::close(s->read_end);
    ::close(s->write_end);
    delete s;
}

std::size_t pump::fill(asio::ip::tcp::socket& from, std::error_code& ec) {
    if (slot_ == nullptr && (slot_ = pool_.take(ec)) == nullptr) {
        return 0;
    }
    const ssize_t n = ::splice(from.native_handle(), nullptr, slot_->write_end, nullptr, pipe_capacity, splice_flags);
    if (n < 0) {
        ec = last_error();
        release(true); // nothing entered the pipe
        pending_ = 0;
        return 0;
    }
    ec.clear();
    pending_ = static_cast<std::size_t>(n);
    if (n == 0) {
        release(true);
    }
    return pending_;
}

std::size_t pump::drain(asio::ip::tcp::socket& to, std::error_code& ec) {
    ec.clear();
    if (pending_ == 0) {
        return 0;
    }
    const ssize_t n = ::splice(slot_->read_end, nullptr, to.native_handle(), nullptr, pending_, splice_flags);
    if (n < 0) {
        ec = last_error();
        return 0;
    }
    pending_ -= static_cast<std::size_t>(n);
    if (pending_ == 0) {
        release(true);
    }
    return static_cast<std::size_t>(n);
}

} // namespace kiagateway
