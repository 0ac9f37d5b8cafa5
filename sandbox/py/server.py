# agentrl sandbox fork server. Runs as PID 1 of a bubblewrap sandbox (unprivileged uid, no capabilities, no
# network, read-only system paths, private size-limited tmpfs on /tmp and /dev/shm). The Node side talks to it
# over stdin/stdout with length-prefixed JSON frames.
#
# WHY PID 1: processes inside the namespace cannot SIGKILL/SIGSTOP their namespace's init, so hostile code can
# not take the server down with a signal, and kill(-1, SIGKILL) from PID 1 reaches every other process in the
# namespace -- including ones that escaped their process group with setsid -- so no snippet outlives its run.
#
# WHY FORK WITHOUT EXEC: a fresh python3 costs ~17 ms; forking this already-started interpreter costs well under
# a millisecond, which is what makes judging 20 tests in < 100 ms possible. Each snippet still gets its own fresh
# process and an empty /tmp: the server wipes /tmp and /dev/shm and kills every leftover after every run.
#
# This file is passed to the interpreter as an argument (python3 -c BOOT SRC CONFIG), so the sandbox needs no
# view of the repository. Frames compiled from here carry the filename below, which lets tracebacks hide them.
import ast
import builtins
import ctypes
import gc
import json
import linecache
import os
import random
import resource
import select
import shutil
import signal
import sys
import time
import traceback
import types

HARNESS_FILE = '<agentrl-sandbox>'
USER_FILE = '<string>'
WORK_DIR = '/tmp/work'
WIPE_DIRS = ('/tmp', '/dev/shm')
PR_SET_DUMPABLE = 4


def set_dumpable(flag):
    # Non-dumpable processes cannot be ptraced or have /proc/<pid>/fd and /mem opened by other processes of the
    # same uid: snippets must not reach the server's pipes to the host.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, flag, 0, 0, 0)
    except Exception:
        pass


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


def wipe_dir(path):
    def fix_and_retry(func, target, _exc):
        # A snippet may chmod its own files to 000; the owner (same uid) can always chmod them back.
        os.chmod(os.path.dirname(target), 0o700)
        if os.path.isdir(target) and not os.path.islink(target):
            os.chmod(target, 0o700)
        func(target)

    for name in os.listdir(path):
        target = os.path.join(path, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target, onerror=fix_and_retry)
        else:
            os.unlink(target)


def cleanup_after_run(statuses):
    kill_all()
    reap_all(statuses)
    for path in WIPE_DIRS:
        wipe_dir(path)


# ---------------------------------------------------------------------------------------------- in the child
def user_traceback(exc):
    """The traceback Python would print for user code, without the harness frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == HARNESS_FILE:
        tb = tb.tb_next
    return ''.join(traceback.format_exception(type(exc), exc, tb))


def exit_code_of(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + '\n')
    except Exception:
        pass
    return 1


def fresh_module(name, source):
    module = types.ModuleType(name)
    module.__dict__['__builtins__'] = builtins
    sys.modules[name] = module
    linecache.cache[USER_FILE] = (len(source), None, source.splitlines(True), USER_FILE)
    return module.__dict__


def run_user(fn):
    """Run fn() like the interpreter runs a script: tracebacks to stderr, SystemExit honoured."""
    try:
        fn()
        return 0
    except SystemExit as exc:
        return exit_code_of(exc)
    except BaseException as exc:
        try:
            sys.stderr.write(user_traceback(exc))
        except Exception:
            pass
        return 1


def run_script(code, echo):
    env = fresh_module('__main__', code)

    def body():
        tree = compile(code, USER_FILE, 'exec', ast.PyCF_ONLY_AST)
        last = None
        # REPL-like echo by parsing, never by rewriting source text: only a final expression statement echoes.
        if echo and tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, USER_FILE, 'exec'), env)
        if last is not None:
            value = eval(compile(last, USER_FILE, 'eval'), env)
            if value is not None:
                print(repr(value))

    return run_user(body)


def jsonable(value):
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, float) and (value != value or value in (float('inf'), float('-inf'))):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def run_call(code, fn_name, args, report):
    env = fresh_module('solution', code)

    def body():
        exec(compile(code, USER_FILE, 'exec'), env)
        target = None
        klass = env.get('Solution')
        if isinstance(klass, type) and hasattr(klass, fn_name):
            target = getattr(klass(), fn_name)
        elif callable(env.get(fn_name)):
            target = env[fn_name]
        if target is None:
            raise NameError(f'function {fn_name!r} not found (neither a top-level function nor a Solution method)')
        value = target(*args)
        report({'value': jsonable(value)})

    return run_user(body)


class CaseTimeout(BaseException):
    pass


def split_check(test_src):
    """Wrap each top-level assert of check() so every assert is reported as its own test case."""
    tree = ast.parse(test_src)
    check = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == 'check':
            check = node
    if check is None:
        raise NameError('the test source defines no check(candidate) function')
    nested = any(isinstance(n, ast.Assert) for stmt in check.body if not isinstance(stmt, ast.Assert) for n in ast.walk(stmt))
    asserts = [stmt for stmt in check.body if isinstance(stmt, ast.Assert)]
    if nested or not asserts:
        return tree, 1, False  # asserts inside loops/ifs: the whole check() is one test case
    template = (
        'try:\n'
        '    __agentrl_begin(0)\n'
        '    pass\n'
        '    __agentrl_end(0, None)\n'
        'except BaseException as __agentrl_exc:\n'
        '    __agentrl_end(0, __agentrl_exc)\n'
    )
    new_body = []
    index = 0
    for stmt in check.body:
        if isinstance(stmt, ast.Assert):
            wrapper = ast.parse(template).body[0]
            wrapper.body[0].value.args[0].value = index
            wrapper.body[1] = stmt
            wrapper.body[2].value.args[0].value = index
            wrapper.handlers[0].body[0].value.args[0].value = index
            new_body.append(ast.copy_location(wrapper, stmt))
            index += 1
        else:
            new_body.append(stmt)
    check.body = new_body
    ast.fix_missing_locations(tree)
    return tree, index, True


def run_leetcode(prompt, solution, test_src, entry_point, case_timeout_s, report):
    source = prompt + '\n' + solution + '\n'
    env = fresh_module('solution', source)
    state = {'current': None}

    def on_alarm(_signum, _frame):
        raise CaseTimeout()

    def begin(i):
        state['current'] = i
        signal.setitimer(signal.ITIMER_REAL, case_timeout_s)

    def end(i, exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        state['current'] = None
        if exc is None:
            report({'case': i, 'status': 'passed'})
        elif isinstance(exc, CaseTimeout):
            report({'case': i, 'status': 'timeout'})
        else:
            report({'case': i, 'status': 'failed', 'error': ''.join(traceback.format_exception_only(type(exc), exc)).strip()[:500]})

    # The test source is trusted: split it before any solution code runs, so the case count is known even when
    # the solution crashes at import.
    tree, count, per_assert = split_check(test_src)
    report({'cases': count})

    def body():
        exec(compile(source, USER_FILE, 'exec'), env)
        env['__agentrl_begin'] = begin
        env['__agentrl_end'] = end
        exec(compile(tree, '<test>', 'exec'), env)
        candidate = eval(entry_point, env)
        signal.signal(signal.SIGALRM, on_alarm)
        if per_assert:
            env['check'](candidate)
        else:
            begin(0)
            try:
                env['check'](candidate)
                end(0, None)
            except BaseException as exc:  # noqa: BLE001 - the verdict of the single case
                end(0, exc)

    return run_user(body)


def run_parse(code, report):
    try:
        ast.parse(code)
        report({'parsed': True})
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        report({'parsed': False, 'error': ''.join(traceback.format_exception_only(type(exc), exc)).strip()[:500]})
    return 0


def child_main(req, case, fds, nonce):
    r_in, w_out, w_err, w_res = fds
    limits = req['limits']
    os.setsid()
    set_dumpable(1)
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # The result channel sits on an unpredictable descriptor so snippets cannot trivially forge verdicts.
    res_fd = random.SystemRandom().randrange(100, 900)
    os.dup2(r_in, 0)
    os.dup2(w_out, 1)
    os.dup2(w_err, 2)
    os.dup2(w_res, res_fd)
    os.closerange(3, res_fd)
    os.closerange(res_fd + 1, 1 << 16)

    os.mkdir(WORK_DIR, 0o700)
    os.chdir(WORK_DIR)
    for rel, b64 in (req.get('files') or {}).items():
        import base64
        path = os.path.normpath(os.path.join(WORK_DIR, rel))
        if not path.startswith(WORK_DIR + '/'):
            raise ValueError(f'file path escapes the work directory: {rel!r}')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as fh:
            fh.write(base64.b64decode(b64))

    cpu = max(1, int(limits['cpuSeconds']))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits['memoryBytes'], limits['memoryBytes']))
    # stdout/stderr are files too: the cap must let them pass the output limit by one byte to detect overflow.
    fsize = max(limits['fileSizeBytes'], limits['maxOutputBytes'] + 1)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits['processes'], limits['processes']))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits['openFiles'], limits['openFiles']))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    sys.stdin = sys.__stdin__ = open(0, 'r', encoding='utf-8', errors='replace', closefd=False)
    sys.stdout = sys.__stdout__ = open(1, 'w', encoding='utf-8', errors='backslashreplace', closefd=False)
    sys.stderr = sys.__stderr__ = open(2, 'w', encoding='utf-8', errors='backslashreplace', closefd=False, buffering=1)
    sys.argv = ['']
    sys.path.insert(0, '')

    def report(obj):
        obj['nonce'] = nonce
        data = (json.dumps(obj) + '\n').encode()
        view = memoryview(data)
        while view:
            view = view[os.write(res_fd, view):]

    mode = req['mode']
    if mode == 'script':
        code = run_script(req['code'], bool(req.get('echo')))
    elif mode == 'call':
        code = run_call(req['code'], req['fnName'], case['args'], report)
    elif mode == 'leetcode':
        code = run_leetcode(req['prompt'], req['code'], req['test'], req['entryPoint'], req['caseTimeoutMs'] / 1000.0, report)
    elif mode == 'parse':
        code = run_parse(req['code'], report)
    else:
        raise ValueError(f'unknown mode {mode!r}')
    # Finish like the interpreter does: wait for non-daemon threads, run atexit handlers, flush.
    try:
        if 'threading' in sys.modules:
            sys.modules['threading']._shutdown()
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)


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
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            child_main(req, case, fds, nonce)
        except BaseException:
            try:
                os.write(fds[3], (json.dumps({'nonce': nonce, 'harnessError': traceback.format_exc()[-2000:]}) + '\n').encode())
            except BaseException:
                pass
        os._exit(125)
    pidfd = os.pidfd_open(pid)
    deadline = started + limits['timeoutMs'] / 1000.0
    reason = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reason = 'wall_timeout'
            break
        if select.select([pidfd], [], [], remaining)[0]:
            break
    elapsed_ms = (time.monotonic() - started) * 1000.0
    statuses = {}
    kill_all()  # leftovers of a finished run, or the run itself on time-out
    try:
        _, status = os.waitpid(pid, 0)
        statuses[pid] = status
    except ChildProcessError:
        pass
    max_output = limits['maxOutputBytes']
    out_size, stdout = read_memfd(fds[1], max_output)
    err_size, stderr = read_memfd(fds[2], max(0, max_output - len(stdout)))
    _, results = read_memfd(fds[3], 1 << 26)
    for fd in fds + (pidfd,):
        os.close(fd)
    cleanup_after_run(statuses)
    if reason is None and out_size + err_size > max_output:
        reason = 'output_limit'
    status = statuses.get(pid, 0)
    exit_code = os.waitstatus_to_exitcode(status)
    reports = []
    harness_error = None
    for line in results.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if not isinstance(obj, dict) or obj.get('nonce') != nonce:
            continue
        del obj['nonce']
        if 'harnessError' in obj:
            harness_error = obj['harnessError']
        else:
            reports.append(obj)
    signal_name = None
    if exit_code < 0:
        try:
            signal_name = signal.Signals(-exit_code).name
        except ValueError:
            signal_name = str(-exit_code)
    if harness_error is not None:
        kind = 'sandbox_error'
    elif reason == 'wall_timeout' or signal_name == 'SIGXCPU':
        kind = 'timeout'
        reason = reason or 'cpu_timeout'
    elif reason == 'output_limit':
        kind = 'error'
    elif exit_code == 0:
        kind = 'finished'
    else:
        kind = 'error'
    return {
        'status': kind,
        'reason': reason,
        'exitCode': exit_code if exit_code >= 0 else None,
        'signal': signal_name,
        'stdout': decode(stdout),
        'stderr': decode(stderr) if harness_error is None else 'sandbox harness failure:\n' + harness_error,
        'timeMs': round(elapsed_ms, 3),
        'reports': reports,
    }


def handle(req):
    results = []
    nonce = os.urandom(12).hex()
    for case in req.get('cases') or [{}]:
        result = run_case(req, case, nonce)
        results.append(result)
        if req.get('stopOnFailure') and result['status'] != 'finished':
            break
    return {'results': results}


def main():
    config = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    set_dumpable(0)
    # SIGCHLD is left at default: exits are observed through pidfds, which select() can wait on.
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
            except Exception:
                write_frame(resp)
                raise
        write_frame(resp)


main()
