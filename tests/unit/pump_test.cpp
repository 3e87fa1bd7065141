// The relay's pump (splice through a pipe on Linux, a buffer elsewhere): bytes arrive intact, the
// end of a stream is seen, nothing is held while waiting, and pipes or buffers are reused.
#include "pump.hpp"

#include "test_support.hpp"

#include <asio.hpp>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

using namespace kiagateway;

namespace {

// Two connected loopback sockets.
struct socket_pair {
    tcp_socket a;
    tcp_socket b;
};

socket_pair connected(asio::io_context& io) {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp_socket a(io);
    a.connect(acceptor.local_endpoint());
    tcp_socket b = acceptor.accept(io);
    a.non_blocking(true);
    b.non_blocking(true);
    return {std::move(a), std::move(b)};
}

std::string read_all_available(tcp_socket& s, std::size_t want) {
    std::string out;
    std::vector<char> chunk(65536);
    for (int spins = 0; out.size() < want && spins < 100000; ++spins) {
        std::error_code ec;
        const std::size_t n = s.read_some(asio::buffer(chunk), ec);
        if (ec && ec != asio::error::would_block) {
            break;
        }
        out.append(chunk.data(), n);
    }
    return out;
}

void write_all(tcp_socket& s, const std::string& data) {
    std::size_t done = 0;
    for (int spins = 0; done < data.size() && spins < 100000; ++spins) {
        std::error_code ec;
        done += s.write_some(asio::buffer(data.data() + done, data.size() - done), ec);
    }
    REQUIRE(done == data.size());
}

} // namespace

TEST_CASE("a pump moves bytes from one socket to another intact, in chunks") {
    asio::io_context io;
    auto in = connected(io);  // test writes in.a, pump reads in.b
    auto out = connected(io); // pump writes out.a, test reads out.b
    pump_pool pool;
    pump p(pool);

    std::string payload(200000, '\0');
    std::iota(payload.begin(), payload.end(), '\0');
    std::string received;
    std::size_t sent = 0;
    for (int rounds = 0; received.size() < payload.size() && rounds < 100000; ++rounds) {
        if (sent < payload.size()) {
            std::error_code ec;
            sent += in.a.write_some(asio::buffer(payload.data() + sent, payload.size() - sent), ec);
        }
        std::error_code ec;
        if (p.pending() == 0) {
            const std::size_t n = p.fill(in.b, ec);
            CHECK(n <= std::max<std::size_t>(sizeof(pump_pool::buffer::data), zero_copy::capacity()));
            if (ec) {
                REQUIRE(ec == asio::error::would_block);
                CHECK_FALSE(p.holding()); // waiting for bytes holds no pipe or buffer
            }
        }
        p.drain(out.a, ec);
        received += read_all_available(out.b, 1);
    }
    received += read_all_available(out.b, payload.size() - received.size());
    CHECK(received.size() == payload.size());
    CHECK(received == payload);
    CHECK_FALSE(p.holding());
    // One buffer, and for the bulk part one pipe where there is zero-copy, reused for every chunk.
    CHECK(pool.free_buffers() == 1);
    CHECK(pool.free_pipes() == (zero_copy::available() ? 1u : 0u));
    CHECK(p.zero_copy() == zero_copy::available());
}

TEST_CASE("small messages go through the buffer, one read and one write each") {
    asio::io_context io;
    auto in = connected(io);
    auto out = connected(io);
    pump_pool pool;
    pump p(pool);
    for (int i = 0; i < 3; ++i) {
        const std::string message = "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: a.test\r\n\r\n";
        write_all(in.a, message);
        std::error_code ec;
        std::size_t n = 0;
        for (int spins = 0; spins < 100000 && n == 0; ++spins) {
            n = p.fill(in.b, ec);
        }
        REQUIRE(n == message.size());
        CHECK_FALSE(p.last_fill_was_full());
        CHECK_FALSE(p.zero_copy());
        CHECK(p.drain(out.a, ec) == message.size());
        CHECK_FALSE(ec);
        CHECK_FALSE(p.holding());
        CHECK(read_all_available(out.b, message.size()) == message);
    }
    CHECK(pool.free_pipes() == 0);
}

TEST_CASE("a pump reports the end of the stream as 0 bytes without an error") {
    asio::io_context io;
    auto in = connected(io);
    pump_pool pool;
    pump p(pool);
    write_all(in.a, "last words");
    in.a.shutdown(tcp_socket::shutdown_send);
    auto out = connected(io);

    std::string received;
    std::error_code ec;
    for (int spins = 0; spins < 100000; ++spins) {
        const std::size_t n = p.fill(in.b, ec);
        if (ec == asio::error::would_block) {
            continue;
        }
        REQUIRE_FALSE(ec);
        if (n == 0) {
            break;
        }
        while (p.pending() > 0) {
            p.drain(out.a, ec);
        }
        received += read_all_available(out.b, n);
    }
    CHECK_FALSE(ec);
    CHECK(received == "last words");
    CHECK_FALSE(p.holding());
}

TEST_CASE("nothing to read: would_block, and the pump holds nothing") {
    asio::io_context io;
    auto in = connected(io);
    pump_pool pool;
    pump p(pool);
    std::error_code ec;
    CHECK(p.fill(in.b, ec) == 0);
    CHECK(ec == asio::error::would_block);
    CHECK_FALSE(p.holding());
    CHECK(p.pending() == 0);
}

TEST_CASE("a reset peer is an error, not the end of the stream") {
    asio::io_context io;
    auto in = connected(io);
    pump_pool pool;
    pump p(pool);
    // SO_LINGER 0: close sends a RST.
    in.a.set_option(asio::socket_base::linger(true, 0));
    write_all(in.a, "x");
    in.a.close();
    std::error_code ec;
    std::size_t total = 0;
    for (int spins = 0; spins < 100000; ++spins) {
        const std::size_t n = p.fill(in.b, ec);
        total += n;
        if (ec != asio::error::would_block && n == 0) {
            break;
        }
        if (n > 0) {
            break; // some stacks deliver the byte before the reset: read again
        }
    }
    if (!ec && total > 0) {
        // Drop what was read (a pump that still holds bytes gives its pipe back closed) and read on.
        pump again(pool);
        for (int spins = 0; spins < 100000; ++spins) {
            again.fill(in.b, ec);
            if (ec != asio::error::would_block) {
                break;
            }
        }
    }
#if defined(_WIN32)
    // Windows reports WSAECONNRESET; wine (where this build's tests run) reports the end of the
    // stream instead. Either way the relay stops reading this side.
    CHECK((ec == asio::error::connection_reset || !ec));
#else
    CHECK(ec == asio::error::connection_reset);
#endif
}

TEST_CASE("the pool keeps a bounded number of free buffers and pipes") {
    pump_pool pool;
    std::vector<pump_pool::buffer*> buffers;
    for (std::size_t i = 0; i < pump_pool::max_free + 10; ++i) {
        buffers.push_back(pool.take_buffer());
    }
    for (auto* b : buffers) {
        pool.give(b);
    }
    CHECK(pool.free_buffers() == pump_pool::max_free);
    if (!zero_copy::available()) {
        std::error_code ec;
        CHECK(pool.take_pipe(ec) == nullptr);
        CHECK(ec == asio::error::operation_not_supported);
        return;
    }
    std::vector<zero_copy::pipe*> pipes;
    for (std::size_t i = 0; i < pump_pool::max_free + 10; ++i) {
        std::error_code ec;
        pipes.push_back(pool.take_pipe(ec));
        REQUIRE_FALSE(ec);
        REQUIRE(pipes.back() != nullptr);
    }
    pool.give(pipes.back(), false); // may hold bytes: closed, not kept
    pipes.pop_back();
    CHECK(pool.free_pipes() == 0);
    for (auto* pipe : pipes) {
        pool.give(pipe, true);
    }
    CHECK(pool.free_pipes() == pump_pool::max_free);
}

TEST_CASE("a read's room is a pooled buffer taken when asked for: its bytes leave with one write, and it goes back") {
    asio::io_context io;
    auto out = connected(io);
    pump_pool pool;
    pump p(pool);
    CHECK_FALSE(p.holding()); // waiting: nothing held
    const std::string message = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    asio::mutable_buffer space = p.read_space();
    REQUIRE(space.size() == sizeof(pump_pool::buffer::data));
    CHECK(p.holding());
    std::memcpy(space.data(), message.data(), message.size());
    p.took(message.size());
    CHECK(p.pending() == message.size());
    CHECK_FALSE(p.last_fill_was_full());
    CHECK_FALSE(p.zero_copy());
    std::error_code ec;
    CHECK(p.drain(out.a, ec) == message.size());
    CHECK_FALSE(ec);
    CHECK(read_all_available(out.b, message.size()) == message);
    CHECK_FALSE(p.holding()); // drained: back in the pool
    CHECK(pool.free_buffers() == 1);

    // Asked for, then nothing came (a spurious wake-up, the end, an error): back too.
    space = p.read_space();
    CHECK(pool.free_buffers() == 0); // the same buffer again
    p.read_space_unused();
    CHECK_FALSE(p.holding());
    CHECK(pool.free_buffers() == 1);

    // A read that fills the room: more is waiting, and this is a bulk transfer.
    space = p.read_space();
    p.took(space.size());
    CHECK(p.last_fill_was_full());
    CHECK(p.zero_copy() == zero_copy::available());
    while (p.pending() > 0) {
        p.drain(out.a, ec);
        REQUIRE((!ec || ec == asio::error::would_block));
        if (ec) {
            read_all_available(out.b, space.size());
        }
    }
    CHECK_FALSE(p.holding());
}

TEST_CASE("a head buffer starts in a pooled block, keeps its bytes when it grows, and gives the block back") {
    pump_pool pool;
    {
        head_buffer head(pool);
        CHECK(head.size() == 0);
        head.resize(1000);
        REQUIRE(head.size() == 1000);
        std::memcpy(head.data(), "GET / HTTP/1.1\r\n", 16);
        head.resize(sizeof(pump_pool::head_block::data));
        CHECK(std::memcmp(head.data(), "GET / HTTP/1.1\r\n", 16) == 0);
        // Past the block: a heap buffer, the block back in the pool, the bytes kept.
        head.resize(3 * sizeof(pump_pool::head_block::data));
        CHECK(head.size() == 3 * sizeof(pump_pool::head_block::data));
        CHECK(std::memcmp(head.data(), "GET / HTTP/1.1\r\n", 16) == 0);
        CHECK(pool.free_heads() == 1);
        head.data()[head.size() - 1] = 'x'; // the whole room is usable
    }
    // Connections that come and go reuse the same block.
    head_buffer first(pool);
    first.resize(512);
    const std::uint8_t* block = first.data();
    CHECK(pool.free_heads() == 0);
    head_buffer moved(std::move(first)); // handed from the session to the relay
    CHECK(moved.data() == block);
    CHECK(first.size() == 0);
    moved.release();
    CHECK(pool.free_heads() == 1);
    head_buffer second(pool);
    second.resize(4096);
    CHECK(second.data() == block);
}
