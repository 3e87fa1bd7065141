// The socket operations of src/reactor_ops.hpp: every message arrives, the end of the stream is
// seen even when it came with the last bytes, a close ends a wait and lets go of its owner, a
// first read waits for the reactor without missing what came first, and a connect sets TCP_NODELAY,
// sends the first bytes with it (epoll) and reports a refusal.
#include "reactor_ops.hpp"

#include "platform.hpp"
#include "test_support.hpp"

#include <asio.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

using namespace kiagateway;

namespace {

struct socket_pair {
    tcp_socket writer;
    tcp_socket reader;
};

socket_pair connected(asio::io_context& io, bool prepared_listener = false) {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    if (prepared_listener) {
        read_wait::prepare_listener(acceptor);
    }
    tcp_socket a(io);
    a.connect(acceptor.local_endpoint());
    tcp_socket b = acceptor.accept(io);
    REQUIRE_FALSE(platform::prepare_relay_socket(b));
    return {std::move(a), std::move(b)};
}

// What one read delivered.
struct outcome {
    bool called = false;
    std::error_code ec;
    std::string bytes;
};

// A reader as the relay's directions are: room only when asked for, given back when unused.
struct reading final : read_wait::target {
    explicit reading(tcp_socket& s, read_wait::origin from = read_wait::origin::accepted)
        : socket(s), wait(*this, from) {}
    tcp_socket& socket;
    char buffer[16] = {};
    bool lent = false; // the buffer is out, between read_space() and its unused/done
    int asked = 0;
    outcome last;
    read_wait wait;

    asio::mutable_buffer read_space() override {
        CHECK_FALSE(lent); // one read at a time, and every room is accounted for
        lent = true;
        ++asked;
        return asio::buffer(buffer);
    }
    void read_space_unused() noexcept override { lent = false; }
    void read_done(const std::error_code& ec, std::size_t n) override {
        CHECK(lent == (n > 0)); // bytes only in room that was asked for and not given back
        lent = false;
        last = {true, ec, std::string(buffer, n)};
    }
    // Starts a read and runs the io_context until it completes (at most 3 s).
    outcome next(asio::io_context& io, std::shared_ptr<void> keep = std::make_shared<int>(0)) {
        last = {};
        wait.start(socket, std::move(keep));
        return result(io);
    }
    // Starts a read and runs the io_context for a moment: with nothing sent, the read is pending.
    void start_pending(asio::io_context& io, std::shared_ptr<void> keep) {
        last = {};
        wait.start(socket, std::move(keep));
        io.restart();
        io.run_for(std::chrono::milliseconds(30));
    }
    // Runs the io_context until the pending read completes (at most 3 s).
    outcome result(asio::io_context& io) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (!last.called && std::chrono::steady_clock::now() < deadline) {
            io.restart();
            io.run_for(std::chrono::milliseconds(20));
        }
        return last;
    }
};

void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(20)); }

read_wait::origin origin_of(bool accepted) {
    return accepted ? read_wait::origin::accepted : read_wait::origin::connected;
}

// A few messages first, as on a long-lived connection: past those after which a connected socket
// has TCP_INQ too.
void exchange_pings(asio::io_context& io, socket_pair& pair, reading& r) {
    for (int i = 0; i < 4; ++i) {
        asio::write(pair.writer, asio::buffer(std::string("ping")));
        REQUIRE(r.next(io).bytes == "ping");
    }
}

// Runs `io` until `done` is set (at most 3 s).
void run_until(asio::io_context& io, const bool& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!done && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(20));
    }
}

// Runs `io` until the reading that an accept's handler makes has its result (at most 3 s).
void run_until_read(asio::io_context& io, const std::unique_ptr<reading>& r) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!(r && r->last.called) && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(20));
    }
}

} // namespace

TEST_CASE("a read_wait delivers every message, in order, and splits what exceeds its buffer") {
    asio::io_context io;
    auto pair = connected(io);
    reading r(pair.reader);
    for (int i = 0; i < 6; ++i) {
        const std::string message = "message " + std::to_string(i);
        asio::write(pair.writer, asio::buffer(message));
        const outcome got = r.next(io);
        REQUIRE(got.called);
        CHECK_FALSE(got.ec);
        CHECK(got.bytes == message);
    }
    // Twice the buffer and a bit: three reads, nothing lost or repeated.
    const std::string big = "0123456789abcdef0123456789ABCDEFxyz";
    asio::write(pair.writer, asio::buffer(big));
    settle();
    std::string joined;
    for (int i = 0; i < 3; ++i) {
        const outcome got = r.next(io);
        REQUIRE(got.called);
        REQUIRE_FALSE(got.ec);
        joined += got.bytes;
    }
    CHECK(joined == big);
}

TEST_CASE("a waiting read_wait holds no room: it asks for it only once bytes are there") {
    // What lets an idle relayed connection hold no buffer: 5 000 idle connections, 5 000 fewer.
    asio::io_context io;
    auto pair = connected(io);
    reading r(pair.reader);
    r.start_pending(io, std::make_shared<int>(0));
    CHECK_FALSE(r.last.called);
    CHECK_FALSE(r.lent); // asked for at most speculatively, and given back
    const int asked_while_idle = r.asked;
    CHECK(asked_while_idle <= 1);
    asio::write(pair.writer, asio::buffer(std::string("late")));
    const outcome got = r.result(io);
    REQUIRE(got.called);
    CHECK(got.bytes == "late");
    CHECK(r.asked == asked_while_idle + 1);
}

TEST_CASE("a read_wait sees the end of the stream that arrived together with the last bytes") {
    // On Linux the wait learns from the kernel how much each read left behind: an accepted socket
    // from its prepared listener, a connected one after its first messages. Each way, a FIN queued
    // behind the last bytes must not be taken for a drained socket.
    const bool accepted = GENERATE(true, false);
    CAPTURE(accepted);
    asio::io_context io;
    auto pair = connected(io, accepted);
    reading r(pair.reader, origin_of(accepted));
    exchange_pings(io, pair, r);
    // The last bytes and the FIN are both queued before the read: no later event announces the FIN.
    asio::write(pair.writer, asio::buffer(std::string("bye")));
    pair.writer.shutdown(tcp_socket::shutdown_send);
    settle();
    const outcome last_bytes = r.next(io);
    REQUIRE(last_bytes.called);
    CHECK(last_bytes.bytes == "bye");
    const outcome end = r.next(io);
    REQUIRE(end.called); // not stuck waiting for an edge that never comes
    CHECK(end.ec == asio::error::eof);
}

TEST_CASE("an accepted socket's first read waits for the reactor, misses nothing, and leaves no read to fail") {
    // first_read_waits, from the accept's completion as the listener calls it. The client's first
    // bytes are there before the accept; more come later.
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    read_wait::prepare_listener(acceptor);
    tcp_socket client(io);
    client.connect(acceptor.local_endpoint());
    asio::write(client, asio::buffer(std::string("early")));
    settle();
    tcp_socket accepted(io);
    std::unique_ptr<reading> r;
    acceptor.async_accept(accepted, [&](const std::error_code& ec) {
        REQUIRE_FALSE(ec);
        read_wait::first_read_waits(accepted);
        // The session starts later, as the listener posts it: by then the reactor may have
        // reported the socket readable already.
        asio::post(io, [&] {
            REQUIRE_FALSE(platform::prepare_relay_socket(accepted));
            r = std::make_unique<reading>(accepted);
            r->wait.start(accepted, std::make_shared<int>(0));
        });
    });
    run_until_read(io, r);
    REQUIRE(r);
    REQUIRE(r->last.called);
    CHECK(r->last.bytes == "early");
    CHECK(r->asked == 1);
    // Nothing more was sent: the next read waits without being tried (on epoll, the event that
    // announced "early" is not taken for more bytes: no room asked for, no read failing with EAGAIN).
    r->start_pending(io, std::make_shared<int>(0));
    CHECK_FALSE(r->last.called);
    CHECK(r->asked == 1);
    asio::write(client, asio::buffer(std::string("late")));
    const outcome got = r->result(io);
    REQUIRE(got.called);
    CHECK(got.bytes == "late");
    CHECK(r->asked == 2);
}

TEST_CASE("a connected socket's first read waits for bytes to come, and gets them") {
    asio::io_context io;
    asio::ip::tcp::acceptor listening(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp_socket socket(io);
    bool done = false;
    async_connect_nodelay(socket, listening.local_endpoint(), asio::buffer("x", 1),
                          [&](const std::error_code& ec, std::size_t) {
                              CHECK_FALSE(ec);
                              done = true;
                          });
    run_until(io, done);
    REQUIRE(done);
    REQUIRE_FALSE(platform::prepare_relay_socket(socket));
    tcp_socket server = listening.accept(io);
    reading r(socket, read_wait::origin::connected);
    r.start_pending(io, std::make_shared<int>(0));
    CHECK_FALSE(r.last.called);
    CHECK(r.asked == 0); // not tried before anything could have come
    asio::write(server, asio::buffer(std::string("response")));
    const outcome got = r.result(io);
    REQUIRE(got.called);
    CHECK(got.bytes == "response");
}

TEST_CASE("a read_wait sees a reset that arrived together with the last bytes") {
    // TCP_INQ counts a pending FIN, not a reset: a read that takes the last bytes of a reset
    // connection is told nothing is left, and no later event comes. The read after it must still
    // be tried, and fail, or the connection hangs until idle_timeout (seen with TLS clients that
    // close with a reset after their close_notify alert: a third of bench S3's connections).
    const bool accepted = GENERATE(true, false);
    CAPTURE(accepted);
    asio::io_context io;
    auto pair = connected(io, accepted);
    reading r(pair.reader, origin_of(accepted));
    exchange_pings(io, pair, r);
    // The read waits; then the last bytes and the reset come, and one event announces both.
    r.start_pending(io, std::make_shared<int>(0));
    REQUIRE_FALSE(r.last.called);
    asio::write(pair.writer, asio::buffer(std::string("bye")));
    pair.writer.set_option(asio::socket_base::linger(true, 0));
    pair.writer.close(); // with linger 0: a reset, not a FIN
    settle();
    const outcome last_bytes = r.result(io);
    REQUIRE(last_bytes.called);
    CHECK(last_bytes.bytes == "bye");
    const outcome end = r.next(io);
    REQUIRE(end.called); // not stuck waiting for an event that never comes
    CHECK(end.ec);       // the end of it
#if defined(KG_EPOLL_OPS)
    CHECK(end.ec == asio::error::connection_reset); // (wine's sockets report an end of stream)
#endif
}

TEST_CASE("closing the socket ends a pending read_wait with an error and lets go of its owner") {
    asio::io_context io;
    auto pair = connected(io);
    reading r(pair.reader);
    auto owner = std::make_shared<int>(7);
    r.start_pending(io, owner);
    CHECK_FALSE(r.last.called);
    CHECK(owner.use_count() == 2); // held while waiting
    pair.reader.close();
    REQUIRE(r.result(io).called);
    // An error, never bytes or a clean end: operation_aborted with a reactor; what Windows'
    // completion port reports for a closed socket there.
    CHECK(r.last.ec);
    CHECK(r.last.ec != asio::error::eof);
    CHECK(owner.use_count() == 1);
}

TEST_CASE("an io_context destroyed with a read_wait pending lets go of its owner") {
    // As in the relay: the owner holds the sockets and the read_wait, and only the pending read
    // keeps it alive.
    struct owner_type {
        explicit owner_type(asio::io_context& io) : pair(connected(io)), r(pair.reader) {}
        socket_pair pair;
        reading r;
    };
    std::weak_ptr<owner_type> watch;
    {
        asio::io_context io;
        auto owner = std::make_shared<owner_type>(io);
        watch = owner;
        owner->r.wait.start(owner->pair.reader, owner);
        owner.reset();
        io.run_for(std::chrono::milliseconds(20));
        CHECK_FALSE(watch.expired()); // the pending read holds it
    }
    CHECK(watch.expired());
}

TEST_CASE("async_connect_nodelay connects with TCP_NODELAY and the first bytes, reports a refusal, and can try again") {
    asio::io_context io;
    // A port nothing listens on: bind one, note it, close it.
    asio::ip::tcp::endpoint dead;
    {
        asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
        dead = a.local_endpoint();
    }
    asio::ip::tcp::acceptor listening(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp_socket socket(io);

    bool done = false;
    std::error_code result;
    std::size_t sent = 99;
    const std::string first = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
    async_connect_nodelay(socket, dead, asio::buffer(first), [&](const std::error_code& ec, std::size_t n) {
        result = ec;
        sent = n;
        done = true;
    });
    run_until(io, done);
    REQUIRE(done);
    CHECK(result == asio::error::connection_refused);
    CHECK(sent == 0);

    // The next address, on the same socket object (as the connector does).
    std::error_code ignored;
    socket.close(ignored);
    done = false;
    async_connect_nodelay(socket, listening.local_endpoint(), asio::buffer(first),
                          [&](const std::error_code& ec, std::size_t n) {
                              result = ec;
                              sent = n;
                              done = true;
                          });
    run_until(io, done);
    REQUIRE(done);
    REQUIRE_FALSE(result);
#if defined(KG_EPOLL_OPS)
    CHECK(sent == first.size()); // the first bytes went with the connect
#else
    CHECK(sent == 0); // Asio's connect: the caller sends them
#endif
    asio::write(socket, asio::buffer(first.data() + sent, first.size() - sent));
    asio::ip::tcp::no_delay nodelay;
    socket.get_option(nodelay);
    CHECK(nodelay.value());
    tcp_socket peer = listening.accept(io);
    CHECK(peer.remote_endpoint() == socket.local_endpoint());
    std::string request(first.size(), '\0');
    asio::read(peer, asio::buffer(request));
    CHECK(request == first); // once, whole and in order, however much went with the connect

    // Bytes go both ways through the connected socket, with Asio's own operations too.
    asio::write(peer, asio::buffer(std::string("hello")));
    char got[5] = {};
    done = false;
    asio::async_read(socket, asio::buffer(got), [&](const std::error_code& ec, std::size_t) {
        result = ec;
        done = true;
    });
    run_until(io, done);
    REQUIRE(done);
    CHECK_FALSE(result);
    CHECK(std::string(got, 5) == "hello");
}
