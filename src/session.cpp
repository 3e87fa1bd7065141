// One client connection: sniff the name under a deadline, route it, answer or connect, then relay.
#include "session.hpp"

#include "endpoint.hpp"
#include "platform.hpp"

namespace kiagateway {

namespace {

// After an error answer, read (and drop) what the client still sends for this long, so
// closing does not reset the connection before the client has read the answer.
constexpr auto linger_time = std::chrono::seconds(2);

// Most heads and ClientHellos fit in 4 KiB (a pooled block: head_buffer); the buffer doubles only
// for the ones that do not.
constexpr std::size_t initial_read_buffer = sizeof(pump_pool::head_block::data);

} // namespace

session::session(worker& owner, tcp_socket client, const asio::ip::tcp::endpoint& peer, protocol proto,
                 const std::string& listener)
    : worker_(owner), client_(std::move(client)), backend_(client_.get_executor()), timer_(client_.get_executor()),
      runtime_(owner.current()), buffer_(owner.pumps()), started_(std::chrono::steady_clock::now()) {
    if (proto == protocol::tls) {
        tls_ = std::make_unique<tls_sniffer>(tls_limits{runtime_->settings.max_header_bytes});
    } else {
        http_ = std::make_unique<http_sniffer>(http_limits{runtime_->settings.max_header_bytes});
    }
    record_.start = std::chrono::system_clock::now();
    record_.id = owner.next_id();
    record_.proto = proto;
    record_.listener = listener;
    record_.client = endpoint_text(peer);
    worker_.add(this);
}

session::~session() {
    worker_.remove(this);
    record_.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
    worker_.shared().access.write(record_);
    worker_.shared().open_connections.fetch_sub(1, std::memory_order_relaxed);
}

std::size_t session::read_limit() const noexcept {
    // One byte more than the limit, so a head that is too large is seen as too large.
    return runtime_->settings.max_header_bytes + 1;
}

void session::start() {
    if (worker_.closing()) {
        shut_down(); // accepted just before the listener closed, during a stop
        return;
    }
    platform::prepare_accepted_socket(client_);
    read_wait::accepted(client_);
    if (platform::prepare_relay_socket(client_)) {
        record_.result = outcome::bad_request; // an unusable socket (already reset): as a failed read
        close();
        return;
    }
    timer_.expires_after(runtime_->settings.read_timeout);
    timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
        if (ec || self->phase_ != phase::sniffing) {
            return;
        }
        self->record_.result = outcome::timeout;
        if (self->record_.proto == protocol::http) {
            // The sniffing read is still pending: cancel it so the answer's reads are the only ones.
            std::error_code cancel_error;
            self->client_.cancel(cancel_error);
            self->answer(http_error_response(408));
        } else {
            self->close();
        }
    });
    sniffing_.start(client_, shared_from_this());
}

void session::close_if_idle(std::chrono::steady_clock::time_point now) {
    if (phase_ == phase::relaying) {
        relay_->close_if_idle(now);
    }
}

void session::reject_over_limit() {
    record_.result = outcome::limit;
    close();
}

void session::shut_down() {
    if (phase_ != phase::done && phase_ != phase::answering) {
        record_.result = outcome::shutdown;
    }
    close();
}

void session::close() {
    phase_ = phase::done;
    timer_.cancel();
    std::error_code ignored;
    client_.close(ignored);
    if (const auto c = connector_.lock()) {
        c->cancel();
    }
    if (relay_) {
        relay_->close();
    }
}

asio::mutable_buffer session::read_space() {
    if (buffer_.size() == 0) {
        buffer_.resize(std::min(initial_read_buffer, read_limit()));
    }
    return asio::buffer(buffer_.data() + filled_, buffer_.size() - filled_);
}

void session::read_space_unused() noexcept {
    if (filled_ == 0) {
        buffer_.release(); // a client that connects and says nothing holds no buffer
    }
}

void session::read_done(const std::error_code& ec, std::size_t n) {
    if (phase_ != phase::sniffing) {
        return;
    }
    if (ec) {
        // The client left before naming a host: nothing to answer.
        record_.result = outcome::bad_request;
        close();
        return;
    }
    on_read(n);
}

void session::on_read(std::size_t n) {
    filled_ += n;
    const std::span<const std::uint8_t> bytes(buffer_.data(), filled_);
    sniff_result sniffed = tls_ ? tls_->parse(bytes) : http_->parse(bytes);
    if (sniffed.status == sniff_status::need_more) {
        if (filled_ == buffer_.size() && buffer_.size() < read_limit()) {
            buffer_.resize(std::min(buffer_.size() * 2, read_limit()));
        }
        if (filled_ < buffer_.size()) {
            // read_wait, not async_read_some: a read that leaves the socket drained tells the
            // reactor so, and the relay's first wait for more from the client then costs no system call.
            sniffing_.start(client_, shared_from_this());
            return;
        }
        // Cannot happen with the sniffers' limits below the buffer size; refuse rather than loop.
        sniffed.status = sniff_status::invalid;
        sniffed.error = sniff_error::too_large;
    }
    route(sniffed);
}

void session::route(const sniff_result& sniffed) {
    timer_.cancel();
    sniffing_.release(); // no more reads from the session: the relay has its own
    tls_.reset();
    http_.reset();
    record_.name = sniffed.name;
    record_.bytes_up = filled_;
    const route_table& table = record_.proto == protocol::http ? *runtime_->http : *runtime_->https;
    const routing_decision decision = decide(record_.proto, sniffed, table);
    record_.result = decision.result;
    if (decision.matched == nullptr) {
        if (decision.http_status != 0) {
            answer(http_error_response(decision.http_status));
        } else if (decision.tls_alert) {
            answer(tls_unrecognized_name_alert());
        } else {
            close();
        }
        return;
    }
    record_.rule = decision.matched->rule;
    phase_ = phase::connecting;
    auto c = std::make_shared<connector>(client_.get_executor(), runtime_->settings.connect_timeout);
    connector_ = c;
    // The sniffed bytes go with the connect where they can (src/reactor_ops.hpp); the buffer stays
    // the session's until the relay has written them all.
    c->start(*decision.matched, asio::buffer(buffer_.data(), filled_),
             [self = shared_from_this()](tcp_socket backend, const backend_address* connected_to, std::size_t sent) {
                 self->on_connected(std::move(backend), connected_to, sent);
             });
}

void session::on_connected(tcp_socket backend, const backend_address* connected_to, std::size_t sent) {
    // The connector is done: let go of it entirely (a weak_ptr to a make_shared object would keep
    // its memory for the connection's life).
    connector_.reset();
    if (phase_ != phase::connecting) {
        return; // closed while connecting
    }
    if (connected_to == nullptr) {
        record_.result = outcome::connect_failed;
        if (record_.proto == protocol::http) {
            answer(http_error_response(502));
        } else {
            close();
        }
        return;
    }
    record_.backend = connected_to->to_string();
    phase_ = phase::relaying;
    backend_ = std::move(backend);
    relay_.emplace(client_, backend_, buffer_, runtime_->settings.idle_timeout, worker_.pumps());
    worker_.watch_idle(runtime_->settings.idle_timeout);
    // The relay is part of this session, so its completion holds no reference to it.
    relay_->start(filled_, sent, weak_from_this(), [this](const relay::result& result) {
        record_.bytes_up = result.bytes_up;
        record_.bytes_down = result.bytes_down;
        if (result.idle_timeout) {
            record_.result = outcome::timeout;
        }
        phase_ = phase::done;
    });
}

void session::answer(std::string_view bytes) {
    phase_ = phase::answering;
    timer_.cancel();
    asio::async_write(client_, asio::buffer(bytes.data(), bytes.size()),
                      [self = shared_from_this()](const std::error_code& ec, std::size_t written) {
                          self->record_.bytes_down = written;
                          if (ec || self->phase_ != phase::answering) {
                              self->close();
                              return;
                          }
                          std::error_code ignored;
                          self->client_.shutdown(tcp_socket::shutdown_send, ignored);
                          self->linger();
                      });
}

void session::linger() {
    timer_.expires_after(linger_time);
    timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
        if (!ec) {
            self->close();
        }
    });
    drain_client();
}

void session::drain_client() {
    // Drop whatever the client still sends until it closes its side. (Into the head buffer, which
    // a client that never sent anything does not hold yet: never into no room, which would
    // complete at once, over and over.)
    filled_ = 0;
    client_.async_read_some(read_space(), [self = shared_from_this()](const std::error_code& ec, std::size_t) {
        if (self->phase_ != phase::answering) {
            return;
        }
        if (ec) {
            self->close();
            return;
        }
        self->drain_client();
    });
}

} // namespace kiagateway
