// POSIX platform layer: the open-file limit, SIGPIPE, signals (TERM/INT stop, HUP reloads), sd_notify.
#include "platform.hpp"

#include "gateway.hpp"
#include "log.hpp"
#include "sd_notify.hpp"

#include <asio.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace kiagateway::platform {

std::string default_config_path() { return "servers.toml"; }

bool listen_per_worker() {
#if defined(__linux__)
    return true; // SO_REUSEPORT spreads connections over the sockets (Linux 3.9+)
#else
    return false; // BSD's SO_REUSEPORT does not balance: the last socket bound gets them all
#endif
}

std::error_code prepare_listening_socket(asio::ip::tcp::acceptor& acceptor, bool shared) {
    std::error_code ec;
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
#if defined(SO_REUSEPORT)
    if (!ec && shared) {
        const int on = 1;
        if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
            ec = {errno, std::system_category()};
        }
    }
#else
    (void)shared;
#endif
#if defined(__linux__)
    // Accepted sockets inherit TCP_NODELAY from the listening one on Linux: one setsockopt here
    // instead of one per connection (prepare_accepted_socket).
    if (!ec) {
        acceptor.set_option(asio::ip::tcp::no_delay(true), ec);
    }
#endif
    return ec;
}

void prepare_accepted_socket(tcp_socket& socket) {
#if defined(__linux__)
    (void)socket; // TCP_NODELAY came from the listening socket
#else
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
#endif
}

std::string bind_error_hint(std::uint16_t port, const std::error_code& ec) {
    const std::string number = std::to_string(port);
    if (ec == asio::error::address_in_use) {
#if defined(__linux__)
        return "another program is listening there; 'ss -ltnp sport = :" + number + "' shows which";
#else
        return "another program is listening there; 'lsof -nP -iTCP:" + number + " -sTCP:LISTEN' shows which";
#endif
    }
    if (ec == asio::error::access_denied && port < 1024) {
#if defined(__linux__)
        return "ports below 1024 need root or CAP_NET_BIND_SERVICE (the systemd unit grants it); for local use "
               "pick another port, e.g. --http-listen 127.0.0.1:8080";
#else
        return "ports below 1024 need root (the launchd daemon runs as root); for local use pick another port, "
               "e.g. --http-listen 127.0.0.1:8080";
#endif
    }
    return {};
}

int run_as_service(logger& log, const std::function<int(std::ostream& err)>&) {
    log.error("--service is for the Windows Service Control Manager; under systemd, launchd or a container run "
              "'kiagateway run' in the foreground (it never forks)");
    return 2;
}

std::error_code prepare_relay_socket(tcp_socket&) {
    // Nothing: receive_now and send_now pass MSG_DONTWAIT, and splice(2) makes its sockets
    // O_NONBLOCK itself when it first needs them so (platform/linux/zero_copy_splice.cpp).
    return {};
}

namespace {

std::size_t transferred(ssize_t n, std::error_code& ec) {
    if (n >= 0) {
        ec.clear();
        return static_cast<std::size_t>(n);
    }
    const int error = errno;
    ec = error == EAGAIN || error == EWOULDBLOCK ? std::error_code(asio::error::would_block)
                                                 : std::error_code(error, asio::error::get_system_category());
    return 0;
}

} // namespace

std::size_t receive_now(tcp_socket& socket, void* data, std::size_t size, std::error_code& ec) {
    ssize_t n = 0;
    do {
        n = ::recv(socket.native_handle(), data, size, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return transferred(n, ec);
}

std::size_t send_now(tcp_socket& socket, const void* data, std::size_t size, std::error_code& ec) {
#if defined(MSG_NOSIGNAL)
    constexpr int flags = MSG_DONTWAIT | MSG_NOSIGNAL;
#else
    constexpr int flags = MSG_DONTWAIT; // SIGPIPE is ignored (prepare_process)
#endif
    ssize_t n = 0;
    do {
        n = ::send(socket.native_handle(), data, size, flags);
    } while (n < 0 && errno == EINTR);
    return transferred(n, ec);
}

std::vector<std::string> prepare_process() {
    std::vector<std::string> notes;
    // A write to a peer that has gone must be an error code, never a process-killing signal
    // (Asio sends with MSG_NOSIGNAL on Linux, but not every platform has it, and logs go to pipes).
    std::signal(SIGPIPE, SIG_IGN);

    // Each connection costs two descriptors. The soft limit is often 1024 (and lower on some
    // BSDs, which the original warned could be used for a DoS): take the hard limit.
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        rlim_t wanted = limit.rlim_max;
#if defined(__APPLE__)
        // macOS refuses RLIM_INFINITY here; OPEN_MAX is the most setrlimit accepts.
        if (wanted == RLIM_INFINITY || wanted > OPEN_MAX) {
            wanted = OPEN_MAX;
        }
#endif
        if (limit.rlim_cur < wanted) {
            const rlim_t before = limit.rlim_cur;
            limit.rlim_cur = wanted;
            if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
                notes.push_back("open-file limit raised from " + std::to_string(before) + " to " +
                                std::to_string(wanted));
            } else {
                notes.push_back("could not raise the open-file limit above " + std::to_string(before));
            }
        } else {
            notes.push_back("open-file limit " + std::to_string(limit.rlim_cur));
        }
    }
    return notes;
}

std::string drop_privileges(const std::string& user, const std::string& group_name) {
    if (user.empty() && group_name.empty()) {
        return {};
    }
    gid_t gid = getgid();
    uid_t uid = getuid();
    if (!user.empty()) {
        const passwd* pw = getpwnam(user.c_str());
        if (pw == nullptr) {
            return "[gateway] user \"" + user + "\" does not exist";
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    if (!group_name.empty()) {
        const struct group* gr = getgrnam(group_name.c_str());
        if (gr == nullptr) {
            return "[gateway] group \"" + group_name + "\" does not exist";
        }
        gid = gr->gr_gid;
    }
    // Order matters: supplementary groups and the group while still privileged, the user last.
    const int groups_set = user.empty() ? setgroups(1, &gid) : initgroups(user.c_str(), gid);
    if (groups_set != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        return "cannot switch to user \"" + user + "\" / group \"" + group_name + "\" (" + std::strerror(errno) +
               "): start kiagateway as root to use [gateway] user/group";
    }
    // Make sure there is no way back.
    if (uid != 0 && setuid(0) == 0) {
        return "dropped privileges could be regained; refusing to run";
    }
    return {};
}

int serve(gateway& g, logger& log) {
    // Type=notify: systemd waits for READY=1 before it counts the service as started, and hears
    // of reloads and stops, so `systemctl reload` returns once the new table is in place.
    g.set_hooks({
        [](const std::string& status) { sd_notify("READY=1\nSTATUS=" + status); },
        [] { sd_notify("RELOADING=1\n" + monotonic_usec_field()); },
        [] { sd_notify("STOPPING=1"); },
    });
    // Stop and reload signals are blocked in every thread (the threads the gateway starts inherit
    // this mask) and taken synchronously by one thread with sigwait(), then posted to the control
    // loop. No asynchronous handler runs at all, so no signal can slip in just before the control
    // thread goes to sleep (which ThreadSanitizer's deferred delivery made happen with a handler).
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &handled, nullptr);

    std::atomic<bool> done{false};
    std::thread waiter([&] {
        while (true) {
            int number = 0;
            if (sigwait(&handled, &number) != 0 || done.load()) {
                return;
            }
            asio::post(g.control(), [&g, &log, number] {
                if (number == SIGHUP) {
                    log.info("SIGHUP: reloading the config");
                    g.reload();
                } else {
                    log.info(number == SIGINT ? "SIGINT received" : "SIGTERM received");
                    g.stop();
                }
            });
        }
    });
    const int code = g.run();
    done.store(true);
    pthread_kill(waiter.native_handle(), SIGHUP); // wake the waiter so it sees `done`
    waiter.join();
    return code;
}

} // namespace kiagateway::platform
