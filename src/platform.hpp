// What the portable core needs from the operating system; platform/posix and platform/windows implement it.
#pragma once

#include "net.hpp"

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <system_error>
#include <vector>

namespace kiagateway {

class gateway;
class logger;

namespace platform {

// The config file `run`, `validate` and `dry-run-route` read when -c is not given
// (POSIX: ./servers.toml; Windows: <ProgramData>\kiagateway\servers.toml, where the MSI puts it).
std::string default_config_path();

// Process set-up before listening (POSIX: raise RLIMIT_NOFILE to the hard limit, ignore SIGPIPE).
// Returns lines for the start-up log.
std::vector<std::string> prepare_process();

// Whether each worker should have its own listening socket on every address, the kernel spreading
// connections over them (Linux: SO_REUSEPORT). Otherwise one socket hands connections round robin.
bool listen_per_worker();

// Socket options for an open, not yet bound, listening socket. POSIX: SO_REUSEADDR, so a restart
// can bind while old connections sit in TIME_WAIT; with `shared`, SO_REUSEPORT too (one socket per
// worker on the same address). Windows: SO_EXCLUSIVEADDRUSE, because there SO_REUSEADDR would let
// another process bind the same port and take its connections.
// On Linux also TCP_NODELAY, which accepted sockets inherit.
std::error_code prepare_listening_socket(asio::ip::tcp::acceptor& acceptor, bool shared = false);

// A socket just accepted: TCP_NODELAY, unless it came from the listening socket (Linux).
void prepare_accepted_socket(tcp_socket& socket);

// What to tell someone who cannot listen on `port` (`ec` from bind): for a port in use, who
// usually holds it on this OS and the command that shows the owner; for a refusal, what grants
// it. Empty when there is nothing useful to add.
std::string bind_error_hint(std::uint16_t port, const std::error_code& ec);

// After the listeners are bound: switch to `user` and `group` (either may be empty: then the
// user's own group, or no change). Returns a message saying what went wrong, or empty on success.
std::string drop_privileges(const std::string& user, const std::string& group);

// `run --service`: runs `body` as a service of the OS's service manager (Windows: under the
// Service Control Manager's dispatcher, with `log` and the text `body` writes to its stream also
// going to the Event Log) and returns its exit code. Where there is no such thing (POSIX, or a
// Windows console), says so and returns the usage exit code without running `body`.
int run_as_service(logger& log, const std::function<int(std::ostream& err)>& body);

// The relay's reads and writes, which never block: they return what they could move, 0 at the end
// of the stream (receive), or asio::error::would_block. prepare_relay_socket readies a connected
// socket for them once (POSIX: nothing, as they pass MSG_DONTWAIT, one system call each;
// Windows: Asio's non-blocking mode, and they go through Asio's read_some/write_some).
std::error_code prepare_relay_socket(tcp_socket& socket);
std::size_t receive_now(tcp_socket& socket, void* data, std::size_t size, std::error_code& ec);
std::size_t send_now(tcp_socket& socket, const void* data, std::size_t size, std::error_code& ec);

// Wires the OS's stop and reload requests to the gateway (POSIX: SIGTERM/SIGINT stop, SIGHUP
// reloads; Windows: Ctrl-C/Ctrl-Break or the service's STOP/SHUTDOWN stop, PARAMCHANGE reloads),
// then serves until the gateway stops. Returns the exit code.
int serve(gateway& g, logger& log);

} // namespace platform
} // namespace kiagateway
