// What the portable core needs from the operating system; platform/posix and platform/windows implement it.
#pragma once

#include <string>
#include <vector>

namespace kiagateway {

class gateway;
class logger;

namespace platform {

// Process set-up before listening (POSIX: raise RLIMIT_NOFILE to the hard limit, ignore SIGPIPE).
// Returns lines for the start-up log.
std::vector<std::string> prepare_process();

// After the listeners are bound: switch to `user` and `group` (either may be empty: then the
// user's own group, or no change). Returns a message saying what went wrong, or empty on success.
std::string drop_privileges(const std::string& user, const std::string& group);

// Wires the OS's stop and reload requests to the gateway (POSIX: SIGTERM/SIGINT stop, SIGHUP
// reloads), then serves until the gateway stops. Returns the exit code.
int serve(gateway& g, logger& log);

} // namespace platform
} // namespace kiagateway
