// One direction of a relay moves its bytes through a "pump": a pipe that splice(2) fills and
// empties without copying to user space (Linux, platform/linux/pump_splice.cpp), or a buffer
// (everywhere else, src/pump_copy.cpp). The build picks one (KG_SPLICE in CMakeLists.txt).
//
// A pump holds a pipe or a buffer from its worker's pool only while bytes are in flight: an idle
// connection holds neither, and a busy worker reuses the same few instead of allocating.
#pragma once

#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <system_error>
#include <vector>

namespace kiagateway {

// The free pipes or buffers of one worker. Only that worker's thread uses it.
class pump_pool {
public:
    struct slot; // a pipe or a buffer, defined by the implementation
    pump_pool() = default;
    ~pump_pool();
    pump_pool(const pump_pool&) = delete;
    pump_pool& operator=(const pump_pool&) = delete;

    // A free slot, or a new one (nullptr and `ec` set when none can be made, e.g. out of descriptors).
    slot* take(std::error_code& ec);
    // Back to the pool. A slot that may still hold bytes (`clean` false) is destroyed instead.
    void give(slot* s, bool clean);
    std::size_t free_count() const noexcept { return free_.size(); }
    // What one slot holds at most: the most one fill() moves.
    static std::size_t chunk_size() noexcept;

    // Beyond this many free slots, returned ones are destroyed.
    static constexpr std::size_t max_free = 64;

private:
    std::vector<slot*> free_;
};

class pump {
public:
    explicit pump(pump_pool& pool) noexcept : pool_(pool) {}
    ~pump() { release(false); }
    pump(const pump&) = delete;
    pump& operator=(const pump&) = delete;

    // Moves what `from` has ready, up to one chunk, into the pump (which must be empty). Returns
    // the bytes taken. 0 with no error is the end of the stream; asio::error::would_block means
    // nothing is ready. `from` must be in non-blocking mode.
    std::size_t fill(asio::ip::tcp::socket& from, std::error_code& ec);
    // Writes what the pump holds to `to`; returns the bytes written. would_block when `to` takes
    // no more for now. Once empty, the pipe or buffer goes back to the pool.
    std::size_t drain(asio::ip::tcp::socket& to, std::error_code& ec);
    std::size_t pending() const noexcept { return pending_; }
    bool holding() const noexcept { return slot_ != nullptr; }

private:
    void release(bool clean) {
        if (slot_ != nullptr) {
            pool_.give(slot_, clean && pending_ == 0);
            slot_ = nullptr;
        }
    }

    pump_pool& pool_;
    pump_pool::slot* slot_ = nullptr;
    std::size_t pending_ = 0;
    std::size_t offset_ = 0; // the copy pump: where the pending bytes start in its buffer
};

} // namespace kiagateway
