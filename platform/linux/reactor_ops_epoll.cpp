// Linux, Asio 1.22's epoll reactor: the socket operations of src/reactor_ops.hpp, which says why.
//
// read_wait is a reactor operation of its own, whose reads tell the reactor when the socket is
// drained.
//
// Asio's reactor keeps, per descriptor and direction, whether a read may succeed right now
// ("try_speculative"): an edge-triggered event sets it, and an operation that reports
// done_and_exhausted clears it. Asio's own receive reports that only for a read of 0 bytes. A
// short read alone does not prove the socket drained: a FIN that arrived with the data is still
// to be read (as 0 bytes), and no later event announces it. TCP_INQ does: with it, each recvmsg
// says how many bytes it left behind, and counts a pending FIN as one. A read that leaves nothing
// reports done_and_exhausted, so the next read is queued without being tried, and the next EPOLLIN
// event (which arrives for any byte or FIN that comes later) performs it. A reset is not counted:
// a read after the reactor reported a hang-up or an error never reports done_and_exhausted.
//
// Accepted sockets inherit TCP_INQ from their listening socket (prepare_listener). For a
// connected one it costs a setsockopt, so a read_wait turns it on only once its socket has carried
// two messages: a connection that makes one request and closes pays nothing extra, a keep-alive
// connection saves a failed read per message from its third on. A socket without TCP_INQ gets no
// count from recvmsg, and its reads then count as Asio's do.
//
// This uses Asio's internal reactor interface (asio::detail), which differs between Asio versions:
// CMakeLists.txt compiles this file only for the version it was written against, and
// src/reactor_ops_asio.cpp otherwise.
#include "reactor_ops.hpp"

#include <asio/detail/epoll_reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/error.hpp>
#include <asio/execution/context.hpp>
#include <asio/post.hpp>
#include <asio/query.hpp>
#include <asio/version.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#if ASIO_VERSION < 102200 || ASIO_VERSION >= 102300 || !defined(ASIO_HAS_EPOLL) || defined(ASIO_HAS_IO_URING_AS_DEFAULT)
#error "reactor_ops_epoll.cpp is written against Asio 1.22's epoll reactor: build src/reactor_ops_asio.cpp instead"
#endif

namespace kiagateway {

namespace {

// The socket's implementation (descriptor and reactor registration) is a protected member of
// asio::basic_socket; a pointer to that member, named through a derived class, reaches it.
struct socket_access : tcp_socket {
    using tcp_socket::impl_;
};

asio::detail::socket_ops::state_type& socket_state(tcp_socket& socket) {
    return (socket.*(&socket_access::impl_)).get_implementation().state_;
}

// The reactor's state for the socket: its try_speculative flags, their mutex and the events last
// reported (the task result of its scheduler operation) are private members. Access is not checked in the template
// arguments of an explicit instantiation, the one way the language has to name them: each instantiation below defines a
// function returning the member pointer.
using descriptor_state = asio::detail::epoll_reactor::descriptor_state;

descriptor_state* reactor_state(tcp_socket& socket) {
    return (socket.*(&socket_access::impl_)).get_implementation().reactor_data_;
}

using speculative_flags = bool (descriptor_state::*)[asio::detail::epoll_reactor::max_ops];
using descriptor_mutex = asio::detail::conditionally_enabled_mutex descriptor_state::*;
using task_result = unsigned int asio::detail::scheduler_operation::*;
speculative_flags try_speculative_member();
descriptor_mutex mutex_member();
task_result task_result_member();

template <speculative_flags Flags, descriptor_mutex Mutex, task_result Result> struct descriptor_state_access {
    friend speculative_flags try_speculative_member() { return Flags; }
    friend descriptor_mutex mutex_member() { return Mutex; }
    friend task_result task_result_member() { return Result; }
};
template struct descriptor_state_access<&descriptor_state::try_speculative_, &descriptor_state::mutex_,
                                        &asio::detail::scheduler_operation::task_result_>;

// The events the reactor last reported for the socket (what the operations it performs now were
// woken by). They are the task result of the state, an operation of the scheduler's: a private
// base, so reached by a C-style cast, the one conversion to it the language allows here.
std::uint32_t last_events(descriptor_state* state) noexcept {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
    auto* as_operation = (asio::detail::scheduler_operation*)state;
#pragma GCC diagnostic pop
    return as_operation->*task_result_member();
}

// The socket's next read is queued for the reactor's next event on it instead of being tried at
// once. Only right after the socket was registered, before any event of it can have been handled
// (the registration's own check of readiness reports whatever is there already).
void wait_for_first_read_event(tcp_socket& socket) noexcept {
    descriptor_state* state = reactor_state(socket);
    if (state == nullptr) {
        return;
    }
    asio::detail::conditionally_enabled_mutex::scoped_lock lock(state->*mutex_member());
    (state->*try_speculative_member())[asio::detail::epoll_reactor::read_op] = false;
}

} // namespace

struct read_wait::operation : asio::detail::reactor_op {
    explicit operation(read_wait& owner) noexcept
        : reactor_op(asio::error_code(), &operation::perform_read, &operation::complete), owner_(owner) {}

    static status perform_read(asio::detail::reactor_op* base) {
        auto* self = static_cast<operation*>(base);
        read_wait::target& reader = *self->owner_.target_;
        const asio::mutable_buffer space = reader.read_space(); // only now: the socket is readable
        iovec into{space.data(), space.size()};
        alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))];
        msghdr message{};
        message.msg_iov = &into;
        message.msg_iovlen = 1;
        if (self->inq_) {
            message.msg_control = control;
            message.msg_controllen = sizeof(control);
        }
        ssize_t n = 0;
        do {
            n = ::recvmsg(self->descriptor_, &message, MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        self->bytes_transferred_ = n > 0 ? static_cast<std::size_t>(n) : 0;
        if (n <= 0) {
            const int error = errno;
            reader.read_space_unused();
            if (n == 0) {
                self->ec_ = asio::error::eof;
                return done_and_exhausted;
            }
            if (error == EAGAIN || error == EWOULDBLOCK) {
                return not_done;
            }
            self->ec_ = asio::error_code(error, asio::error::get_system_category());
            return done;
        }
        self->ec_ = asio::error_code();
        // TCP_INQ counts a pending FIN but not a reset (nor another error that ended the
        // connection): after one, nothing is left behind the last bytes and no later event will
        // come, yet the next read has the error to report. The reactor's events say so (hang-up,
        // error): then the next read is tried, not queued.
        const bool ended = self->state_ != nullptr && (last_events(self->state_) & (EPOLLHUP | EPOLLERR)) != 0;
        return self->inq_ && !ended && left_behind(message) == 0 ? done_and_exhausted : done;
    }

    // What TCP_INQ says the read left in the receive queue (1 for a pending FIN); -1 if it did not say.
    static int left_behind(msghdr& message) {
        for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
            if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                int inq = 0;
                std::memcpy(&inq, CMSG_DATA(c), sizeof(inq));
                return inq;
            }
        }
        return -1;
    }

    // `scheduler` is null when the io_context is being destroyed with the read still queued.
    static void complete(void* scheduler, asio::detail::scheduler_operation* base, const asio::error_code&,
                         std::size_t) {
        auto* self = static_cast<operation*>(base);
        // Released last: it may own the read_wait, and so this operation.
        const std::shared_ptr<void> keep = std::move(self->keep_);
        if (self->bytes_transferred_ > 0 && self->reads_with_data_ < inq_after) {
            ++self->reads_with_data_;
        }
        if (scheduler != nullptr) {
            // Copies: the callback may release() this operation.
            const asio::error_code ec = self->ec_;
            const std::size_t n = self->bytes_transferred_;
            read_wait::target& reader = *self->owner_.target_;
            reader.read_done(ec, n);
        }
    }

    // Reads that brought bytes before TCP_INQ is turned on.
    static constexpr unsigned inq_after = 2;

    read_wait& owner_;
    int descriptor_ = -1;
    descriptor_state* state_ = nullptr; // the reactor's for the socket
    unsigned reads_with_data_ = 0;
    bool inq_ = false;       // TCP_INQ is on
    bool inq_tried_ = false; // and was tried once (an old kernel refuses it)
    std::shared_ptr<void> keep_;
};

read_wait::~read_wait() { delete op_; }

void read_wait::release() noexcept {
    // From inside the callback too: the operation's completion touches nothing after calling it.
    delete op_;
    op_ = nullptr;
}

void read_wait::prepare_listener(asio::ip::tcp::acceptor& acceptor) noexcept {
    const int on = 1;
    // A kernel older than 4.18 refuses it: its sockets then only have Asio's behaviour.
    (void)::setsockopt(acceptor.native_handle(), SOL_TCP, TCP_INQ, &on, sizeof(on));
}

void read_wait::accepted(tcp_socket& socket) noexcept {
    // Closing a descriptor removes it from every epoll set unless another descriptor still refers
    // to the same open file: only then is EPOLL_CTL_DEL needed, which is what possible_dup is for.
    socket_state(socket) &= ~asio::detail::socket_ops::possible_dup;
}

void read_wait::first_read_waits(tcp_socket& socket) noexcept { wait_for_first_read_event(socket); }

void read_wait::start(tcp_socket& socket, std::shared_ptr<void> keep) {
    if (op_ == nullptr) {
        op_ = new operation(*this);
        // Inherited from the listening socket, or the reads will simply bring no count.
        op_->inq_ = op_->inq_tried_ = from_ == origin::accepted;
    }
    op_->descriptor_ = socket.native_handle();
    op_->state_ = reactor_state(socket);
    if (!op_->inq_tried_ && op_->reads_with_data_ >= operation::inq_after) {
        op_->inq_tried_ = true;
        const int on = 1;
        op_->inq_ = ::setsockopt(op_->descriptor_, SOL_TCP, TCP_INQ, &on, sizeof(on)) == 0;
    }
    op_->keep_ = std::move(keep);
    op_->ec_ = asio::error_code();
    op_->bytes_transferred_ = 0;
    auto& reactor =
        asio::use_service<asio::detail::epoll_reactor>(asio::query(socket.get_executor(), asio::execution::context));
    auto& impl = (socket.*(&socket_access::impl_)).get_implementation();
    // The same call Asio's async_receive makes: a read operation, which may be tried at once.
    reactor.start_op(asio::detail::epoll_reactor::read_op, impl.socket_, impl.reactor_data_, op_,
                     /*is_continuation=*/false, /*allow_speculative=*/true);
}

namespace {

std::error_code last_error() { return {errno, asio::error::get_system_category()}; }

void complete_later(tcp_socket& socket, connect_handler done, std::error_code ec, std::size_t sent = 0) {
    asio::post(socket.get_executor(), [done = std::move(done), ec, sent] { done(ec, sent); });
}

// Sends what the socket takes of `first`: >= 0 bytes, or -1 with errno (EAGAIN: still connecting).
ssize_t send_first(int descriptor, asio::const_buffer first) {
    ssize_t n = 0;
    do {
        n = ::send(descriptor, first.data(), first.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}

// Waits until the connection is made or has failed, then sends: its result is the connect's.
void send_when_connected(tcp_socket& socket, asio::const_buffer first, connect_handler done) {
    // A TCP socket turns writable only once connected or failed (never while SYN_SENT).
    socket.async_wait(asio::socket_base::wait_write,
                      [&socket, first, done = std::move(done)](const std::error_code& waited) mutable {
                          if (waited) {
                              done(waited, 0);
                              return;
                          }
                          const ssize_t n = send_first(socket.native_handle(), first);
                          if (n >= 0) {
                              done({}, static_cast<std::size_t>(n));
                          } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                              send_when_connected(socket, first, std::move(done)); // not yet after all
                          } else {
                              done(last_error(), 0); // the connection failed: ECONNREFUSED, ...
                          }
                      });
}

} // namespace

void async_connect_nodelay(tcp_socket& socket, const asio::ip::tcp::endpoint& to, asio::const_buffer first,
                           connect_handler done) {
    const int descriptor = ::socket(to.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (descriptor < 0) {
        complete_later(socket, std::move(done), last_error());
        return;
    }
    const int on = 1;
    (void)::setsockopt(descriptor, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)); // best effort, as before
    std::error_code ec;
    socket.assign(to.protocol(), descriptor, ec); // registers it with the reactor
    if (ec) {
        ::close(descriptor);
        complete_later(socket, std::move(done), ec);
        return;
    }
    // Tell Asio what socket(2) already did (it would otherwise make it non-blocking again, with an
    // ioctl, before its first operation), and that the descriptor is nobody else's.
    socket_state(socket) |= asio::detail::socket_ops::internal_non_blocking;
    socket_state(socket) &= ~asio::detail::socket_ops::possible_dup;
    // Nothing can arrive before the connect: the first read (the relay's, from the backend) is
    // only tried once the reactor has seen bytes come, not at once to fail with EAGAIN.
    wait_for_first_read_event(socket);
    if (::connect(descriptor, to.data(), static_cast<socklen_t>(to.size())) != 0 && errno != EINPROGRESS &&
        errno != EINTR) { // EINTR: the connection goes on in the background
        complete_later(socket, std::move(done), last_error());
        return;
    }
    const ssize_t n = send_first(descriptor, first);
    if (n >= 0) {
        complete_later(socket, std::move(done), {}, static_cast<std::size_t>(n)); // connected already
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        send_when_connected(socket, first, std::move(done));
    } else {
        complete_later(socket, std::move(done), last_error()); // refused already (a local port), ...
    }
}

} // namespace kiagateway
