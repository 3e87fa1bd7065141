// kiagateway's command line (CLI11): `run`, `validate`, `dry-run-route`, `--version`, and the original's forms.
#include "commands.hpp"
#include "platform.hpp"
#include "version.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>

namespace {

using kiagateway::dry_run_query;

void add_format_option(CLI::App& command, kiagateway::report_format& format) {
    static const std::map<std::string, kiagateway::report_format> formats{{"text", kiagateway::report_format::text},
                                                                          {"json", kiagateway::report_format::json}};
    command.add_option("--format", format, "Output format: text (default) or json")
        ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
        ->option_text("text|json");
}

// Rebuilds the order the queries were given in: CLI11 keeps one vector per flag
// but records every occurrence in parse_order().
std::vector<dry_run_query> ordered_queries(const CLI::App& command,
                                           const std::vector<std::pair<CLI::Option*, dry_run_query::kind>>& flags,
                                           const std::vector<const std::vector<std::string>*>& values) {
    std::vector<dry_run_query> out;
    std::vector<std::size_t> used(flags.size(), 0);
    for (const CLI::Option* seen : command.parse_order()) {
        for (std::size_t i = 0; i < flags.size(); ++i) {
            if (flags[i].first == seen && used[i] < values[i]->size()) {
                out.push_back({flags[i].second, (*values[i])[used[i]++]});
            }
        }
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"kiagateway " KIAGATEWAY_VERSION
                 " - a TCP domain router: routes plain HTTP by Host and TLS by SNI to the\n"
                 "backends one TOML file names, without decrypting anything."};
    app.set_version_flag("--version", "kiagateway " KIAGATEWAY_VERSION);
    // One syntax everywhere: CLI11 would read "/x" as an option on Windows, so a path such as
    // /configs/servers.toml (wine, MSYS) would be refused. Subcommands inherit this setting.
    app.allow_windows_style_options(false);
    app.require_subcommand(0, 1);
    app.footer("With no command, kiagateway runs: 'kiagateway' serves ./servers.toml and 'kiagateway FILE'\n"
               "serves FILE (the original kiagateway's forms).\n"
               "Run 'kiagateway COMMAND --help' for the options of a command.\n"
               "Exit codes: 0 success, 1 invalid config or failed check, 2 usage error.");
    std::string original_form_config = "servers.toml";
    app.add_option("config", original_form_config, "Config file to run (default: servers.toml)")->option_text("FILE");

    // Windows keeps the config under ProgramData (where the MSI installs it); POSIX reads ./servers.toml.
    const std::string default_config = kiagateway::platform::default_config_path();
    const std::string config_help = "Config file (default: " + default_config + ")";
    kiagateway::run_options run;
    run.config_path = default_config;
    CLI::App* run_cmd = app.add_subcommand("run", "Route live traffic: HTTP by Host, TLS by SNI (the default command)");
    run_cmd->add_option("-c,--config", run.config_path, config_help)->option_text("FILE");
    run_cmd->add_flag("--service", run.service,
                      "Run as a Windows service (the Service Control Manager starts it so; the MSI sets it up)");
    std::vector<std::string> http_listen;
    std::vector<std::string> https_listen;
    CLI::Option* http_listen_opt = run_cmd
                                       ->add_option("--http-listen", http_listen,
                                                    "Listen for HTTP here instead of the file's http_listen "
                                                    "(repeatable; 'off' for none)")
                                       ->allow_extra_args(false)
                                       ->option_text("ADDR");
    CLI::Option* https_listen_opt = run_cmd
                                        ->add_option("--https-listen", https_listen,
                                                     "Listen for TLS here instead of the file's https_listen "
                                                     "(repeatable; 'off' for none)")
                                        ->allow_extra_args(false)
                                        ->option_text("ADDR");
    run_cmd->footer(
        "Stop with Ctrl-C or SIGTERM (open connections get drain_timeout to finish; a second\n"
        "request stops at once). SIGHUP reloads the routes from the same file. As a Windows\n"
        "service: 'sc stop kiagateway' stops, 'sc control kiagateway paramchange' reloads.\n"
        "Example: kiagateway run -c servers.toml --http-listen 127.0.0.1:8080 --https-listen 127.0.0.1:8443");

    kiagateway::validate_options validate;
    validate.config_path = default_config;
    CLI::App* validate_cmd =
        app.add_subcommand("validate", "Check a config file; print every problem as file:line:col");
    validate_cmd->add_option("-c,--config", validate.config_path, config_help)->option_text("FILE");
    add_format_option(*validate_cmd, validate.format);

    kiagateway::dry_run_options dry_run;
    dry_run.config_path = default_config;
    CLI::App* dry_run_cmd = app.add_subcommand(
        "dry-run-route", "Show which backend a name or captured request would be routed to, using the live code");
    dry_run_cmd->add_option("-c,--config", dry_run.config_path, config_help)->option_text("FILE");
    std::vector<std::string> hosts;
    std::vector<std::string> snis;
    std::vector<std::string> http_files;
    std::vector<std::string> tls_files;
    const std::vector<std::pair<CLI::Option*, dry_run_query::kind>> flags{
        {dry_run_cmd->add_option("--host", hosts, "An HTTP Host value to route (port allowed)")
             ->allow_extra_args(false)
             ->option_text("NAME"),
         dry_run_query::kind::host},
        {dry_run_cmd->add_option("--sni", snis, "A TLS server name to route")
             ->allow_extra_args(false)
             ->option_text("NAME"),
         dry_run_query::kind::sni},
        {dry_run_cmd->add_option("--http-request", http_files, "A file holding a raw HTTP request head")
             ->allow_extra_args(false)
             ->check(CLI::ExistingFile)
             ->option_text("FILE"),
         dry_run_query::kind::http_request},
        {dry_run_cmd
             ->add_option("--tls-client-hello", tls_files, "A file holding a raw TLS ClientHello, as sent on the wire")
             ->allow_extra_args(false)
             ->check(CLI::ExistingFile)
             ->option_text("FILE"),
         dry_run_query::kind::tls_client_hello},
    };
    dry_run_cmd
        ->add_option("--expect", dry_run.expect,
                     "Exit 1 unless the route's backend is BACKEND (its first, or the whole list a:1,b:2; "
                     "'none' = no route). Once for every query, or once per query in order")
        ->allow_extra_args(false)
        ->option_text("BACKEND");
    add_format_option(*dry_run_cmd, dry_run.format);
    dry_run_cmd->footer("Queries may be repeated and mixed; each is answered on its own line, in order.\n"
                        "Example: kiagateway dry-run-route -c servers.toml --host example.com --sni api.example.com");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kiagateway::exit_ok : kiagateway::exit_usage;
    }

    if (validate_cmd->parsed()) {
        return kiagateway::validate_command(validate, std::cout, std::cerr);
    }
    if (run_cmd->parsed() || !dry_run_cmd->parsed()) {
        if (!run_cmd->parsed()) {
            run.config_path = original_form_config;
        }
        if (http_listen_opt->count() != 0) {
            run.http_listen = http_listen;
        }
        if (https_listen_opt->count() != 0) {
            run.https_listen = https_listen;
        }
        return kiagateway::run_command(run, std::cerr);
    }
    dry_run.queries = ordered_queries(*dry_run_cmd, flags, {&hosts, &snis, &http_files, &tls_files});
    return kiagateway::dry_run_command(dry_run, std::cout, std::cerr);
}
