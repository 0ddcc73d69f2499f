#!/usr/bin/env python3
"""diemcau-ctl against a real daemon (issue 13): each command's output and exit code; a bad
key, an unknown meeting, an unreachable bridge, bad usage, refused values; the online backup;
and a kill -9 of the daemon between writes loses nothing it had answered. TAP on stdout.

Usage: test_ctl.py BRIDGE CTL WITHOUT_IPV6 (a program that runs another as on a machine without
IPv6: tests/integration/without_ipv6.c)
"""
import json
import os
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BRIDGE, CTL, WITHOUT_IPV6 = sys.argv[1], sys.argv[2], sys.argv[3]
results = []


def check(ok, name, detail=''):
    results.append(ok)
    detail = ' | '.join(l.strip() for l in str(detail).strip().splitlines())  # one TAP line each
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}{' # ' + detail if detail else ''}", flush=True)
    if not ok:  # meson shows a failed test's stderr: what it measured
        print(f'FAILED: {name}: {detail}', file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def low_descriptor_limit():
    """As a service gets by default: a soft limit of 1024 open descriptors (or less), the hard
    one high."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))


def descriptor_limits(pid):
    """(soft, hard) open descriptors of a process, as /proc says; 'unlimited' as -1."""
    with open(f'/proc/{pid}/limits') as f:
        for line in f:
            if line.startswith('Max open files'):
                soft, hard = line.split()[3:5]
                return tuple(-1 if v == 'unlimited' else int(v) for v in (soft, hard))
    return None


def thread_policy(pid, name):
    """A thread's scheduling policy by its name (0 ordinary, 1 SCHED_FIFO), or None."""
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/comm') as f:
                if f.read().strip() != name:
                    continue
            with open(f'/proc/{pid}/task/{tid}/stat') as f:
                return int(f.read().rsplit(')', 1)[1].split()[38])  # field 41, policy
        except OSError:
            continue
    return None


def said(data, words, within=0):
    """The daemon's log lines with these words, waiting up to `within` seconds for one (a line
    another thread writes may come after the daemon answers)."""
    deadline = time.time() + within
    while True:
        with open(os.path.join(data, 'bridge.err')) as f:
            lines = [line.strip() for line in f if words in line]
        if lines or time.time() >= deadline:
            return lines
        time.sleep(0.1)


def start_bridge(data, port, listen=('--listen', '127.0.0.1'), prefix=(), extra=()):
    """The daemon on loopback (listen=(): on every address, its default), started through
    prefix (a command that runs it), with extra flags; returns (process, first-start key or
    None)."""
    err = open(os.path.join(data, 'bridge.err'), 'a')
    out_path = os.path.join(data, 'bridge.out')
    out = open(out_path, 'w')
    proc = subprocess.Popen([*prefix, BRIDGE, '--data-dir', data, '--plain-http', *listen,
                             '--port', str(port), '--ice-address', '127.0.0.1', *extra, '--log-level', 'debug'],
                            stdout=out, stderr=err, preexec_fn=low_descriptor_limit)
    key = None
    deadline = time.time() + 20
    while time.time() < deadline:  # listening once /metrics answers
        try:
            urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    with open(out_path) as f:
        m = re.search(r'keep it\): (\S+)', f.read())
        key = m.group(1) if m else None
    return proc, key


def ctl(*args, key=None, url=None, env_extra=None):
    env = dict(os.environ, LANG='C', DIEMCAU_URL=url or URL, DIEMCAU_KEY=key or KEY)
    env.pop('DIEMCAU_CONFIG', None)
    env['HOME'] = HOME  # no operator's own ctl.conf
    if env_extra:
        env.update(env_extra)
    p = subprocess.run([CTL, *args], capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


tmp = tempfile.mkdtemp(prefix='diemcau-ctl-')
HOME = os.path.join(tmp, 'home')
os.makedirs(HOME)
data = os.path.join(tmp, 'data')
os.makedirs(data)
port = free_port()
URL = f'http://127.0.0.1:{port}'
bridge, KEY = start_bridge(data, port)
try:
    check(KEY is not None, 'the daemon prints its first operator key once', 'key seen' if KEY else 'no key line')

    # each point holds a socket an address ICE gathers on and its WebSocket: 1024 is some
    # hundreds of points
    limits = descriptor_limits(bridge.pid)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 1048576 if hard == resource.RLIM_INFINITY or hard > 1048576 else hard
    check(limits is not None and limits[0] == want,
          'started with a soft limit of 1024 descriptors, the daemon raises it to the hard one',
          f'soft, hard in /proc: {limits}; the hard limit here: {hard}')

    # the mix clock at real-time priority where it may (here, as root); the workers ordinary
    privileged = os.geteuid() == 0
    clock_said = said(data, 'the mix clock runs', within=10)  # the clock thread says it once it has set it
    policy, worker = thread_policy(bridge.pid, 'dc-mix-clock'), thread_policy(bridge.pid, 'dc-media-0')
    check(policy == (1 if privileged else 0) and worker == 0 and clock_said and
          ('real-time priority (SCHED_FIFO 1)' in clock_said[0]) == privileged,
          'the mix clock runs at real-time priority where the bridge may, and says which',
          f'root: {privileged}; policy of dc-mix-clock {policy}, of dc-media-0 {worker}; it said: {clock_said}')

    rc, out, err = ctl('whoami')
    check(rc == 0 and 'first key (admin key)' in out and 'Asia/Ho_Chi_Minh' in out,
          'whoami names the key, its role and the time zone', f'exit {rc}: {out.strip()} {err.strip()}')

    rc1, out1, _ = ctl('points', 'add', 'Hội trường UBND huyện', '--kind', 'hall', '--profile', 'hall')
    rc2, out2, _ = ctl('points', 'add', 'Xã Tà Xùa', '--kind', 'commune', '--profile', 'highland',
                       '--contact', 'Anh Tú 0912 345 678')
    rc3, out3, _ = ctl('points', 'add', 'Xã Bản Công', '--kind', 'commune', '--profile', 'standard')
    check(rc1 == rc2 == rc3 == 0 and 'point 2: Xã Tà Xùa (commune, link highland), contact Anh Tú' in out2,
          'points add, with Vietnamese names under LANG=C', f'{rc1} {rc2} {rc3}: {out2.strip()}')
    rc, out, _ = ctl('points', 'list')
    lines = out.strip().split('\n')
    check(rc == 0 and lines[0].split() == ['ID', 'NAME', 'KIND', 'LINK', 'DEVICE', 'CONTACT'] and len(lines) == 4
          and 'Xã Bản Công' in lines[3], 'points list is a table with a header and a row per point', out.strip())
    rc, out, _ = ctl('--json', 'points', 'list')
    pts = json.loads(out) if rc == 0 else []
    check(len(pts) == 3 and pts[1]['contact'] == 'Anh Tú 0912 345 678', '--json prints the API\'s JSON', out[:200])

    ctl('groups', 'add', 'Các xã')
    ctl('groups', 'add-point', '1', '2')
    rc, out, _ = ctl('groups', 'add-point', '1', '3')
    check(rc == 0 and re.search(r'^1\s+Các xã\s+2 3$', out, re.M) is not None, 'groups add and add-point', out.strip())

    rc, out, err = ctl('meetings', 'create', 'Giao ban tuần', '--start', '2030-01-07 07:30', '--minutes', '90',
                       '--host', '1', '--every', 'week', '--count', '4')
    check(rc == 0 and 'scheduled: 2030-01-07 07:30 to 2030-01-07 09:00 (points may join from 2030-01-07 07:15)' in out
          and 'a series of 4 occurrences' in out, 'meetings create: a weekly series on the bridge\'s clock',
          f'exit {rc}: {out.strip()} {err.strip()}')
    rc, out, _ = ctl('meetings', 'list', '--from', '2030-01-01 00:00')
    rows = [l for l in out.strip().split('\n')[1:]]
    check(rc == 0 and len(rows) == 4 and '2030-01-28 07:30' in rows[3], 'meetings list shows the four occurrences',
          out.strip())
    rc, out, _ = ctl('invite', '1', '--group', '1')
    rc2, out2, _ = ctl('invite', '1', '--point', '1', '--role', 'host')
    secrets = re.findall(r'[#&]token=(\S+)', out + out2)
    check(rc == 0 and rc2 == 0 and out.count('/join#meeting=1&profile=') == 2 and out.count('&token=') == 2 and 'profile=highland' in out,
          'invite a group in one step, and the host point', out.strip()[:300])
    rc, out, _ = ctl('meetings', 'show', '1')
    check(rc == 0 and out.count('valid') == 3, 'meetings show lists the invitations with their links', out.strip()[:400])
    rc, out, _ = ctl('meetings', 'edit', '1', '--start', '2030-01-07 08:00', '--end', '2030-01-07 09:30')
    check(rc == 0 and '2030-01-07 08:00 to 2030-01-07 09:30' in out, 'meetings edit moves it', out.strip()[:200])
    rc, out, _ = ctl('meetings', 'live', '1')
    check(rc == 0 and out.count('missing') == 3, 'meetings live: every invited point is missing before anyone joins',
          out.strip())
    rc, out, _ = ctl('attendance', '1', '--csv')
    csv_lines = out.strip().splitlines()
    check(rc == 0 and csv_lines[0].startswith('meeting_id,meeting,point_id,point,role') and len(csv_lines) == 4,
          'attendance --csv: a header and a row per invited point', out[:300])

    rc, out, _ = ctl('keys', 'add', 'Chị Lan (xem)', '--role', 'viewer')
    m = re.search(r': (\S+)\n', out)
    viewer = m.group(1) if m else ''
    secrets.append(viewer)
    rc2, out2, err2 = ctl('points', 'add', 'Xã Cấm', '--kind', 'commune', '--profile', 'standard', key=viewer)
    rc3, _, _ = ctl('meetings', 'list', '--all', key=viewer)
    check(rc == 0 and rc2 == 4 and 'viewer' in err2 and rc3 == 0,
          'a viewer key reads (exit 0) and may not write (exit 4, saying why)', f'{rc} {rc2} {rc3}: {err2.strip()}')
    rc, out, _ = ctl('audit', '--limit', '3')
    check(rc == 0 and 'key.create' in out and 'first key' in out, 'audit shows who did what', out.strip())

    for args, want, words, name in [
            (('meetings', 'show', '99'), 5, 'no meeting with id 99', 'an unknown meeting: exit 5'),
            (('meetings', 'show', 'x'), 2, 'not an id', 'a meeting id that is not a number: exit 2'),
            (('points', 'add', 'Y', '--kind', 'village', '--profile', 'hall'), 6, 'kind hall, commune or other',
             'refused values: exit 6 with the rule'),
            (('meetings', 'create', 'X', '--start', 'tomorrow', '--minutes', '5'), 2, 'YYYY-MM-DD HH:MM',
             'a time it cannot read: exit 2'),
            (('frob',), 2, 'unknown command', 'an unknown command: exit 2'),
            (('backup', os.path.join(data, 'bridge.out')), 2, 'exists', 'a backup never overwrites: exit 2')]:
        rc, out, err = ctl(*args)
        check(rc == want and words in err, name, f'exit {rc}: {err.strip()}')
    rc, out, err = ctl('whoami', key='not-a-key')
    check(rc == 4 and '401' in err, 'a bad key: exit 4', f'exit {rc}: {err.strip()}')
    rc, out, err = ctl('whoami', url=f'http://127.0.0.1:{free_port()}')
    check(rc == 3 and 'cannot reach' in err, 'an unreachable bridge: exit 3', f'exit {rc}: {err.strip()}')
    rc, out, err = ctl('whoami', env_extra={'DIEMCAU_URL': '', 'DIEMCAU_KEY': ''})
    check(rc == 2 and 'which bridge' in err, 'no bridge or key given: exit 2, saying where to give them',
          f'exit {rc}: {err.strip()}')
    conf = os.path.join(tmp, 'ctl.conf')
    with open(conf, 'w') as f:
        f.write(f'[ctl]\nurl={URL}\nkey={KEY}\n')
    rc, out, err = ctl('--config', conf, 'whoami', env_extra={'DIEMCAU_URL': '', 'DIEMCAU_KEY': ''})
    check(rc == 0 and 'first key' in out, 'the bridge and key from a config file', f'exit {rc}: {err.strip()}')

    backup = os.path.join(tmp, 'backup.db')
    rc, out, err = ctl('backup', backup)
    n = -1
    if rc == 0:
        with sqlite3.connect(backup) as db:
            n = db.execute('SELECT count(*) FROM points').fetchone()[0]
    check(rc == 0 and n == 3, 'backup writes an SQLite copy of the store with everything in it', f'exit {rc}, {n} points')

    # kill -9 right after the bridge answered writes: all of them are there after a restart
    ctl('points', 'add', 'Xã Cuối Cùng', '--kind', 'commune', '--profile', 'highland')
    rc_m, _, _ = ctl('meetings', 'create', 'Họp đột xuất', '--start', '2030-02-01 14:00', '--minutes', '60')
    rc_c, _, _ = ctl('meetings', 'cancel', '2')
    bridge.send_signal(signal.SIGKILL)
    bridge.wait(timeout=10)
    bridge, again = start_bridge(data, port)
    rc, out, _ = ctl('--json', 'points', 'list')
    names = [p['name'] for p in json.loads(out)] if rc == 0 else []
    rc2, out2, _ = ctl('--json', 'meetings', 'list', '--all')
    meetings = json.loads(out2) if rc2 == 0 else []
    states = {m['id']: m['state'] for m in meetings}
    check(rc_m == rc_c == 0 and 'Xã Cuối Cùng' in names and len(meetings) == 5 and states.get(2) == 'cancelled'
          and again is None,
          'kill -9 after answered writes: the restarted bridge has every one of them (and prints no new key)',
          f'{len(names)} points, {len(meetings)} meetings, meeting 2 {states.get(2)}')

    # issue 16: no key or token it made is in what the bridge logged
    with open(os.path.join(data, 'bridge.err'), encoding='utf-8', errors='replace') as f:
        log = f.read()
    secrets += [KEY]
    leaked = [x[:8] + '…' for x in secrets if x and x in log]
    check(len(secrets) >= 4 and not leaked, 'no key or token appears in the bridge\'s log',
          f'{len(secrets)} secrets looked for in {len(log)} bytes of log; leaked: {leaked}')

    # bad settings: the daemon refuses to start, says which, and leaves the data dir alone
    conf = os.path.join(tmp, 'typo.conf')
    with open(conf, 'w') as f:
        f.write('[bridge]\nprot = 8443\n')
    refusals = []
    for args, says in [(['--config', conf], 'unknown key "prot"'), (['--talkers', '9'], '--talkers must be 1-8'),
                       (['--media-ports', '40000'], '--media-ports wants MIN-MAX'),
                       (['--time-zone', 'Hanoi'], '--time-zone must be an IANA name')]:
        r = subprocess.run([BRIDGE, '--data-dir', os.path.join(tmp, 'never'), *args], capture_output=True, text=True, timeout=30)
        refusals.append((r.returncode, says in r.stderr, r.stderr.strip().splitlines()[0] if r.stderr.strip() else ''))
    check(all(rc == 2 and said for rc, said, _ in refusals) and not os.path.exists(os.path.join(tmp, 'never')),
          'bad settings (a config typo, out-of-range values): exit 2 with the setting named, nothing made',
          '; '.join(f'exit {rc}: {line}' for rc, _, line in refusals))

    text = urllib.request.urlopen(f'{URL}/metrics', timeout=5).read().decode()
    bad = [l for l in text.split('\n') if l and not re.match(r'^(# (HELP|TYPE) .*|[a-z_]+(\{[a-z_]+="[^"]*"\})? [0-9.e+-]+)$', l)]
    check(not bad and 'diemcau_participants{media="any"} 0' in text, '/metrics is Prometheus text',
          f'{len(bad)} bad lines: {bad[:2]}')

    # Clients that keep their connection alive and then close it (browsers, diemcau-ctl)
    # leave the bridge no descriptor behind (libsoup 3.2 kept each in CLOSE-WAIT for good).
    import http.client
    def open_fds():
        return len(os.listdir(f'/proc/{bridge.pid}/fd'))
    before = open_fds()
    for _ in range(30):
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
        c.request('GET', '/metrics', headers={'Connection': 'keep-alive'})
        c.getresponse().read()
        c.close()
    deadline = time.time() + 5
    while open_fds() > before + 1 and time.time() < deadline:
        time.sleep(0.1)
    check(open_fds() <= before + 1, '30 kept-alive connections closed by their clients leave no descriptor open',
          f'{before} descriptors before, {open_fds()} after')

    # Without --listen the bridge takes IPv6 and IPv4 alike (ICE gathers on both), and
    # /metrics still answers this machine only, over either
    data2, port2 = os.path.join(tmp, 'data-any'), free_port()
    os.makedirs(data2)
    # as a service without the right to real-time priority (no CAP_SYS_NICE, no LimitRTPRIO)
    other, _ = start_bridge(data2, port2, listen=(), prefix=('setpriv', '--bounding-set=-sys_nice'))
    try:
        codes = {}
        for host in ('127.0.0.1', '[::1]'):
            try:
                codes[host] = urllib.request.urlopen(f'http://{host}:{port2}/metrics', timeout=5).status
            except urllib.error.HTTPError as e:
                codes[host] = e.code
            except OSError as e:
                codes[host] = str(e)
        listening = said(data2, 'listening on')
        check(codes == {'127.0.0.1': 200, '[::1]': 200} and listening and f'http://[::]:{port2}' in listening[0],
              'with no --listen the bridge listens on IPv6 and IPv4, and says so',
              f'/metrics answered {codes}; it said: {listening}')
        clock_said = said(data2, 'the mix clock runs', within=10)
        check(thread_policy(other.pid, 'dc-mix-clock') == 0 and clock_said and 'real-time refused' in clock_said[0]
              and 'LimitRTPRIO=1' in clock_said[0],
              'refused real-time priority, the mix clock runs as it can and the log says how to allow it',
              f'policy {thread_policy(other.pid, "dc-mix-clock")}; it said: {clock_said}')
    finally:
        other.send_signal(signal.SIGTERM)
        other.wait(timeout=15)

    # A machine without IPv6 (booted with ipv6.disable=1, as a hardening guide has some
    # district machines): with no --listen the bridge listens on IPv4 alone. An --ice-address
    # that is not this machine's (a typo, or the address DHCP gave it last week), or an IPv6
    # one there, is named at start with the reason: before, nothing was said, and every point
    # failed to connect 20 s after joining, told to suspect its UDP. (What a join then hears
    # is /signaling/no-media-socket.)
    data3, port3 = os.path.join(tmp, 'data-v4'), free_port()
    os.makedirs(data3)
    v4, _ = start_bridge(data3, port3, listen=(), prefix=(WITHOUT_IPV6,),
                         extra=('--ice-address', '198.51.100.7', '--ice-address', '::1'))
    try:
        try:
            code = urllib.request.urlopen(f'http://127.0.0.1:{port3}/metrics', timeout=5).status
        except (urllib.error.HTTPError, OSError) as e:
            code = str(e)
        listening = said(data3, 'listening on')
        check(code == 200 and listening and f'http://0.0.0.0:{port3}' in listening[0],
              'on a machine without IPv6 the bridge listens on IPv4 alone, and says so',
              f'/metrics answered {code}; it said: {listening}')
        stranger, v6 = said(data3, 'ice-address 198.51.100.7 cannot'), said(data3, 'ice-address ::1 cannot')
        check(stranger and 'not an address of this machine' in stranger[0] and "this machine's addresses" in stranger[0]
              and v6 and 'IPv6 is off' in v6[0] and not said(data3, 'ice-address 127.0.0.1 cannot')
              and not said(data, 'cannot carry media'),
              'an --ice-address that cannot carry media is named at start, with why and the addresses there are',
              f'it said: {stranger} {v6}; the first bridge: {said(data, "cannot carry media")}')
    finally:
        v4.send_signal(signal.SIGTERM)
        v4.wait(timeout=15)
finally:
    if bridge.poll() is None:
        bridge.send_signal(signal.SIGTERM)
        try:
            code = bridge.wait(timeout=15)
        except subprocess.TimeoutExpired:
            bridge.kill()
            code = 'hung'
        check(code == 0, 'the bridge stops cleanly', f'exit {code}')
    subprocess.run(['rm', '-rf', tmp])

print(f'1..{len(results)}')
sys.exit(0 if all(results) else 1)
