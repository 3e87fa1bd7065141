// systemd's readiness protocol (sd_notify) without libsystemd: one datagram to $NOTIFY_SOCKET.
#include "sd_notify.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace kiagateway::platform {

bool sd_notify(const std::string& state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || path[0] == '\0') {
        return true; // not under systemd (or not Type=notify): nothing to tell
    }
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::size_t length = std::strlen(path);
    // A path ('/...') or an abstract socket ('@...' means a leading NUL byte).
    if ((path[0] != '/' && path[0] != '@') || length >= sizeof address.sun_path) {
        return false;
    }
    std::memcpy(address.sun_path, path, length);
    if (path[0] == '@') {
        address.sun_path[0] = '\0';
    }
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
    const ssize_t sent =
        ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address), size);
    ::close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

std::string monotonic_usec_field() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
                      static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
    return "MONOTONIC_USEC=" + std::to_string(usec);
}

} // namespace kiagateway::platform
