// Linux: bulk bytes go socket -> pipe -> socket with splice(2), never copied into the gateway.
#include "pump.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace kiagateway::zero_copy {

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

// splice(2) waits on a blocking socket whatever its flags say: the socket must be O_NONBLOCK.
// Asio has made it so for its own operations on it (a flag it keeps: no system call to ask); a
// socket only the relay's MSG_DONTWAIT calls have used is made so here, once.
bool socket_non_blocking(tcp_socket& socket, std::error_code& ec) {
    if (!socket.native_non_blocking()) {
        socket.native_non_blocking(true, ec);
        return !ec;
    }
    return true;
}

} // namespace

struct pipe {
    int read_end;
    int write_end;
};

bool available() noexcept { return true; }

pipe* open(std::error_code& ec) {
    int ends[2];
    if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) != 0) {
        ec = last_error();
        return nullptr;
    }
    ec.clear();
    return new pipe{ends[0], ends[1]};
}

void close(pipe* p) noexcept {
    ::close(p->read_end);
    ::close(p->write_end);
    delete p;
}

std::size_t fill(pipe* p, tcp_socket& from, std::size_t max, std::error_code& ec) {
    if (!socket_non_blocking(from, ec)) {
        return 0;
    }
    const ssize_t n = ::splice(from.native_handle(), nullptr, p->write_end, nullptr, max, splice_flags);
    if (n < 0) {
        ec = last_error();
        return 0;
    }
    ec.clear();
    return static_cast<std::size_t>(n);
}

std::size_t drain(pipe* p, tcp_socket& to, std::size_t n, std::error_code& ec) {
    if (!socket_non_blocking(to, ec)) {
        return 0;
    }
    const ssize_t moved = ::splice(p->read_end, nullptr, to.native_handle(), nullptr, n, splice_flags);
    if (moved < 0) {
        ec = last_error();
        return 0;
    }
    ec.clear();
    return static_cast<std::size_t>(moved);
}

std::size_t capacity() noexcept { return pipe_capacity; }

} // namespace kiagateway::zero_copy
