// `kiagateway run`: load the config, apply command-line listeners, bind, and serve until stopped.
#include "commands.hpp"

#include "gateway.hpp"
#include "log.hpp"
#include "platform.hpp"

#include <iostream>
#include <optional>

namespace kiagateway {

namespace {

// "--https-listen off" turns a listener off, like `https_listen = []` in the file.
bool parse_listen_flags(const std::vector<std::string>& values, std::vector<listen_address>& out, const char* flag,
                        std::ostream& err) {
    out.clear();
    for (const auto& value : values) {
        if (value == "off") {
            continue;
        }
        listen_address address;
        std::string problem;
        if (!parse_listen_address(value, address, problem)) {
            err << "kiagateway run: " << flag << " " << value << ": " << problem << '\n';
            return false;
        }
        out.push_back(address);
    }
    return true;
}

int run_gateway(const run_options& options, logger& log, std::ostream& err);

} // namespace

int run_command(const run_options& options, std::ostream& err) {
    logger log;
    if (options.service) {
        return platform::run_as_service(
            log, [&](std::ostream& service_err) { return run_gateway(options, log, service_err); });
    }
    return run_gateway(options, log, err);
}

namespace {

int run_gateway(const run_options& options, logger& log, std::ostream& err) {
    // Flags first: a usage error is reported as one whatever the file holds.
    std::vector<listen_address> http_listen;
    std::vector<listen_address> https_listen;
    if (options.http_listen && !parse_listen_flags(*options.http_listen, http_listen, "--http-listen", err)) {
        return exit_usage;
    }
    if (options.https_listen && !parse_listen_flags(*options.https_listen, https_listen, "--https-listen", err)) {
        return exit_usage;
    }
    load_result loaded = load_config_file(options.config_path);
    for (const auto& d : loaded.errors) {
        err << d.to_text() << '\n';
    }
    if (!loaded.ok()) {
        err << options.config_path << ": invalid config; not starting\n";
        return exit_failed;
    }
    config cfg = std::move(*loaded.cfg);
    log.set_format(cfg.gateway.log_format);
    if (options.http_listen) {
        cfg.gateway.http_listen = std::move(http_listen);
    }
    if (options.https_listen) {
        cfg.gateway.https_listen = std::move(https_listen);
    }
    cfg.listen_overridden = options.http_listen.has_value() || options.https_listen.has_value();
    if (cfg.gateway.http_listen.empty() && cfg.gateway.https_listen.empty()) {
        log.error("no listener: http_listen and https_listen are both empty");
        return exit_failed;
    }
    for (const auto& d : loaded.warnings) {
        log.warning(d.to_text());
    }
    if (options.service && (cfg.gateway.access_log == "stdout" || cfg.gateway.access_log == "stderr")) {
        log.warning("access_log = \"" + cfg.gateway.access_log +
                    "\" goes nowhere: a service has no console. Set it to a file the service account may write, "
                    "or \"off\"");
    }
    for (const auto& note : platform::prepare_process()) {
        log.info(note);
    }
    try {
        access_log access(cfg.gateway.access_log, cfg.gateway.log_format);
        const std::string user = cfg.gateway.user;
        const std::string group = cfg.gateway.group;
        gateway g(std::move(cfg), log, access);
        // Listeners are bound (ports below 1024 need the privileges); now let them go.
        if (const std::string problem = platform::drop_privileges(user, group); !problem.empty()) {
            log.error(problem);
            return exit_failed;
        }
        if (!user.empty() || !group.empty()) {
            log.info("running as user " + (user.empty() ? std::string("(unchanged)") : user) + ", group " +
                     (group.empty() ? std::string("(the user's)") : group));
        }
        return platform::serve(g, log);
    } catch (const std::exception& e) {
        log.error(e.what());
    }
    return exit_failed;
}

} // namespace

} // namespace kiagateway
