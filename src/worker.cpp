// A worker: one thread running its own io_context, and the connections it owns.
#include "worker.hpp"

#include "session.hpp"

namespace kiagateway {

void worker::close_all() {
    closing_ = true;
    // shut_down() only starts closing: the sessions end (and leave this set) in later handlers.
    for (session* s : sessions_) {
        s->shut_down();
    }
}

} // namespace kiagateway
