// One direction of a relay moves its bytes through a "pump". While the direction waits it holds
// nothing: the reactor's read asks for room only once the socket is readable (src/reactor_ops.hpp),
// and the pump then takes a 16 KiB buffer from its worker's pool; a request, a response head or a
// TLS record of an interactive session arrives there with the wake-up itself, leaves with one
// write, and the buffer goes back. A read that fills the buffer means a bulk transfer: where the
// OS can move bytes without copying them into the gateway (Linux: splice(2) through a pipe) the
// pump switches to that for the rest of the connection.
//
// A pump holds a buffer or a pipe from its worker's pool only while bytes are in flight: an idle
// connection holds neither, and a busy worker reuses the same few instead of allocating.
#pragma once

#include "net.hpp"

#include <asio/ip/tcp.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <vector>

namespace kiagateway {

// Moving bytes socket -> pipe -> socket inside the kernel. platform/linux/zero_copy_splice.cpp
// implements it with splice(2); src/zero_copy_none.cpp says it is not available. The build picks
// one (KG_SPLICE in CMakeLists.txt).
namespace zero_copy {
struct pipe;
bool available() noexcept;
// A new pipe, or nullptr with `ec` set.
pipe* open(std::error_code& ec);
void close(pipe* p) noexcept;
// At most `max` bytes from socket `from` into the pipe; 0 = end of stream; would_block.
std::size_t fill(pipe* p, tcp_socket& from, std::size_t max, std::error_code& ec);
// At most `n` bytes from the pipe to socket `to`; would_block when `to` is full.
std::size_t drain(pipe* p, tcp_socket& to, std::size_t n, std::error_code& ec);
// What one pipe holds (one fill moves at most that).
std::size_t capacity() noexcept;
} // namespace zero_copy

// The free buffers and pipes of one worker. Only that worker's thread uses it.
class pump_pool {
public:
    struct buffer {
        std::array<std::uint8_t, 16 * 1024> data;
    };
    // A connection's first bytes, read before routing (head_buffer).
    struct head_block {
        std::array<std::uint8_t, 4 * 1024> data;
    };
    pump_pool() = default;
    ~pump_pool();
    pump_pool(const pump_pool&) = delete;
    pump_pool& operator=(const pump_pool&) = delete;

    buffer* take_buffer();
    void give(buffer* b);
    head_block* take_head();
    void give(head_block* b);
    // nullptr and `ec` set when no pipe can be made (out of descriptors).
    zero_copy::pipe* take_pipe(std::error_code& ec);
    // A pipe that may still hold bytes (`clean` false) is closed, never handed out again.
    void give(zero_copy::pipe* p, bool clean);

    std::size_t free_buffers() const noexcept { return buffers_.blocks.size(); }
    std::size_t free_heads() const noexcept { return heads_.blocks.size(); }
    std::size_t free_pipes() const noexcept { return pipes_.size(); }
    // Beyond this many free buffers or pipes, returned ones are freed.
    static constexpr std::size_t max_free = 64;

private:
    // Free blocks of one kind, at most max_free of them kept.
    template <typename Block> struct free_list {
        std::vector<Block*> blocks;
        ~free_list() {
            for (Block* b : blocks) {
                delete b;
            }
        }
        Block* take() {
            if (blocks.empty()) {
                return new Block;
            }
            Block* b = blocks.back();
            blocks.pop_back();
            return b;
        }
        void give(Block* b) {
            if (blocks.size() < max_free) {
                blocks.push_back(b);
            } else {
                delete b;
            }
        }
    };
    free_list<buffer> buffers_;
    free_list<head_block> heads_;
    std::vector<zero_copy::pipe*> pipes_;
};

// The bytes read from a client before routing, until they are written to the backend. They start
// in a 4 KiB block from the worker's pool, which most heads and ClientHellos fit: connections that
// come and go reuse the same few blocks, where a heap buffer each would leave a hole in the heap
// for every connection that stays open after its own was freed. A head that outgrows the block
// moves to a heap buffer (up to max_header_bytes).
class head_buffer {
public:
    explicit head_buffer(pump_pool& pool) noexcept : pool_(&pool) {}
    head_buffer(head_buffer&& other) noexcept;
    head_buffer& operator=(head_buffer&&) = delete;
    head_buffer(const head_buffer&) = delete;
    ~head_buffer() { release(); }

    std::uint8_t* data() noexcept;
    // The room asked for by the last resize (0 before it, and after release).
    std::size_t size() const noexcept { return size_; }
    // Room for `size` bytes; the bytes already there stay.
    void resize(std::size_t size);
    // Gives the block back (or frees the heap buffer).
    void release() noexcept;

private:
    pump_pool* pool_;
    pump_pool::head_block* block_ = nullptr;
    std::vector<std::uint8_t> grown_;
    std::size_t size_ = 0;
};

class pump {
public:
    explicit pump(pump_pool& pool) noexcept : pool_(pool) {}
    ~pump() { release(false); }
    pump(const pump&) = delete;
    pump& operator=(const pump&) = delete;

    // Room for the reactor's read, once `from` is readable: a buffer from the pool, taken now.
    asio::mutable_buffer read_space();
    // That read brought nothing: the buffer goes back (unless bytes are still pending in it).
    void read_space_unused() noexcept;
    // That read delivered `n` > 0 bytes into read_space(): they are pending now.
    void took(std::size_t n) noexcept;

    // Moves what `from` has ready, up to one chunk, into the pump (which must be empty). Returns
    // the bytes taken. 0 with no error is the end of the stream; asio::error::would_block means
    // nothing is ready. `from` must have been readied by platform::prepare_relay_socket.
    std::size_t fill(tcp_socket& from, std::error_code& ec);
    // Writes what the pump holds to `to`; returns the bytes written. would_block when `to` takes
    // no more for now. Once empty, the buffer or pipe goes back to the pool.
    std::size_t drain(tcp_socket& to, std::error_code& ec);
    std::size_t pending() const noexcept { return pending_; }
    bool holding() const noexcept { return buffer_ != nullptr || pipe_ != nullptr; }
    // The last fill (or took()) filled its whole space: more is probably waiting already.
    bool last_fill_was_full() const noexcept { return last_full_; }
    // The source is readable (a wait said so): the next fill should not be skipped.
    void expect_bytes() noexcept { last_full_ = true; }
    bool zero_copy() const noexcept { return bulk_; }

private:
    void release(bool clean);
    // A read filled the buffer (`full`) or not: whether more is probably waiting already, and
    // whether this is a bulk transfer.
    void filled(bool full) noexcept;

    pump_pool& pool_;
    pump_pool::buffer* buffer_ = nullptr;
    zero_copy::pipe* pipe_ = nullptr;
    const std::uint8_t* next_ = nullptr; // the first pending byte, in *buffer_; null: in pipe_
    std::size_t pending_ = 0;
    bool bulk_ = false; // moving through a pipe from now on
    bool last_full_ = false;
};

} // namespace kiagateway
