"""CPU time and memory of process trees and of the whole machine, from /proc (Linux only)."""
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """Fields 3.. of /proc/PID/stat (the command name, which may hold spaces, is skipped)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def _children():
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = _stat_fields(entry)
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def tree(roots):
    """The given pids and all their descendants (nginx master + worker, sniproxy + its binder)."""
    children = _children()
    seen, stack = [], [int(p) for p in roots]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.append(pid)
            stack.extend(children.get(pid, []))
    return seen


def cpu_seconds(pids):
    """utime + stime of each process: all its threads (fields 14 and 15 of /proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


def cpu_seconds_precise(pids):
    """The same CPU time to the nanosecond: the sum of every thread's run time from
    /proc/PID/task/TID/schedstat (the scheduler's sum_exec_runtime, which utime + stime are cut from
    in ticks of 10 ms). A thread that exits takes its time along, so callers cross-check with
    cpu_seconds(). None where schedstat is missing."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except FileNotFoundError:
                if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                    continue  # the thread has just exited
                return None
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e9


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def kernel_net_threads():
    """ksoftirqd/N: under load they run the loopback network stack's softirqs for everybody."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().startswith("ksoftirqd/"):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def machine():
    """Per-CPU counters of /proc/stat: {'cpu': [user, nice, system, idle, iowait, irq, softirq, steal, ...]}."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu"):
                parts = line.split()
                out[parts[0]] = [int(x) for x in parts[1:]]
    return out


def machine_delta(before, after, cpu="cpu"):
    """Seconds spent, between two machine() snapshots, in: busy (user+nice+system+irq+softirq), irq
    (irq+softirq alone), steal, and total (all columns but guest, which user already counts).

    With tick-based accounting (no CONFIG_IRQ_TIME_ACCOUNTING) a tick that lands in a softirq is put in
    the softirq column, while the interrupted process is still charged for that time: the loopback
    network stack runs in softirqs, so busy has to include them to compare with processes' times."""
    d = [b - a for a, b in zip(before[cpu], after[cpu])]
    d += [0] * (8 - len(d))
    irq = d[5] + d[6]
    busy = d[0] + d[1] + d[2] + irq
    steal = d[7]
    total = sum(d[:8])
    return {k: v / CLK_TCK for k, v in (("busy", busy), ("irq", irq), ("steal", steal), ("total", total))}


def pss_kib(pids):
    """Proportional set size: pages shared between processes (nginx's master and worker after fork)
    counted once in total instead of once per process as VmRSS does."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def all_processes():
    """{(pid, start time): utime+stime+cutime+cstime} in seconds for every process and kernel thread.
    The children columns catch processes that start and end between two snapshots (a compiler run by
    make): a parent is charged for a child's whole CPU time when it reaps it."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                f = _stat_fields(entry)
            except OSError:
                continue
            out[(int(entry), f[19])] = sum(int(x) for x in f[11:15]) / CLK_TCK
    return out


def others_cpu_seconds(before, after, ours):
    """CPU used between two all_processes() snapshots by the processes not in ours (pids). A process
    that exited in between is subtracted with its earlier total: its parent's children columns now
    hold its whole life, so what remains is the part spent in between."""
    return sum(v for (pid, _), v in after.items() if pid not in ours) - \
        sum(v for (pid, _), v in before.items() if pid not in ours)
