// A worker: one thread running its own io_context, and the connections it owns.
#include "worker.hpp"

#include "session.hpp"

namespace kiagateway {

void worker::close_all() {
    // close() only starts closing: the sessions end (and leave this set) in later handlers.
    for (session* s : sessions_) {
        s->close();
    }
}

} // namespace kiagateway
