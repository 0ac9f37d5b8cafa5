# agentrl sandbox harness: the code that runs inside each forked child before (and around) the user's code:
# process set-up (session, descriptors, work directory, rlimits, stdio) and the candidate-side run modes -- a script
# with optional REPL-like echo, a TACO call-based call, the calls of one LeetCode assert, and an ast parse check.
# Results leave as plain data (plain() / typed()); the judge-side LeetCode steps are in leetcode.py.
# Node concatenates sandbox/py/harness.py, leetcode.py, session.py and server.py into one program (see sandbox/local.ts) that
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


class Unsupported(Exception):
    """A value that is not plain builtin data: it never crosses the process boundary."""


def plain(value, depth=0):
    # Results cross to the judge as plain data only: exact builtin types (subclasses and user-defined types are
    # refused), so nothing the candidate defines is ever called by the judge. Tuples and lists are both JSON
    # arrays here because TACO's expected values are JSON (see typed() for the exact Python types).
    if depth > 200:
        raise Unsupported('nesting deeper than 200')
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if value == value and value not in (float('inf'), float('-inf')) else {'$float': repr(value)}
    if kind in (list, tuple):
        return [plain(v, depth + 1) for v in value]
    if kind in (set, frozenset):
        return sorted((plain(v, depth + 1) for v in value), key=repr)
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) not in (str, int, bool, float) and k is not None:
                raise Unsupported(f'dict key of type {type(k).__name__}')
            out[str(k)] = plain(v, depth + 1)
        return out
    raise Unsupported(f'a value of type {kind.__name__} is not plain builtin data')


def plain_report(value):
    try:
        return {'value': plain(value)}
    except (Unsupported, RecursionError) as exc:
        return {'unsupported': str(exc)[:200]}


def typed(value, depth=0):
    """Exact Python value as tagged JSON: [tag, payload]. Linked lists and trees of the LeetCode helper classes
    travel as their values in order, so the judge can rebuild them with its own (trusted) classes."""
    if depth > 200:
        raise Unsupported('nesting deeper than 200')
    kind = type(value)
    if value is None:
        return ['N', None]
    if kind is bool:
        return ['b', value]
    if kind is int:
        return ['i', str(value)]
    if kind is float:
        return ['f', repr(value)]
    if kind is str:
        return ['s', value]
    tags = {list: 'l', tuple: 't', set: 'S', frozenset: 'F'}
    if kind in tags:
        return [tags[kind], [typed(v, depth + 1) for v in value]]
    if kind is dict:
        return ['d', [[typed(k, depth + 1), typed(v, depth + 1)] for k, v in value.items()]]
    if kind.__name__ == 'ListNode':
        return ['L', linked_values(value, depth)]
    if kind.__name__ == 'TreeNode':
        return ['T', tree_values(value, depth)]
    raise Unsupported(f'a value of type {kind.__name__} is not plain builtin data')


NODE_LIMIT = 1_000_000


def node_field(node, name):
    # Runs in the candidate's process, like everything here: whatever a crafted class does, only data comes out.
    return getattr(node, name, None)


def linked_values(node, depth):
    values, seen = [], set()
    while node is not None:
        if type(node).__name__ != 'ListNode' or id(node) in seen or len(values) > NODE_LIMIT:
            raise Unsupported('not a finite linked list of ListNode')
        seen.add(id(node))
        values.append(typed(node_field(node, 'val'), depth + 1))
        node = node_field(node, 'next')
    return values


def tree_values(root, depth):
    values, queue, seen = [], [root], set()
    while queue:
        node = queue.pop(0)
        if node is None:
            values.append(None)
            continue
        if type(node).__name__ != 'TreeNode' or id(node) in seen or len(seen) > NODE_LIMIT:
            raise Unsupported('not a finite tree of TreeNode')
        seen.add(id(node))
        values.append(typed(node_field(node, 'val'), depth + 1))
        queue.extend((node_field(node, 'left'), node_field(node, 'right')))
    while values and values[-1] is None:
        values.pop()
    return values


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
        report(plain_report(target(*args)))

    return run_user(body)


def run_leetcode_call(prompt, setup, solution, entry_point, calls, report):
    """One LeetCode test case in the candidate's process: only the calls of one assert, results as typed data.
    The assert itself (and its expected value) is evaluated by the judge in another process."""
    source = prompt + '\n' + solution + '\n'
    env = fresh_module('solution', source)

    def body():
        exec(compile(source, USER_FILE, 'exec'), env)
        exec(compile(setup, '<test>', 'exec'), env)
        env['candidate'] = eval(entry_point, env)
        for index, call in enumerate(calls):
            value = eval(compile(call, '<test>', 'eval'), env)
            try:
                report({'call': index, 'value': typed(value)})
            except (Unsupported, RecursionError) as exc:
                report({'call': index, 'unsupported': str(exc)[:200]})

    return run_user(body)


def run_parse(code, report):
    try:
        ast.parse(code)
        report({'parsed': True})
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        report({'parsed': False, 'error': ''.join(traceback.format_exception_only(type(exc), exc)).strip()[:500]})
    return 0


KEYCTL_JOIN_SESSION_KEYRING = 1
SYS_KEYCTL = 250  # x86_64


def become_snippet_process():
    os.setsid()
    # A fresh anonymous session keyring: keys a snippet adds there die with it (the server clears the user
    # keyrings after every run).
    try:
        ctypes.CDLL(None, use_errno=True).syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)
    except Exception:
        pass
    # Where the machine bounds the whole sandbox with a memory cgroup, the kernel's OOM killer must pick snippets,
    # never the server (raising one's own score needs no privilege).
    try:
        with open('/proc/self/oom_score_adj', 'w') as fh:
            fh.write('1000')
    except OSError:
        pass
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
    # POSIX message queues cannot be listed or wiped without an mqueue mount: a zero budget forbids creating one.
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))


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
    elif mode == 'leetcode_call':
        code = run_leetcode_call(req['prompt'], req['setup'], req['code'], req['entryPoint'], case['calls'], report)
    elif mode == 'leetcode_plan':
        code = leetcode_plan(req['test'], report)
    elif mode == 'leetcode_judge':
        code = leetcode_judge(req['prompt'], req['setup'], req['checks'], req['results'], report)
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
