# agentrl stateful sandbox session: one persistent interpreter per trajectory (the optional stateful mode of the
# code_interpreter tool). The server forks the interpreter once; every call sends it the code plus fresh memfds for
# stdin/stdout/stderr/result over a SOCK_SEQPACKET socketpair (SCM_RIGHTS), and the interpreter runs the code in
# the same globals as before. Between calls the server kills every other process of the namespace (what the
# snippet spawned) but keeps the interpreter and /tmp. A time-out, crash or CPU-limit kill ends the interpreter;
# the next call starts a fresh one and says so in stderr.
import json
import os
import resource
import select
import signal
import socket
import sys
import time
import traceback

SESSION_CPU_HARD = 24 * 3600
SESSION = {'pid': None, 'pidfd': None, 'sock': None, 'restarted': False}
LOST_STATE_NOTE = '[the interpreter was restarted: variables from earlier calls are gone]\n'


def reap_without_blocking():
    reaped = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped[pid] = status


def session_interpreter(req, sock):
    """The persistent child: one namespace of globals for the whole trajectory."""
    become_snippet_process()
    sock_fd = sock.fileno()
    devnull = os.open('/dev/null', os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)  # never the server's pipes to the host
    os.closerange(3, sock_fd)
    os.closerange(sock_fd + 1, 1 << 16)
    res_fd = random_result_fd(req['limits']['openFiles'])
    while res_fd == sock_fd:
        res_fd = random_result_fd(req['limits']['openFiles'])
    enter_work_dir(None)
    apply_limits(req['limits'], SESSION_CPU_HARD, SESSION_CPU_HARD)
    sys.argv = ['']
    sys.path.insert(0, '')
    env = fresh_module('__main__', '')
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 26, 4)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        cmd = json.loads(msg)
        reap_without_blocking()  # children the previous snippet left unwaited (the server killed them)
        install_descriptors(fds, res_fd, keep=(sock_fd,))
        enter_work_dir(cmd.get('files'))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = min(SESSION_CPU_HARD, int(usage.ru_utime + usage.ru_stime) + int(cmd['cpuSeconds']) + 1)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, SESSION_CPU_HARD))
        bind_stdio()
        code = run_script(cmd['code'], bool(cmd.get('echo')), env)
        flush_stdio()
        sock.send(json.dumps({'exit': code, 'token': cmd.get('token')}).encode())


def start_session(req):
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            parent_sock.close()
            session_interpreter(req, child_sock)
        except BaseException:
            try:
                child_sock.send(json.dumps({'harnessError': traceback.format_exc()[-2000:]}).encode())
            except BaseException:
                pass
        os._exit(125)
    child_sock.close()
    SESSION.update(pid=pid, pidfd=os.pidfd_open(pid), sock=parent_sock)


def end_session():
    if SESSION['sock'] is not None:
        SESSION['sock'].close()
        os.close(SESSION['pidfd'])
    SESSION.update(pid=None, pidfd=None, sock=None, restarted=True)


def is_zombie(pid):
    try:
        with open(f'/proc/{pid}/stat', 'rb') as fh:
            return fh.read().rsplit(b')', 1)[1].split()[0] == b'Z'
    except OSError:
        return True


def kill_all_but(keep, statuses):
    """Kill every process of the namespace except PID 1 and the interpreter; False if that did not converge."""
    for _ in range(50):
        others = [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, keep) and not is_zombie(int(p))]
        if not others:
            return True
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.001)
        statuses.update(reap_without_blocking())
        if keep in statuses:
            return False
    return False


def read_reply(sock):
    try:
        msg = sock.recv(4096)
        reply = json.loads(msg) if msg else None
    except (OSError, ValueError):
        return None
    return reply if isinstance(reply, dict) else None


def single_threaded(pid):
    # A thread left running after the call returned could answer the next call in the interpreter's place.
    try:
        return len(os.listdir(f'/proc/{pid}/task')) == 1
    except OSError:
        return False


def session_run(req):
    limits = req['limits']
    note = ''
    if SESSION['pid'] is None:
        if SESSION['restarted']:
            note = LOST_STATE_NOTE
        start_session(req)
    fds = (
        memfd_with('stdin', (req.get('stdin') or '').encode('utf-8')),
        memfd_with('stdout'),
        memfd_with('stderr'),
        memfd_with('result'),
    )
    pid, sock, pidfd = SESSION['pid'], SESSION['sock'], SESSION['pidfd']
    started = time.monotonic()
    token = os.urandom(12).hex()
    cmd = {'code': req['code'], 'echo': req.get('echo'), 'files': req.get('files'), 'cpuSeconds': limits['cpuSeconds'], 'token': token}
    reason, exit_code, died, harness_error, forged = None, None, False, None, False
    try:
        socket.send_fds(sock, [json.dumps(cmd).encode()], list(fds))
    except OSError:
        died = True
    deadline = started + limits['timeoutMs'] / 1000.0
    while not died:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reason = 'wall_timeout'
            break
        ready = select.select([sock, pidfd], [], [], remaining)[0]
        if sock in ready:
            reply = read_reply(sock)
            if reply is None or ('harnessError' not in reply and reply.get('token') != token):
                died, forged = True, True  # junk or a reply to another call: the interpreter cannot be trusted
            else:
                exit_code = reply.get('exit')
                harness_error = reply.get('harnessError')
            break
        if pidfd in ready:
            died = True
    elapsed_ms = (time.monotonic() - started) * 1000.0
    statuses = {}
    if reason or died or harness_error or not single_threaded(pid) or not kill_all_but(pid, statuses):
        kill_all()
        reap_all(statuses)
        end_session()
    max_output = limits['maxOutputBytes']
    out_size, stdout = read_memfd(fds[1], max_output)
    err_size, stderr = read_memfd(fds[2], max(0, max_output - len(stdout)))
    for fd in fds:
        os.close(fd)
    signal_name = None
    if pid in statuses:
        code = os.waitstatus_to_exitcode(statuses[pid])
        if code < 0:
            try:
                signal_name = signal.Signals(-code).name
            except ValueError:
                signal_name = str(-code)
        elif exit_code is None:
            exit_code = code
    if harness_error:
        kind, reason = 'sandbox_error', 'session harness failure'
        stderr = ('sandbox harness failure:\n' + harness_error).encode()
    elif reason == 'wall_timeout' or signal_name == 'SIGXCPU':
        kind, reason = 'timeout', reason or 'cpu_timeout'
    elif forged:
        kind, reason = 'error', 'control_channel'
    elif died:
        kind, reason = 'error', 'interpreter_died'
    elif out_size + err_size > max_output:
        kind, reason = 'error', 'output_limit'
    else:
        kind = 'finished' if exit_code == 0 else 'error'
    return {
        'status': kind,
        'reason': reason,
        'exitCode': exit_code,
        'signal': signal_name,
        'stdout': decode(stdout),
        'stderr': note + decode(stderr),
        'timeMs': round(elapsed_ms, 3),
        'reports': [],
    }
