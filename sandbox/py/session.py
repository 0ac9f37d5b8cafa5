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
START_TIMEOUT_S = 10.0
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
    sock.send(b'{"ready": true}')  # set-up done; from now on snippets run here and every reply is untrusted
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
    # The only moment a harness failure can be reported: before any snippet ran in the interpreter.
    ready = select.select([parent_sock], [], [], START_TIMEOUT_S)[0] and read_reply(parent_sock)
    if ready and ready.get('ready') is True:
        return None
    return (ready or {}).get('harnessError') or 'the session interpreter did not start'


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


def await_reply(sock, pidfd, token, deadline):
    """(reason, exit_code, died, forged) of one call, from the interpreter's reply or its exit."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return 'wall_timeout', None, False, False
        ready = select.select([sock, pidfd], [], [], remaining)[0]
        if sock in ready:
            reply = read_reply(sock)
            if reply is None or reply.get('token') != token or not isinstance(reply.get('exit'), int):
                return None, None, True, True  # junk or a reply to another call: the interpreter cannot be trusted
            return None, reply['exit'], False, False
        if pidfd in ready:
            return None, None, True, False


def session_failure(message, note):
    kill_all()
    reap_all({})
    end_session()
    return {'status': 'sandbox_error', 'reason': 'session harness failure', 'exitCode': None, 'signal': None, 'stdout': '',
            'stderr': note + 'sandbox harness failure:\n' + message, 'timeMs': 0, 'reports': []}


def session_run(req):
    limits = req['limits']
    note = ''
    if SESSION['pid'] is None:
        if SESSION['restarted']:
            note = LOST_STATE_NOTE
        failure = start_session(req)
        if failure:
            return session_failure(failure, note)
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
    try:
        socket.send_fds(sock, [json.dumps(cmd).encode()], list(fds))
        reason, exit_code, died, forged = await_reply(sock, pidfd, token, started + limits['timeoutMs'] / 1000.0)
    except OSError:
        reason, exit_code, died, forged = None, None, True, False
    elapsed_ms = (time.monotonic() - started) * 1000.0
    statuses = {}
    if reason or died or not single_threaded(pid) or not kill_all_but(pid, statuses):
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
        signal_name = signal_name_of(code)
        if code >= 0 and exit_code is None:
            exit_code = code
    if reason == 'wall_timeout' or signal_name == 'SIGXCPU':
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
