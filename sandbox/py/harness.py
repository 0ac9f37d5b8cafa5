# agentrl sandbox harness: the code that runs inside each forked child before (and around) the user's code:
# process set-up (session, descriptors, work directory, rlimits, stdio) and the run modes -- a script with optional
# REPL-like echo, a TACO call-based call, a LeetCode check() with one case per assert, and an ast parse check.
# Node concatenates sandbox/py/harness.py, session.py and server.py into one program (see sandbox/local.ts) that
# the interpreter compiles under the file name '<agentrl-sandbox>', which lets tracebacks hide harness frames.
import ast
import builtins
import ctypes
import json
import linecache
import os
import random
import resource
import signal
import sys
import traceback
import types

HARNESS_FILE = '<agentrl-sandbox>'
USER_FILE = '<string>'
WORK_DIR = '/tmp/work'
PR_SET_DUMPABLE = 4

def set_dumpable(flag):
    # Non-dumpable processes cannot be ptraced or have /proc/<pid>/fd and /mem opened by other processes of the
    # same uid: snippets must not reach the server's pipes to the host.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, flag, 0, 0, 0)
    except Exception:
        pass

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


def run_script(code, echo, env=None):
    if env is None:
        env = fresh_module('__main__', code)
    else:
        linecache.cache[USER_FILE] = (len(code), None, code.splitlines(True), USER_FILE)

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


def become_snippet_process():
    os.setsid()
    set_dumpable(1)
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def install_descriptors(fds, res_fd, keep=()):
    """stdin, stdout, stderr and the result channel onto 0, 1, 2, res_fd; every other descriptor closed."""
    r_in, w_out, w_err, w_res = fds
    os.dup2(r_in, 0)
    os.dup2(w_out, 1)
    os.dup2(w_err, 2)
    os.dup2(w_res, res_fd)
    open_fds = sorted({0, 1, 2, res_fd, *keep})
    for low, high in zip(open_fds, open_fds[1:] + [1 << 16]):
        os.closerange(low + 1, high)


def enter_work_dir(files):
    os.makedirs(WORK_DIR, 0o700, exist_ok=True)
    os.chdir(WORK_DIR)
    for rel, b64 in (files or {}).items():
        import base64
        path = os.path.normpath(os.path.join(WORK_DIR, rel))
        if not path.startswith(WORK_DIR + '/'):
            raise ValueError(f'file path escapes the work directory: {rel!r}')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as fh:
            fh.write(base64.b64decode(b64))


def apply_limits(limits, cpu_soft, cpu_hard):
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft, cpu_hard))
    resource.setrlimit(resource.RLIMIT_AS, (limits['memoryBytes'], limits['memoryBytes']))
    # stdout/stderr are files too: the cap must let them pass the output limit by one byte to detect overflow.
    fsize = max(limits['fileSizeBytes'], limits['maxOutputBytes'] + 1)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits['processes'], limits['processes']))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits['openFiles'], limits['openFiles']))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def bind_stdio():
    sys.stdin = sys.__stdin__ = open(0, 'r', encoding='utf-8', errors='replace', closefd=False)
    sys.stdout = sys.__stdout__ = open(1, 'w', encoding='utf-8', errors='backslashreplace', closefd=False)
    sys.stderr = sys.__stderr__ = open(2, 'w', encoding='utf-8', errors='backslashreplace', closefd=False, buffering=1)


def flush_stdio():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def reporter(res_fd, nonce):
    def report(obj):
        obj['nonce'] = nonce
        data = (json.dumps(obj) + '\n').encode()
        view = memoryview(data)
        while view:
            view = view[os.write(res_fd, view):]
    return report


def random_result_fd(open_files_limit):
    # The result channel sits on an unpredictable descriptor so snippets cannot trivially forge verdicts. It must
    # stay below RLIMIT_NOFILE: dup2 onto a higher number fails once the limit is in force (stateful sessions).
    return random.SystemRandom().randrange(max(8, open_files_limit // 4), max(9, open_files_limit - 1))


def child_main(req, case, fds, nonce):
    limits = req['limits']
    become_snippet_process()
    res_fd = random_result_fd(limits['openFiles'])
    install_descriptors(fds, res_fd)
    enter_work_dir(req.get('files'))
    cpu = max(1, int(limits['cpuSeconds']))
    apply_limits(limits, cpu, cpu + 1)
    bind_stdio()
    sys.argv = ['']
    sys.path.insert(0, '')
    report = reporter(res_fd, nonce)

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
    flush_stdio()
    os._exit(code)
