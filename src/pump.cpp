// The relay's pump: a pooled buffer taken at readiness, zero-copy pipes for bulk (src/pump.hpp).
#include "pump.hpp"

#include "platform.hpp"

#include <utility>

namespace kiagateway {

pump_pool::~pump_pool() {
    for (zero_copy::pipe* p : pipes_) {
        zero_copy::close(p);
    }
}

pump_pool::buffer* pump_pool::take_buffer() { return buffers_.take(); }

void pump_pool::give(buffer* b) { buffers_.give(b); }

pump_pool::head_block* pump_pool::take_head() { return heads_.take(); }

void pump_pool::give(head_block* b) { heads_.give(b); }

head_buffer::head_buffer(head_buffer&& other) noexcept
    : pool_(other.pool_), block_(std::exchange(other.block_, nullptr)), grown_(std::move(other.grown_)),
      size_(std::exchange(other.size_, 0)) {}

std::uint8_t* head_buffer::data() noexcept { return block_ != nullptr ? block_->data.data() : grown_.data(); }

void head_buffer::resize(std::size_t size) {
    if (size <= sizeof(pump_pool::head_block::data) && grown_.empty()) {
        if (block_ == nullptr) {
            block_ = pool_->take_head();
        }
    } else {
        if (block_ != nullptr) {
            grown_.assign(block_->data.begin(), block_->data.begin() + static_cast<std::ptrdiff_t>(size_));
            pool_->give(std::exchange(block_, nullptr));
        }
        grown_.resize(size);
    }
    size_ = size;
}

void head_buffer::release() noexcept {
    if (block_ != nullptr) {
        pool_->give(std::exchange(block_, nullptr));
    }
    grown_ = {};
    size_ = 0;
}

zero_copy::pipe* pump_pool::take_pipe(std::error_code& ec) {
    ec.clear();
    if (pipes_.empty()) {
        return zero_copy::open(ec);
    }
    zero_copy::pipe* p = pipes_.back();
    pipes_.pop_back();
    return p;
}

void pump_pool::give(zero_copy::pipe* p, bool clean) {
    if (clean && pipes_.size() < max_free) {
        pipes_.push_back(p);
    } else {
        zero_copy::close(p);
    }
}

void pump::release(bool clean) {
    if (buffer_ != nullptr) {
        pool_.give(buffer_);
        buffer_ = nullptr;
    }
    if (pipe_ != nullptr) {
        pool_.give(pipe_, clean && pending_ == 0);
        pipe_ = nullptr;
    }
}

asio::mutable_buffer pump::read_space() {
    if (buffer_ == nullptr) {
        buffer_ = pool_.take_buffer();
    }
    return asio::buffer(buffer_->data);
}

void pump::read_space_unused() noexcept {
    if (pending_ == 0) {
        release(true);
    }
}

void pump::took(std::size_t n) noexcept {
    next_ = buffer_->data.data();
    pending_ = n;
    filled(n == buffer_->data.size());
}

void pump::filled(bool full) noexcept {
    last_full_ = full;
    // A full buffer: a bulk transfer. Where the kernel can move it without a copy, the next
    // chunks go through a pipe.
    bulk_ = full && zero_copy::available();
}

std::size_t pump::fill(tcp_socket& from, std::error_code& ec) {
    pending_ = 0;
    next_ = nullptr;
    std::size_t n = 0;
    if (bulk_) {
        if (pipe_ == nullptr && (pipe_ = pool_.take_pipe(ec)) == nullptr) {
            return 0;
        }
        n = zero_copy::fill(pipe_, from, zero_copy::capacity(), ec);
        last_full_ = n == zero_copy::capacity();
    } else {
        const asio::mutable_buffer space = read_space();
        n = platform::receive_now(from, space.data(), space.size(), ec);
        next_ = buffer_->data.data();
        filled(n == space.size());
    }
    pending_ = n;
    if (n == 0) {
        release(true); // nothing arrived: do not sit on a buffer or pipe while waiting
    }
    return n;
}

std::size_t pump::drain(tcp_socket& to, std::error_code& ec) {
    ec.clear();
    if (pending_ == 0) {
        return 0;
    }
    std::size_t n = 0;
    if (next_ != nullptr) {
        n = platform::send_now(to, next_, pending_, ec);
        next_ += n;
    } else {
        n = zero_copy::drain(pipe_, to, pending_, ec);
    }
    pending_ -= n;
    if (pending_ == 0) {
        release(true);
    }
    return n;
}

} // namespace kiagateway
