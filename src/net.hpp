// The socket and timer types of the gateway's connections.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

namespace kiagateway {

// Bound to an io_context's executor, not to Asio's type-erased default (any_io_executor): every
// connection belongs to one worker's io_context anyway, and each socket and timer is 48 bytes
// smaller, and so is each of their pending operations (memory per idle connection, bench S5).
using tcp_socket = asio::ip::tcp::socket::rebind_executor<asio::io_context::executor_type>::other;
using steady_timer = asio::steady_timer::rebind_executor<asio::io_context::executor_type>::other;

} // namespace kiagateway
