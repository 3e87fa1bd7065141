// What the gateway does with a sniffed connection: the one decision shared by live traffic and dry-run.
#include "router.hpp"

namespace kiagateway {

const char* to_string(protocol p) noexcept { return p == protocol::http ? "http" : "tls"; }

const char* to_string(outcome o) noexcept {
    switch (o) {
    case outcome::ok:
        return "ok";
    case outcome::no_route:
        return "no_route";
    case outcome::bad_request:
        return "bad_request";
    case outcome::timeout:
        return "timeout";
    case outcome::connect_failed:
        return "connect_failed";
    case outcome::limit:
        return "limit";
    case outcome::shutdown:
        return "shutdown";
    }
    return "unknown";
}

routing_decision decide(protocol p, const sniff_result& sniffed, const route_table& table) {
    routing_decision d;
    switch (sniffed.status) {
    case sniff_status::found:
    case sniff_status::no_name:
        // find("") yields the fallback alone: a nameless request never matches a named rule.
        d.matched = table.find(sniffed.status == sniff_status::found ? std::string_view(sniffed.name) : "");
        if (d.matched != nullptr) {
            d.result = outcome::ok;
            return d;
        }
        d.result = outcome::no_route;
        if (p == protocol::http) {
            d.http_status = 502;
        } else {
            // RFC 6066 §3: a server that does not recognise the name may send unrecognized_name.
            // Without any name there is nothing to "not recognise": just close.
            d.tls_alert = sniffed.status == sniff_status::found;
        }
        return d;
    case sniff_status::invalid:
    case sniff_status::need_more:
        d.result = outcome::bad_request;
        if (p == protocol::http) {
            d.http_status = sniffed.error == sniff_error::too_large ? 431 : 400;
        }
        return d;
    }
    return d;
}

const char* http_error_response(int status) noexcept {
    switch (status) {
    case 400:
        return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
               "Connection: close\r\n\r\nBad Request\n";
    case 408:
        return "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
               "Connection: close\r\n\r\nRequest Timeout\n";
    case 431:
        return "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
               "Content-Length: 32\r\nConnection: close\r\n\r\nRequest Header Fields Too Large\n";
    default:
        return "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
               "Connection: close\r\n\r\nBad Gateway\n";
    }
}

std::string_view tls_unrecognized_name_alert() noexcept {
    // Record type alert (21), version 3.3, length 2; level fatal (2), description unrecognized_name (112).
    static constexpr char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70};
    return {alert, sizeof alert};
}

} // namespace kiagateway
