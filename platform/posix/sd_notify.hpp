// systemd's readiness protocol (sd_notify) without libsystemd: one datagram to $NOTIFY_SOCKET.
#pragma once

#include <string>

namespace kiagateway::platform {

// Sends `state` ("READY=1", "RELOADING=1\nMONOTONIC_USEC=...", "STOPPING=1", "STATUS=...") when
// started by systemd with Type=notify; does nothing otherwise. Returns false only on a send error.
bool sd_notify(const std::string& state);

// "MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>", which systemd wants beside RELOADING=1.
std::string monotonic_usec_field();

} // namespace kiagateway::platform
