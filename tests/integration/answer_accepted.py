#!/usr/bin/env python3
"""Hands diemcau's SDP answers to real peers and checks that they accept them.

For Chromium and Firefox (headless, fake media) a page makes the offer a meeting page makes,
gets our answer from the sdp-answer tool through a small HTTP server, applies it and reports
its transceiver directions. For GStreamer's webrtcbin the same happens in process. All of it
runs inside a network namespace made here with only `lo` up, so nothing leaves the machine.
Prints TAP: one case per peer. Usage: answer_accepted.py SDP_ANSWER_TOOL
"""
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.abspath(sys.argv[1])
# Chosen by the outer run and handed to the inner one, which must not make another.
NETNS = os.environ.get('DC_NETNS') or 'dcsdp%d' % os.getpid()
EXPECT_DIRS = 'sendrecv,sendrecv,recvonly,recvonly'  # the browser's view of our answer


def answer_for(offer):
    p = subprocess.run([TOOL], input=offer.encode(), capture_output=True, timeout=30)
    return p.returncode, (p.stdout if p.returncode == 0 else p.stderr).decode()


def in_netns(argv):
    return ['ip', 'netns', 'exec', NETNS] + argv


def browser_case(name, argv_for_url, port):
    result = {}
    done = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = open(os.path.join(HERE, 'answer_page.html'), 'rb').read()
            self.send_response(200)
            self.send_header('Content-Type', 'text/html')
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            data = self.rfile.read(int(self.headers['Content-Length'])).decode()
            if self.path == '/offer':
                code, text = answer_for(data)
                self.send_response(200 if code == 0 else 400)
                self.end_headers()
                self.wfile.write(text.encode())
            else:
                self.send_response(204)
                self.end_headers()
                result['outcome'] = data
                done.set()

        def log_message(self, *args):
            pass

    # The server must live in the namespace too: run this script's server in a child that
    # joined it. Simplest: serve from a thread after entering the namespace for the whole
    # script (see main), so 127.0.0.1 here is the namespace's loopback.
    server = http.server.HTTPServer(('127.0.0.1', port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proc = subprocess.Popen(argv_for_url('http://127.0.0.1:%d/' % port),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done.wait(90)
    proc.kill()
    proc.wait()
    server.shutdown()
    outcome = result.get('outcome', 'error no result within 90 s')
    ok = outcome.startswith('ok ' + EXPECT_DIRS + ' ') and outcome.endswith(' q;h;f')
    return ok, '%s: %s' % (name, outcome)


def chromium(url):
    return ['chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--user-data-dir=' + tempfile.mkdtemp(prefix='dc-chromium-'),
            '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
            '--allow-loopback-in-peer-connection', url]


def firefox(url):
    profile = tempfile.mkdtemp(prefix='dc-firefox-')
    with open(os.path.join(profile, 'user.js'), 'w') as f:
        for pref, value in [('media.navigator.streams.fake', 'true'),
                            ('media.navigator.permission.disabled', 'true'),
                            ('media.peerconnection.ice.loopback', 'true'),
                            ('browser.shell.checkDefaultBrowser', 'false'),
                            ('datareporting.policy.dataSubmissionEnabled', 'false'),
                            ('toolkit.telemetry.enabled', 'false'),
                            ('app.update.enabled', 'false'),
                            ('network.captive-portal-service.enabled', 'false')]:
            f.write('user_pref("%s", %s);\n' % (pref, value))
    return ['firefox-esr', '--headless', '--no-remote', '--profile', profile, url]




def webrtcbin_case():
    p = subprocess.run(['/usr/bin/python3', os.path.join(HERE, 'webrtcbin_peer.py'), '--answer-with', TOOL],
                       capture_output=True, timeout=60)
    outcome = (p.stdout.decode().strip().splitlines() or ['error ' + p.stderr.decode()[-300:]])[-1]
    return outcome == 'ok sendrecv,sendrecv,recvonly', 'webrtcbin: ' + outcome


def main():
    if 'DC_NETNS' not in os.environ:
        # Re-run this script inside a namespace of its own with only loopback up.
        subprocess.run(['ip', 'netns', 'add', NETNS], check=True)
        try:
            subprocess.run(['ip', '-n', NETNS, 'link', 'set', 'lo', 'up'], check=True)
            os.makedirs('/etc/netns/' + NETNS, exist_ok=True)
            with open('/etc/netns/%s/resolv.conf' % NETNS, 'w') as f:
                f.write('nameserver 127.0.0.1\n')
            env = dict(os.environ, DC_NETNS=NETNS)
            return subprocess.run(in_netns([sys.executable] + sys.argv), env=env).returncode
        finally:
            subprocess.run(['ip', 'netns', 'delete', NETNS])
            shutil.rmtree('/etc/netns/' + NETNS, ignore_errors=True)
    cases = [lambda: browser_case('chromium', chromium, 8781),
             lambda: browser_case('firefox', firefox, 8782),
             webrtcbin_case]
    print('1..%d' % len(cases))
    failed = 0
    for i, case in enumerate(cases, 1):
        try:
            ok, detail = case()
        except Exception as e:  # a crash in one peer's case is that case's failure
            ok, detail = False, 'exception: %r' % e
        print('%s %d %s' % ('ok' if ok else 'not ok', i, detail))
        failed += not ok
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
