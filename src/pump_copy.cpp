// The portable pump: bytes in flight sit in a 16 KiB buffer taken from the worker's pool.
#include "pump.hpp"

#include <array>
#include <cstdint>

namespace kiagateway {

struct pump_pool::slot {
    std::array<std::uint8_t, 16 * 1024> data;
};

pump_pool::~pump_pool() {
    for (slot* s : free_) {
        delete s;
    }
}

std::size_t pump_pool::chunk_size() noexcept { return sizeof(slot::data); }

pump_pool::slot* pump_pool::take(std::error_code& ec) {
    ec.clear();
    if (!free_.empty()) {
        slot* s = free_.back();
        free_.pop_back();
        return s;
    }
    return new slot;
}

void pump_pool::give(slot* s, bool /*clean: a buffer is reusable whatever it held*/) {
    if (free_.size() < max_free) {
        free_.push_back(s);
    } else {
        delete s;
    }
}

std::size_t pump::fill(asio::ip::tcp::socket& from, std::error_code& ec) {
    if (slot_ == nullptr && (slot_ = pool_.take(ec)) == nullptr) {
        return 0;
    }
    const std::size_t n = from.read_some(asio::buffer(slot_->data), ec);
    if (ec == asio::error::eof) {
        ec.clear();
    }
    if (n == 0) {
        release(true); // nothing arrived: do not sit on the buffer while waiting
    }
    pending_ = n;
    offset_ = 0;
    return n;
}

std::size_t pump::drain(asio::ip::tcp::socket& to, std::error_code& ec) {
    ec.clear();
    if (pending_ == 0) {
        return 0;
    }
    const std::size_t n = to.write_some(asio::buffer(slot_->data.data() + offset_, pending_), ec);
    pending_ -= n;
    offset_ += n;
    if (pending_ == 0) {
        release(true);
    }
    return n;
}

} // namespace kiagateway
