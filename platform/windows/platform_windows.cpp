// Windows platform layer: the service (Service Control Manager), the console's Ctrl-C, the Event
// Log, exclusive listening sockets and the ProgramData config path.
//
// One executable serves both ways. `run --service` hands the main thread to the SCM's dispatcher,
// which calls service_main() on a thread of its own; that thread loads the config, binds and
// serves, while the control handler (on the dispatcher's thread) only records each request and
// posts it to the gateway's control loop. Otherwise a console handler does the same for Ctrl-C.
#include "platform.hpp"

#include "gateway.hpp"
#include "log.hpp"

#include <asio.hpp>

#include <windows.h>

#include <knownfolders.h>
#include <shlobj.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <thread>

#include "event_messages.h"

namespace kiagateway::platform {

namespace {

constexpr int exit_usage = 2;
constexpr int exit_failed = 1;

std::wstring widen(std::string_view text) {
    if (text.empty()) {
        return {};
    }
    const int size = MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
    std::wstring out(static_cast<std::size_t>(size), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), size);
    return out;
}

std::string narrow(std::wstring_view text) {
    if (text.empty()) {
        return {};
    }
    const int size =
        WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0, nullptr, nullptr);
    std::string out(static_cast<std::size_t>(size), '\0');
    WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), size, nullptr, nullptr);
    return out;
}

// The Event Log source "kiagateway" (the MSI registers it, with this executable as its message
// file: event_messages.mc gives each id the text "%1", so Event Viewer shows our message as is).
class event_log {
public:
    event_log() : source_(RegisterEventSourceW(nullptr, L"kiagateway")) {}
    ~event_log() {
        if (source_ != nullptr) {
            DeregisterEventSource(source_);
        }
    }
    event_log(const event_log&) = delete;
    event_log& operator=(const event_log&) = delete;

    void report(logger::level lvl, std::string_view message) {
        if (source_ == nullptr || message.empty()) {
            return;
        }
        const std::wstring text = widen(message);
        const wchar_t* strings[] = {text.c_str()};
        WORD type = EVENTLOG_INFORMATION_TYPE;
        DWORD id = KG_EVENT_INFO;
        if (lvl == logger::level::warning) {
            type = EVENTLOG_WARNING_TYPE;
            id = KG_EVENT_WARNING;
        } else if (lvl == logger::level::error) {
            type = EVENTLOG_ERROR_TYPE;
            id = KG_EVENT_ERROR;
        }
        ReportEventW(source_, type, 0, id, nullptr, 1, 0, strings, nullptr);
    }

private:
    HANDLE source_;
};

// Stop and reload requests from the SCM or the console, and the gateway they go to. A request
// that comes before the gateway exists is remembered and delivered when it starts serving.
class control_requests {
public:
    enum class kind { stop, reload };

    void request(kind what) {
        const std::lock_guard lock(mutex_);
        if (what == kind::stop) {
            ++stops_;
        } else {
            ++reloads_;
        }
        deliver();
    }

    void attach(gateway* g, logger* log) {
        const std::lock_guard lock(mutex_);
        gateway_ = g;
        log_ = log;
        if (g != nullptr) {
            deliver();
        } else {
            serving_ended_.notify_all();
        }
    }

    // Waits (bounded) until the gateway has stopped serving: Windows ends a console program
    // soon after its handler returns from a close or shutdown event.
    void wait_until_detached(std::chrono::milliseconds limit) {
        std::unique_lock lock(mutex_);
        serving_ended_.wait_for(lock, limit, [this] { return gateway_ == nullptr; });
    }

private:
    void deliver() {
        if (gateway_ == nullptr) {
            return;
        }
        for (; reloads_ > 0; --reloads_) {
            asio::post(gateway_->control(), [g = gateway_, log = log_] {
                log->info("reload requested: reading the config again");
                g->reload();
            });
        }
        for (; stops_ > 0; --stops_) {
            asio::post(gateway_->control(), [g = gateway_, log = log_] {
                log->info("stop requested");
                g->stop();
            });
        }
    }

    std::mutex mutex_;
    std::condition_variable serving_ended_;
    gateway* gateway_ = nullptr;
    logger* log_ = nullptr;
    int stops_ = 0;
    int reloads_ = 0;
};

control_requests requests;

// The service's state as the SCM sees it. The status handle is set only under the dispatcher.
class service_status {
public:
    bool active() const noexcept { return handle_ != nullptr; }

    bool start(const wchar_t* name, LPHANDLER_FUNCTION_EX handler) {
        handle_ = RegisterServiceCtrlHandlerExW(name, handler, nullptr);
        if (handle_ == nullptr) {
            return false;
        }
        set(SERVICE_START_PENDING, 0, std::chrono::seconds(30));
        return true;
    }

    void running() { set(SERVICE_RUNNING, SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE); }

    // STOP_PENDING, then a new checkpoint every second until stopped(): the SCM (and `sc stop`,
    // Restart-Service) see that the drain is progressing instead of a hung service.
    void stop_pending() {
        {
            const std::lock_guard lock(mutex_);
            if (pulse_.joinable()) {
                return;
            }
            pulse_ = std::thread([this] {
                std::unique_lock pulse_lock(mutex_);
                while (!stopped_) {
                    pulse_lock.unlock();
                    set(SERVICE_STOP_PENDING, 0, std::chrono::seconds(3));
                    pulse_lock.lock();
                    pulse_wake_.wait_for(pulse_lock, std::chrono::seconds(1), [this] { return stopped_; });
                }
            });
        }
    }

    // The last call: nothing after SetServiceStatus(SERVICE_STOPPED) is sure to run.
    void stopped(int exit_code) {
        {
            const std::lock_guard lock(mutex_);
            stopped_ = true;
        }
        pulse_wake_.notify_all();
        if (pulse_.joinable()) {
            pulse_.join();
        }
        SERVICE_STATUS status{};
        status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
        status.dwCurrentState = SERVICE_STOPPED;
        if (exit_code != 0) {
            // `sc query` shows 1066 and the service's own code; the Event Log says why.
            status.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
            status.dwServiceSpecificExitCode = static_cast<DWORD>(exit_code);
        }
        SetServiceStatus(handle_, &status);
    }

private:
    void set(DWORD state, DWORD accepted, std::chrono::milliseconds wait_hint = {}) {
        const std::lock_guard lock(status_mutex_);
        SERVICE_STATUS status{};
        status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
        status.dwCurrentState = state;
        status.dwControlsAccepted = accepted;
        status.dwWaitHint = static_cast<DWORD>(wait_hint.count());
        status.dwCheckPoint = (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING) ? ++checkpoint_ : 0;
        SetServiceStatus(handle_, &status);
    }

    SERVICE_STATUS_HANDLE handle_ = nullptr;
    std::mutex status_mutex_;
    DWORD checkpoint_ = 0;
    std::mutex mutex_;
    std::condition_variable pulse_wake_;
    std::thread pulse_;
    bool stopped_ = false;
};

service_status service;

// What service_main() runs, handed over by run_as_service().
struct service_job {
    logger* log = nullptr;
    const std::function<int(std::ostream&)>* body = nullptr;
    int exit_code = exit_failed;
} job;

// Runs on the dispatcher's thread: record the request, wake the core, return at once.
DWORD WINAPI service_control(DWORD control, DWORD, void*, void*) {
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        requests.request(control_requests::kind::stop);
        return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE:
        requests.request(control_requests::kind::reload);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

void WINAPI service_main(DWORD argc, wchar_t** argv) {
    // For an own-process service the SCM passes the name it started us under.
    const wchar_t* name = argc > 0 && argv[0] != nullptr ? argv[0] : L"kiagateway";
    if (!service.start(name, service_control)) {
        return;
    }
    event_log events;
    job.log->set_mirror([&events](logger::level lvl, std::string_view message) { events.report(lvl, message); });
    // Config diagnostics are written to a stream (stderr in a console): collect them for one event.
    std::ostringstream err;
    job.exit_code = (*job.body)(err);
    if (const std::string text = err.str(); !text.empty()) {
        events.report(job.exit_code == 0 ? logger::level::warning : logger::level::error, text);
    }
    if (job.exit_code != 0) {
        events.report(logger::level::error, "kiagateway did not start or stopped with an error (exit code " +
                                                std::to_string(job.exit_code) + "); the messages above say why");
    }
    job.log->set_mirror(nullptr);
    std::fflush(nullptr);
    service.stopped(job.exit_code);
}

BOOL WINAPI console_control(DWORD event) {
    switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
        requests.request(control_requests::kind::stop);
        return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        // Windows ends the process a few seconds after this returns: use them to drain.
        requests.request(control_requests::kind::stop);
        requests.wait_until_detached(std::chrono::milliseconds(4500));
        return TRUE;
    default:
        return FALSE;
    }
}

} // namespace

std::string default_config_path() {
    std::string folder = "C:\\ProgramData";
    wchar_t* path = nullptr;
    if (SUCCEEDED(SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &path)) && path != nullptr) {
        folder = narrow(path);
    }
    CoTaskMemFree(path);
    return folder + "\\kiagateway\\servers.toml";
}

std::vector<std::string> prepare_process() {
    // Messages are UTF-8 (names, paths); let the console show them as such.
    SetConsoleOutputCP(CP_UTF8);
    return {};
}

bool listen_per_worker() {
    return false; // one socket per address; nothing may share it (SO_EXCLUSIVEADDRUSE)
}

std::error_code prepare_listening_socket(asio::ip::tcp::acceptor& acceptor, bool /*shared: never on Windows*/) {
    // Never SO_REUSEADDR on Windows: it lets any other process bind the same port and receive
    // our connections. SO_EXCLUSIVEADDRUSE makes the port ours alone.
    const BOOL on = TRUE;
    if (setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<const char*>(&on),
                   sizeof on) == SOCKET_ERROR) {
        return {WSAGetLastError(), asio::error::get_system_category()};
    }
    return {};
}

void prepare_accepted_socket(tcp_socket& socket) {
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
}

std::error_code prepare_relay_socket(tcp_socket& socket) {
    // Winsock has no per-call MSG_DONTWAIT: Asio's non-blocking mode makes read_some and
    // write_some return would_block instead of waiting.
    std::error_code ec;
    socket.non_blocking(true, ec);
    return ec;
}

std::size_t receive_now(tcp_socket& socket, void* data, std::size_t size, std::error_code& ec) {
    const std::size_t n = socket.read_some(asio::buffer(data, size), ec);
    if (ec == asio::error::eof) {
        ec.clear();
    }
    return n;
}

std::size_t send_now(tcp_socket& socket, const void* data, std::size_t size, std::error_code& ec) {
    return socket.write_some(asio::buffer(data, size), ec);
}

std::string bind_error_hint(std::uint16_t port, const std::error_code& ec) {
    const std::string number = std::to_string(port);
    const std::string netstat = "'netstat -ano -p tcp | findstr :" + number + "' shows the owner's process id";
    if (ec == asio::error::address_in_use) {
        if (port == 80 || port == 443) {
            return "another program holds the port: on Windows usually IIS or another HTTP.sys user (the World "
                   "Wide Web Publishing Service, WinRM, SSRS); 'netsh http show servicestate' lists them, and " +
                   netstat;
        }
        return "another program holds the port; " + netstat;
    }
    if (ec == asio::error::access_denied) {
        return "Windows refused the port: another program may hold it exclusively, or it is in a reserved range "
               "('netsh int ipv4 show excludedportrange protocol=tcp'); " +
               netstat;
    }
    return {};
}

std::string drop_privileges(const std::string& user, const std::string& group) {
    if (user.empty() && group.empty()) {
        return {};
    }
    return "[gateway] user and group are for POSIX systems; on Windows the service's account decides (the MSI "
           "installs the service as NT AUTHORITY\\LocalService): remove them from the config";
}

int run_as_service(logger& log, const std::function<int(std::ostream& err)>& body) {
    job.log = &log;
    job.body = &body;
    static wchar_t name[] = L"kiagateway";
    const SERVICE_TABLE_ENTRYW table[] = {{name, service_main}, {nullptr, nullptr}};
    // Blocks until the service has stopped.
    if (!StartServiceCtrlDispatcherW(table)) {
        const DWORD error = GetLastError();
        if (error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
            log.error("--service is for the Service Control Manager, which starts the installed service; in a "
                      "console run 'kiagateway run' without it, or 'sc start kiagateway'");
            return exit_usage;
        }
        log.error("cannot start the service dispatcher: " + std::system_category().message(static_cast<int>(error)));
        return exit_failed;
    }
    return job.exit_code;
}

int serve(gateway& g, logger& log) {
    if (service.active()) {
        g.set_hooks({
            [](const std::string&) { service.running(); },
            {},
            [] { service.stop_pending(); },
        });
    } else {
        SetConsoleCtrlHandler(console_control, TRUE);
    }
    requests.attach(&g, &log);
    const int code = g.run();
    requests.attach(nullptr, nullptr);
    if (!service.active()) {
        SetConsoleCtrlHandler(console_control, FALSE);
    }
    return code;
}

} // namespace kiagateway::platform
