// A worker: one thread running its own io_context, and the connections it owns.
#include "worker.hpp"

#include "session.hpp"

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
    --session_count_;
}

void worker::close_all() {
    closing_ = true;
    // shut_down() only starts closing: the sessions end (and leave the list) in later handlers.
    for (session* s = first_session_; s != nullptr; s = s->next_in_worker_) {
        s->shut_down();
    }
}

} // namespace kiagateway
