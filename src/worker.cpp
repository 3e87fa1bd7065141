// A worker: one thread running its own io_context, and the connections it owns.
#include "worker.hpp"

#include "session.hpp"

#include <algorithm>

namespace kiagateway {

void worker::add(session* s) noexcept {
    s->next_in_worker_ = first_session_;
    if (first_session_ != nullptr) {
        first_session_->previous_in_worker_ = s;
    }
    first_session_ = s;
    ++session_count_;
}

void worker::remove(session* s) noexcept {
    if (s->previous_in_worker_ != nullptr) {
        s->previous_in_worker_->next_in_worker_ = s->next_in_worker_;
    } else {
        first_session_ = s->next_in_worker_;
    }
    if (s->next_in_worker_ != nullptr) {
        s->next_in_worker_->previous_in_worker_ = s->previous_in_worker_;
    }
    s->previous_in_worker_ = s->next_in_worker_ = nullptr;
    if (--session_count_ == 0 && sweeping_) {
        // Nothing left to sweep: an idle worker does not wake up, and a stopping one ends now.
        sweeping_ = false;
        idle_sweep_.cancel();
    }
}

void worker::close_all() {
    closing_ = true;
    sweeping_ = false;
    idle_sweep_.cancel();
    // shut_down() only starts closing: the sessions end (and leave the list) in later handlers.
    for (session* s = first_session_; s != nullptr; s = s->next_in_worker_) {
        s->shut_down();
    }
}

void worker::watch_idle(duration idle_timeout) {
    // A connection is closed between idle_timeout and an eighth of it later.
    const duration every =
        std::clamp<duration>(idle_timeout / 8, std::chrono::milliseconds(10), std::chrono::seconds(1));
    if (every < sweep_every_) {
        sweep_every_ = every;
        sweeping_ = false; // re-armed now, sooner
    }
    if (!sweeping_) {
        arm_sweep();
    }
}

void worker::arm_sweep() {
    if (closing_) {
        return;
    }
    sweeping_ = true;
    idle_sweep_.expires_after(sweep_every_);
    idle_sweep_.async_wait([this](const std::error_code& ec) {
        if (ec || !sweeping_) {
            return; // cancelled: no connection left, a stop, or re-armed sooner
        }
        const auto now = std::chrono::steady_clock::now();
        for (session* s = first_session_; s != nullptr;) {
            session* next = s->next_in_worker_; // closing only starts here: the session ends later
            s->close_if_idle(now);
            s = next;
        }
        sweeping_ = false;
        if (session_count_ > 0) {
            arm_sweep();
        }
    });
}

} // namespace kiagateway
