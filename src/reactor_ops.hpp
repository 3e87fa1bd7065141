// The socket operations the relay and the connection set-up use most, cheaper in system calls
// than Asio's own where the reactor is Asio 1.22's epoll one (Linux:
// platform/linux/reactor_ops_epoll.cpp, which reaches into that reactor); elsewhere
// (src/reactor_ops_asio.cpp) they are Asio's. The build picks one (KG_EPOLL_OPS in CMakeLists.txt).
//
// read_wait: a read that completes through the socket's io_context, like async_read_some, but
// whose buffer is asked for only once the socket is readable: a connection that waits holds no
// buffer, only the operation. Asio's own read needs its buffer while it waits, and learns that a
// socket is drained only from a read that fails: after every short read its next one is tried at
// once and fails with EAGAIN, a wasted system call per message (and a wait for readability costs
// an epoll_ctl each time). On epoll a read that the kernel says emptied the socket (TCP_INQ) tells
// the reactor so, and the next read is queued without a system call, to be performed on the
// reactor's next edge-triggered event. Elsewhere the read is a wait for readability (Windows: a
// zero-byte overlapped receive) and a non-blocking read.
//
// async_connect_nodelay: a connect whose socket has TCP_NODELAY, which sends the connection's
// first bytes with it where it can. On epoll the socket is made non-blocking and TCP_NODELAY by
// socket(2) and one setsockopt before connecting (no FIONBIO ioctl, no poll(2), which Asio's
// connect adds), and the first bytes are sent at once: to a backend on the same host the
// connection is usually established before connect(2) returns, and the send's success is then the
// connect's result (no wait for writability, which costs an epoll_ctl, and no SO_ERROR). A send
// that finds the connection still being made waits for it and sends then; its error, if the
// connection failed, is the connect's. Elsewhere the connect is Asio's and sends nothing.
#pragma once

#include "net.hpp"

#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <system_error>

namespace kiagateway {

class read_wait {
public:
    // Whoever reads: where the bytes go, and who hears of them. Every read_space() is followed by
    // exactly one read_space_unused() (nothing was read into it) or one read_done() with bytes.
    class target {
    public:
        // Room for the read about to be made: the socket is readable (or may be). On epoll this
        // is called by the reactor, on the io_context's thread, before read_done.
        virtual asio::mutable_buffer read_space() = 0;
        // The room from read_space() received nothing (no bytes after all, the end of the stream
        // or an error): it may be given back.
        virtual void read_space_unused() noexcept = 0;
        // On the io_context: `n` > 0 bytes in the room, or asio::error::eof at the end of the
        // stream, or another error (operation_aborted once the socket is closed).
        virtual void read_done(const std::error_code& ec, std::size_t n) = 0;

    protected:
        ~target() = default;
    };

    // Where the socket came from. An accepted one was born able to tell how much each read leaves
    // behind, when its listening socket was prepared with prepare_listener; a connected one is
    // made so after its first messages, so that a short connection does not pay for it.
    enum class origin { accepted, connected };

    read_wait(target& reader, origin from) noexcept : target_(&reader), from_(from) {}
    ~read_wait();
    read_wait(const read_wait&) = delete;
    read_wait& operator=(const read_wait&) = delete;

    // Reads what arrives on `socket` into the target's room. One read at a time. `keep` (the
    // owner of this object and of the target) is held until read_done has run. `socket` must be
    // ready for platform::receive_now (platform::prepare_relay_socket).
    void start(tcp_socket& socket, std::shared_ptr<void> keep);

    // For a listening socket, before it accepts: readies the sockets it will accept (Linux:
    // TCP_INQ, which they inherit). Without it (or where it fails) they only learn it later.
    static void prepare_listener(asio::ip::tcp::acceptor& acceptor) noexcept;

    // Frees what the reads used, when the owner will read no more with it (no read pending; the
    // callback itself may call it). A later start() makes it anew.
    void release() noexcept;

    // For a socket just accepted: its descriptor is its own, never a duplicate, so closing it
    // can leave the reactor's bookkeeping to the kernel (Linux: Asio, which takes an accepted
    // descriptor for one that might be shared, would otherwise spend an EPOLL_CTL_DEL on it).
    static void accepted(tcp_socket& socket) noexcept;

    // For a socket just accepted, called from the accept's own completion handler on the thread
    // that runs the socket's io_context (so that nothing of the socket's can have run there yet):
    // its first read waits for the reactor's first event instead of being tried at once. On epoll
    // a read tried at once finds the client's first bytes before the reactor handles the event
    // that announced them, and that event, handled after, makes the next read be tried at once
    // too, and fail with EAGAIN: the relay's first read from the client, a wasted system call
    // per connection. (Elsewhere nothing.)
    static void first_read_waits(tcp_socket& socket) noexcept;

private:
    struct operation;
    target* target_;
    origin from_;
    operation* op_ = nullptr; // made on first use, reused for every read
};

// Connects `socket` (closed; opened here for `to`'s protocol) to `to`, sending what it can of
// `first` (the connection's first bytes) with the connect, then calls `done` on the socket's
// io_context with how many of them went (`sent`: 0 where the platform sends none, and on error).
// On success the socket has TCP_NODELAY. `socket` and `first`'s bytes must outlive the call.
using connect_handler = std::function<void(const std::error_code& ec, std::size_t sent)>;
void async_connect_nodelay(tcp_socket& socket, const asio::ip::tcp::endpoint& to, asio::const_buffer first,
                           connect_handler done);

} // namespace kiagateway
