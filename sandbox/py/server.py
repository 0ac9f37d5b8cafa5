# agentrl sandbox fork server. Runs as PID 1 of a bubblewrap sandbox (unprivileged uid, no capabilities, no
# network, read-only system paths, private size-limited tmpfs on /tmp and /dev/shm). The Node side talks to it
# over stdin/stdout with length-prefixed JSON frames.
#
# WHY PID 1: processes inside the namespace cannot SIGKILL/SIGSTOP their namespace's init, so hostile code can
# not take the server down with a signal, and kill(-1, SIGKILL) from PID 1 reaches every other process in the
# namespace -- including ones that escaped their process group with setsid -- so no snippet outlives its run.
#
# WHY FORK WITHOUT EXEC: starting python3 costs tens of milliseconds, forking this already-started interpreter
# well under one (docs/BENCHMARKS.md), which is what makes judging 20 tests in < 100 ms possible. Each snippet still
# gets its own fresh process and a clean slate: after every run the server kills every leftover, wipes /tmp and
# /dev/shm, removes SysV IPC objects and clears the keyrings; when it cannot, it answers and exits (retire).
#
# The program (harness.py + leetcode.py + session.py + this file) is passed to the interpreter as an argument
# (python3 -c BOOT SRC CONFIG), so the sandbox needs no view of the repository.
import ctypes
import gc
import json
import os
import select
import signal
import sys
import time
import traceback

WIPE_DIRS = ('/tmp', '/dev/shm')


# ---------------------------------------------------------------------------------------------- framing
def read_exact(fd, n):
    chunks = []
    while n > 0:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b''.join(chunks)


def read_frame():
    header = read_exact(0, 4)
    if header is None:
        return None
    body = read_exact(0, int.from_bytes(header, 'big'))
    if body is None:
        return None
    return json.loads(body)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_frame(obj):
    body = json.dumps(obj, ensure_ascii=False).encode('utf-8', 'surrogatepass')
    write_all(1, len(body).to_bytes(4, 'big') + body)

# ---------------------------------------------------------------------------------------------- cleanup
def kill_all():
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass


def reap_all(statuses):
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        statuses[pid] = status


# Seconds the clean-up after one run may take before the server retires instead (config 'wipeBudgetMs').
WIPE_BUDGET = {'s': 2.0}
STDLIB_PRELOAD = ('typing', 'collections', 'heapq', 'bisect', 'math', 'functools', 'itertools', 're', 'string', 'random')


class Retire(Exception):
    """The server cannot promise a clean slate any more: answer this request, then exit (the pool starts a new one)."""


def wipe_dir(root, deadline):
    # Depth-first with chdir instead of paths or descriptors: nesting deeper than PATH_MAX or than the open-file
    # limit is still reached, with one descriptor and no recursion. Every directory is chmod'ed back first (a
    # snippet may leave 000 trees or a read-only /tmp itself; it runs as the same uid, so the owner can chmod).
    names = []
    os.chmod(root, 0o1777 if root == '/tmp' else 0o777)
    os.chdir(root)
    try:
        while True:
            if time.monotonic() > deadline:
                raise Retire(f'wiping {root} took longer than {WIPE_BUDGET["s"]} s')
            if names:
                os.chmod('.', 0o700)
            descended = False
            with os.scandir('.') as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        os.chmod(entry.name, 0o700)
                        os.chdir(entry.name)
                        names.append(entry.name)
                        descended = True
                        break
                    os.unlink(entry.name)
            if descended:
                continue
            if not names:
                return
            os.chdir('..')
            os.rmdir(names.pop())
    finally:
        os.chdir('/')


IPC_TABLES = (('shm', 'shmctl'), ('sem', 'semctl'), ('msg', 'msgctl'))
IPC_RMID = 0
KEYCTL_CLEAR = 7
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -3, -4, -5


LIBC = ctypes.CDLL(None, use_errno=True)


def remove_ipc_objects():
    """SysV shared memory, semaphores and message queues outlive processes: remove every one (all are ours)."""
    libc = LIBC
    for table, call in IPC_TABLES:
        try:
            with open(f'/proc/sysvipc/{table}') as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            ipc_id = int(row.split()[1])
            args = (ipc_id, 0, IPC_RMID) if call == 'semctl' else (ipc_id, IPC_RMID, None)
            if getattr(libc, call)(*args) != 0:
                raise Retire(f'could not remove SysV {table} object {ipc_id}')


def clear_keyrings():
    libc = LIBC
    for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING, KEY_SPEC_SESSION_KEYRING):
        libc.syscall(SYS_KEYCTL, KEYCTL_CLEAR, ctypes.c_long(ring))


def cleanup_after_run(statuses):
    kill_all()
    reap_all(statuses)
    deadline = time.monotonic() + WIPE_BUDGET['s']
    for path in WIPE_DIRS:
        wipe_dir(path, deadline)
    remove_ipc_objects()
    clear_keyrings()

# ---------------------------------------------------------------------------------------------- supervision
def decode(data):
    return bytes(data).decode('utf-8', 'replace')


def memfd_with(name, data=b''):
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    if data:
        write_all(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def read_memfd(fd, limit):
    size = os.fstat(fd).st_size
    return size, os.pread(fd, min(size, limit), 0) if size else b''


def run_child(req, case, fds, nonce, setup_fd):
    """The forked child: never returns. Set-up failures (before any candidate code runs) go to setup_fd, a pipe the
    child closes before the candidate's code starts, so a snippet can never report a harness failure itself."""
    try:
        child_main(req, case, fds, nonce, setup_fd)
    except BaseException:
        if SETUP_OPEN[0]:
            try:
                os.write(setup_fd, traceback.format_exc()[-2000:].encode())
            except BaseException:
                pass
    os._exit(125)


def wait_for_exit(pid, deadline):
    """Sleep on the child's pidfd until it exits or the deadline passes; 'wall_timeout' or None."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return 'wall_timeout'
            if select.select([pidfd], [], [], remaining)[0]:
                return None
    finally:
        os.close(pidfd)


def nonce_reports(results, nonce):
    reports = []
    for line in results.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get('nonce') == nonce:
            del obj['nonce']
            reports.append(obj)
    return reports


def signal_name_of(exit_code):
    if exit_code >= 0:
        return None
    try:
        return signal.Signals(-exit_code).name
    except ValueError:
        return str(-exit_code)


def run_kind(harness_error, reason, signal_name, exit_code):
    if harness_error:
        return 'sandbox_error', reason
    if reason == 'wall_timeout' or signal_name == 'SIGXCPU':
        return 'timeout', reason or 'cpu_timeout'
    if reason == 'output_limit':
        return 'error', reason
    return ('finished' if exit_code == 0 else 'error'), reason


def run_case(req, case, nonce):
    # stdin, stdout, stderr and the result channel are memfds, not pipes: the server sleeps on the child's pidfd
    # alone and wakes once per run, which matters when every core is busy (each wake-up waits for a time slice).
    # The output cap is enforced by RLIMIT_FSIZE on those files (writes past it fail with EFBIG).
    limits = req['limits']
    fds = (
        memfd_with('stdin', (case.get('stdin') or '').encode('utf-8')),
        memfd_with('stdout'),
        memfd_with('stderr'),
        memfd_with('result'),
    )
    setup_r, setup_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(setup_r)
        run_child(req, case, fds, nonce, setup_w)
    os.close(setup_w)
    reason = wait_for_exit(pid, started + limits['timeoutMs'] / 1000.0)
    elapsed_ms = (time.monotonic() - started) * 1000.0
    statuses = {}
    kill_all()  # leftovers of a finished run, or the run itself on time-out
    try:
        statuses[pid] = os.waitpid(pid, 0)[1]
    except ChildProcessError:
        pass
    max_output = limits['maxOutputBytes']
    out_size, stdout = read_memfd(fds[1], max_output)
    err_size, stderr = read_memfd(fds[2], max(0, max_output - len(stdout)))
    _, results = read_memfd(fds[3], 1 << 26)
    os.set_blocking(setup_r, False)
    try:
        harness_error = os.read(setup_r, 4096).decode('utf-8', 'replace')
    except BlockingIOError:
        harness_error = ''
    for fd in fds + (setup_r,):
        os.close(fd)
    retire = None
    try:
        cleanup_after_run(statuses)
    except Exception as exc:  # noqa: BLE001 - any failed wipe means the next snippet would not start clean
        retire = f'{type(exc).__name__}: {exc}'[:300]
    if reason is None and out_size + err_size > max_output:
        reason = 'output_limit'
    exit_code = os.waitstatus_to_exitcode(statuses.get(pid, 0))
    signal_name = signal_name_of(exit_code)
    kind, reason = run_kind(harness_error, reason, signal_name, exit_code)
    return {
        'status': kind,
        'reason': reason,
        'exitCode': exit_code if exit_code >= 0 else None,
        'signal': signal_name,
        'stdout': decode(stdout),
        'stderr': decode(stderr) if not harness_error else 'sandbox harness failure:\n' + harness_error,
        'timeMs': round(elapsed_ms, 3),
        'reports': nonce_reports(results, nonce),
    }, retire


def handle(req):
    if req.get('mode') == 'session':
        return {'results': [session_run(req)]}
    results = []
    nonce = os.urandom(12).hex()
    for case in req.get('cases') or [{}]:
        result, retire = run_case(req, case, nonce)
        results.append(result)
        if retire:
            # The rest of the request is answered by the next (fresh) server: Node re-sends the missing cases.
            return {'results': results, 'retire': retire}
        if req.get('stopOnFailure') and result['status'] != 'finished':
            break
    return {'results': results}


def main():
    config = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    WIPE_BUDGET['s'] = config.get('wipeBudgetMs', 2000) / 1000.0
    set_dumpable(0)
    # PID 1 of a pid namespace receives a signal from inside only if it has a handler. Python installs one for
    # SIGINT (KeyboardInterrupt): back to the default, so that every signal a snippet sends the server is dropped.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # SIGCHLD is left at default: exits are observed through pidfds, which select() can wait on.
    # Modules every LeetCode prompt imports: loaded once here, shared copy-on-write with every fork, instead of
    # once per test process.
    for name in STDLIB_PRELOAD:
        __import__(name)
    preloaded, failed = [], []
    for name in config.get('preload', []):
        try:
            __import__(name)
            preloaded.append(name)
        except Exception as exc:
            failed.append(f'{name}: {exc}')
    gc.collect()
    gc.freeze()  # keep the preloaded heap shared copy-on-write with every forked child
    write_frame({'ready': True, 'pid': os.getpid(), 'preloaded': preloaded, 'preloadFailed': failed})
    while True:
        req = read_frame()
        if req is None:
            return
        try:
            resp = handle(req)
        except Exception:
            resp = {'error': traceback.format_exc()[-4000:]}
            try:
                cleanup_after_run({})
            except Exception as exc:  # noqa: BLE001
                resp['retire'] = f'{type(exc).__name__}: {exc}'[:300]
        write_frame(resp)
        if resp.get('retire'):
            return


main()
