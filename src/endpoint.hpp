// Socket endpoints as text: "1.2.3.4:80", "[::1]:443" (the config's own notation).
#pragma once

#include <asio.hpp>

#include <string>

namespace kiagateway {

inline std::string endpoint_text(const asio::ip::tcp::endpoint& e) {
    const auto address = e.address();
    std::string host = address.to_string();
    if (address.is_v6()) {
        host = "[" + host + "]";
    }
    return host + ":" + std::to_string(e.port());
}

} // namespace kiagateway
