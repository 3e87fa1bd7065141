// kg_service_control: what the MSI test needs from the Service Control Manager that wine's sc.exe
// lacks (it has no `control`, `qc` or `qfailure`). One line of key=value output per call.
//   kg_service_control NAME query        state=RUNNING win32_exit=0 service_exit=0 pid=42 checkpoint=0 wait_hint=0
//   kg_service_control NAME paramchange  sends SERVICE_CONTROL_PARAMCHANGE (what `sc control NAME paramchange` does)
//   kg_service_control NAME config       start=auto account=... path=...
//   kg_service_control NAME failure      reset=86400 actions=restart/5000,... on_error_exit=1
// Exit code 0 on success; 1 with the Windows error on stderr otherwise.
#include <windows.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

std::string narrow(const wchar_t* text) {
    if (text == nullptr) {
        return {};
    }
    const int size = WideCharToMultiByte(CP_UTF8, 0, text, -1, nullptr, 0, nullptr, nullptr);
    std::string out(static_cast<std::size_t>(size > 0 ? size - 1 : 0), '\0');
    WideCharToMultiByte(CP_UTF8, 0, text, -1, out.data(), size, nullptr, nullptr);
    return out;
}

int fail(const char* what) {
    std::fprintf(stderr, "%s failed: error %lu\n", what, GetLastError());
    return 1;
}

const char* state_name(DWORD state) {
    switch (state) {
    case SERVICE_STOPPED:
        return "STOPPED";
    case SERVICE_START_PENDING:
        return "START_PENDING";
    case SERVICE_STOP_PENDING:
        return "STOP_PENDING";
    case SERVICE_RUNNING:
        return "RUNNING";
    case SERVICE_CONTINUE_PENDING:
        return "CONTINUE_PENDING";
    case SERVICE_PAUSE_PENDING:
        return "PAUSE_PENDING";
    case SERVICE_PAUSED:
        return "PAUSED";
    default:
        return "UNKNOWN";
    }
}

const char* start_name(DWORD start) {
    switch (start) {
    case SERVICE_AUTO_START:
        return "auto";
    case SERVICE_DEMAND_START:
        return "demand";
    case SERVICE_DISABLED:
        return "disabled";
    default:
        return "other";
    }
}

} // namespace

int wmain(int argc, wchar_t** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: kg_service_control NAME query|paramchange|config|failure\n");
        return 2;
    }
    const std::wstring command = argv[2];
    SC_HANDLE manager = OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
    if (manager == nullptr) {
        return fail("OpenSCManager");
    }
    const DWORD access =
        SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG | SERVICE_PAUSE_CONTINUE; // PARAMCHANGE needs PAUSE_CONTINUE
    SC_HANDLE service = OpenServiceW(manager, argv[1], access);
    if (service == nullptr) {
        const int code = fail("OpenService");
        CloseServiceHandle(manager);
        return code;
    }
    int code = 0;
    if (command == L"query") {
        SERVICE_STATUS_PROCESS status{};
        DWORD needed = 0;
        if (!QueryServiceStatusEx(service, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&status), sizeof status,
                                  &needed)) {
            code = fail("QueryServiceStatusEx");
        } else {
            std::printf("state=%s win32_exit=%lu service_exit=%lu pid=%lu checkpoint=%lu wait_hint=%lu\n",
                        state_name(status.dwCurrentState), status.dwWin32ExitCode, status.dwServiceSpecificExitCode,
                        status.dwProcessId, status.dwCheckPoint, status.dwWaitHint);
        }
    } else if (command == L"paramchange") {
        SERVICE_STATUS status{};
        if (!ControlService(service, SERVICE_CONTROL_PARAMCHANGE, &status)) {
            code = fail("ControlService(PARAMCHANGE)");
        } else {
            std::printf("state=%s\n", state_name(status.dwCurrentState));
        }
    } else if (command == L"config") {
        DWORD needed = 0;
        QueryServiceConfigW(service, nullptr, 0, &needed);
        std::vector<BYTE> buffer(needed);
        auto* config = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data());
        if (!QueryServiceConfigW(service, config, needed, &needed)) {
            code = fail("QueryServiceConfig");
        } else {
            std::printf("start=%s account=%s path=%s\n", start_name(config->dwStartType),
                        narrow(config->lpServiceStartName).c_str(), narrow(config->lpBinaryPathName).c_str());
        }
    } else if (command == L"failure") {
        DWORD needed = 0;
        QueryServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, nullptr, 0, &needed);
        std::vector<BYTE> buffer(needed + sizeof(SERVICE_FAILURE_ACTIONSW));
        auto* actions = reinterpret_cast<SERVICE_FAILURE_ACTIONSW*>(buffer.data());
        SERVICE_FAILURE_ACTIONS_FLAG flag{};
        DWORD flag_needed = 0;
        if (!QueryServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, buffer.data(),
                                  static_cast<DWORD>(buffer.size()), &needed)) {
            code = fail("QueryServiceConfig2(FAILURE_ACTIONS)");
        } else {
            std::string list;
            for (DWORD i = 0; i < actions->cActions; ++i) {
                const SC_ACTION& action = actions->lpsaActions[i];
                list += (i > 0 ? "," : "");
                list += action.Type == SC_ACTION_RESTART ? "restart" : action.Type == SC_ACTION_NONE ? "none" : "other";
                list += "/" + std::to_string(action.Delay);
            }
            const bool have_flag = QueryServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
                                                        reinterpret_cast<BYTE*>(&flag), sizeof flag, &flag_needed);
            std::printf("reset=%lu actions=%s on_error_exit=%s\n", actions->dwResetPeriod, list.c_str(),
                        have_flag ? (flag.fFailureActionsOnNonCrashFailures ? "1" : "0") : "unknown");
        }
    } else {
        std::fprintf(stderr, "unknown command\n");
        code = 2;
    }
    CloseServiceHandle(service);
    CloseServiceHandle(manager);
    return code;
}
