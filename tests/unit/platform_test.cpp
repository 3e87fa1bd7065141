// The platform layer's promises to the core, checked on the OS the tests run on (Linux, or
// Windows under wine for the MinGW build): listening-socket options, bind-error advice, the
// default config path.
#include "platform.hpp"

#include "test_support.hpp"

#include <asio.hpp>

#include <cstdlib>

#if defined(_WIN32)
#include <winsock2.h>
#endif

using namespace kiagateway;
using kiagateway::test::contains;

namespace {

asio::ip::tcp::acceptor prepared_acceptor(asio::io_context& io) {
    asio::ip::tcp::acceptor acceptor(io);
    acceptor.open(asio::ip::tcp::v4());
    REQUIRE_FALSE(platform::prepare_listening_socket(acceptor));
    return acceptor;
}

} // namespace

TEST_CASE("listening sockets are exclusive on Windows and reusable after TIME_WAIT on POSIX") {
    asio::io_context io;
    auto acceptor = prepared_acceptor(io);
    asio::socket_base::reuse_address reuse;
    acceptor.get_option(reuse);
#if defined(_WIN32)
    // SO_REUSEADDR on Windows would let another process bind the port and take connections.
    CHECK_FALSE(reuse.value());
    BOOL exclusive = FALSE;
    int size = sizeof exclusive;
    REQUIRE(getsockopt(acceptor.native_handle(), SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<char*>(&exclusive),
                       &size) == 0);
    CHECK(exclusive == TRUE);
#else
    CHECK(reuse.value());
#endif
}

TEST_CASE("a second listener on a taken port fails with address_in_use, and the hint names the owner's tool") {
    asio::io_context io;
    auto first = prepared_acceptor(io);
    first.bind({asio::ip::make_address("127.0.0.1"), 0});
    first.listen();
    auto second = prepared_acceptor(io);
    std::error_code ec;
    second.bind(first.local_endpoint(), ec);
    REQUIRE(ec == asio::error::address_in_use);

    const std::string hint = platform::bind_error_hint(first.local_endpoint().port(), ec);
    const std::string port = std::to_string(first.local_endpoint().port());
#if defined(_WIN32)
    CHECK_THAT(hint, contains("netstat -ano -p tcp | findstr :" + port));
    CHECK_THAT(hint, !contains("HTTP.sys")); // only 80 and 443 are HTTP.sys's
#else
    CHECK_THAT(hint, contains("ss -ltnp sport = :" + port) || contains("lsof -nP -iTCP:" + port));
#endif
}

TEST_CASE("port 80 or 443 in use: the hint says who usually holds it") {
    const std::string hint80 = platform::bind_error_hint(80, asio::error::address_in_use);
    const std::string hint443 = platform::bind_error_hint(443, asio::error::address_in_use);
#if defined(_WIN32)
    for (const auto& hint : {hint80, hint443}) {
        CHECK_THAT(hint, contains("IIS"));
        CHECK_THAT(hint, contains("HTTP.sys"));
        CHECK_THAT(hint, contains("netsh http show servicestate"));
    }
#else
    CHECK_THAT(hint80, contains(":80"));
    CHECK_THAT(hint443, contains(":443"));
#endif
    CHECK(platform::bind_error_hint(8080, asio::error::connection_refused).empty());
}

TEST_CASE("the default config path") {
    const std::string path = platform::default_config_path();
#if defined(_WIN32)
    // Under the ProgramData known folder, where the MSI installs the config.
    const char* program_data = std::getenv("ProgramData");
    REQUIRE(program_data != nullptr);
    CHECK(path == std::string(program_data) + "\\kiagateway\\servers.toml");
#else
    CHECK(path == "servers.toml");
#endif
}

TEST_CASE("user and group: nothing to do when unset") {
    CHECK(platform::drop_privileges("", "").empty());
#if defined(_WIN32)
    // Windows has no setuid: a config that asks for it is refused, not silently ignored.
    CHECK_THAT(platform::drop_privileges("nobody", ""), contains("POSIX"));
#endif
}
