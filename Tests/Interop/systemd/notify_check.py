#!/usr/bin/python3
"""Plays systemd's side of Type=notify for `agora serve`: binds a NOTIFY_SOCKET, starts the
command with WATCHDOG_USEC set, and checks READY=1, then WATCHDOG=1 keep-alives, then
STOPPING=1 after SIGTERM. Prints the time from exec to READY. Exit 0 when all arrived.

usage: notify_check.py WATCHDOG_USEC -- COMMAND...   (extra environment from the caller)
"""
import os, signal, socket, subprocess, sys, tempfile, time

def main():
    watchdog_usec = int(sys.argv[1])
    command = sys.argv[sys.argv.index('--') + 1:]
    directory = tempfile.mkdtemp(prefix='agora-notify-')
    path = os.path.join(directory, 'notify.sock')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(watchdog_usec))
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    env['WATCHDOG_PID'] = str(proc.pid)
    messages, ready_at, stopping = [], None, False
    deadline = started + 20
    try:
        while time.monotonic() < deadline:
            try:
                data = sock.recv(4096).decode()
            except socket.timeout:
                if proc.poll() is not None:
                    break
                continue
            now = time.monotonic()
            for line in data.split('\n'):
                messages.append((now - started, line))
                if line == 'READY=1' and ready_at is None:
                    ready_at = now - started
                if line == 'STOPPING=1':
                    stopping = True
            watchdogs = [t for t, m in messages if m == 'WATCHDOG=1']
            if ready_at is not None and len(watchdogs) >= 3 and proc.poll() is None and not stopping:
                proc.send_signal(signal.SIGTERM)
            if stopping:
                break
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
        os.unlink(path)
        os.rmdir(directory)
    watchdogs = [t for t, m in messages if m == 'WATCHDOG=1']
    print('ready_ms=%s watchdogs=%d stopping=%s exit=%s' % (
        '%.0f' % (ready_at * 1000) if ready_at is not None else 'none', len(watchdogs), stopping, proc.returncode))
    ok = ready_at is not None and len(watchdogs) >= 3 and stopping and proc.returncode == 0
    if not ok:
        sys.stderr.write('notify: FAIL: %s\n' % messages)
    sys.exit(0 if ok else 1)

main()
