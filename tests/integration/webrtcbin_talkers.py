#!/usr/bin/env python3
"""Two GStreamer webrtcbin peers talk through the real daemon (issue 9, defect 3).

webrtcbin sends no RFC 6464 audio level by default, so the bridge's mixer has to decode
both to measure them. Each peer sends a steady tone of the same level (440 Hz and 700 Hz)
for 20 s and records what the bridge sends it. Checked: each hears the other's tone in every
second after the first two, and not its own; and after the first two seconds the dominant
speaker changes at most once. (Before the fix the speaker flipped about every 600 ms,
64 `speaker` messages in 20 s. And in one ASan run in five one peer heard nothing of the
other for seconds or for good: a GStreamer sender's timestamps moved off their 20 ms grid, and
the mixer's playout, still on the old grid, found no packet at any playout time again.)

Runs inside a network namespace made here with `lo` and a veth pair of its own
(10.78.0.1/30, 10.78.0.2/30): webrtcbin's libnice gathers no loopback candidates.
Usage: webrtcbin_talkers.py BRIDGE_EXECUTABLE. Prints TAP.
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

NETNS = os.environ.get('DC_NETNS') or 'dctalk%d' % os.getpid()
BRIDGE = os.path.abspath(sys.argv[1])
PORT = 18647
SECONDS = 20
TONES = (440.0, 700.0)
RATE = 48000


def outer():
    """Makes the namespace and runs this script again inside it."""
    ip = lambda *a: subprocess.run(['ip'] + list(a), check=True)  # noqa: E731
    ip('netns', 'add', NETNS)
    try:
        ip('-n', NETNS, 'link', 'set', 'lo', 'up')
        ip('-n', NETNS, 'link', 'add', 'dct0', 'type', 'veth', 'peer', 'name', 'dct1')
        ip('-n', NETNS, 'addr', 'add', '10.78.0.1/30', 'dev', 'dct0')
        ip('-n', NETNS, 'addr', 'add', '10.78.0.2/30', 'dev', 'dct1')
        ip('-n', NETNS, 'link', 'set', 'dct0', 'up')
        ip('-n', NETNS, 'link', 'set', 'dct1', 'up')
        for dev in ('dct0', 'dct1'):  # running, or libnice skips it (harness.mjs waitRunning)
            for _ in range(100):
                shown = subprocess.run(['ip', '-n', NETNS, '-o', 'link', 'show', 'dev', dev],
                                       capture_output=True, text=True, check=True).stdout
                if ' state UP ' in shown:
                    break
                time.sleep(0.05)
            else:
                raise SystemExit('%s is not running 5 s after it was set up: %s' % (dev, shown.strip()))
        os.makedirs('/etc/netns/' + NETNS, exist_ok=True)
        with open('/etc/netns/%s/resolv.conf' % NETNS, 'w') as f:
            f.write('nameserver 127.0.0.1\n')
        env = dict(os.environ, DC_NETNS=NETNS)
        # Debian's python3: python3-gi is installed for it, not for another python on PATH
        return subprocess.run(['ip', 'netns', 'exec', NETNS, '/usr/bin/python3'] + sys.argv, env=env).returncode
    finally:
        subprocess.run(['ip', 'netns', 'delete', NETNS])
        shutil.rmtree('/etc/netns/' + NETNS, ignore_errors=True)


def goertzel_db(samples, freq):
    k = 2 * math.cos(2 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + k * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    return 10 * math.log10(power / max(len(samples), 1) + 1e-9)


def inner():
    import gi
    gi.require_version('Gst', '1.0')
    gi.require_version('GstWebRTC', '1.0')
    gi.require_version('GstSdp', '1.0')
    gi.require_version('GstApp', '1.0')
    gi.require_version('Soup', '3.0')
    from gi.repository import GLib, Gst, GstApp, GstSdp, GstWebRTC, Soup  # noqa: F401

    Gst.init(None)
    results = []

    def check(ok, name, detail=''):
        results.append(ok)
        print('%s %d %s%s' % ('ok' if ok else 'not ok', len(results), name, ' # ' + detail if detail else ''),
              flush=True)
        if not ok:  # meson shows only stderr of a failed test
            print('FAILED: %s: %s' % (name, detail), file=sys.stderr, flush=True)

    data = tempfile.mkdtemp(prefix='diemcau-talkers-')

    def die_with_us():  # the bridge goes when this test goes, however it ends
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    bridge = subprocess.Popen([BRIDGE, '--data-dir', data, '--plain-http', '--listen', '127.0.0.1',
                               '--port', str(PORT), '--ice-address', '10.78.0.1', '--demo',
                               '--log-level', 'info'],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=die_with_us)
    links = []
    deadline = time.monotonic() + 30
    while len(links) < 2 and time.monotonic() < deadline:
        line = bridge.stdout.readline()
        if not line:
            break
        # the token after '#' (or, in links made before that, in the query)
        m = re.search(r'/join[?#]meeting=(\d+)[^\s]*?[#&]token=([^&\s]+)', line)
        if m:
            links.append((int(m.group(1)), m.group(2)))
    if len(links) < 2:
        check(False, 'the bridge starts and prints two demo join links')
        bridge.kill()
        return 1
    log = []

    def drain():
        for line in bridge.stdout:
            log.append(line.rstrip())
    import threading
    threading.Thread(target=drain, daemon=True).start()

    loop = GLib.MainLoop()
    session = Soup.Session()

    class Peer:
        def __init__(self, index, meeting, token):
            self.index, self.meeting, self.token = index, meeting, token
            self.id = 0
            self.speakers = []  # (time, participant)
            self.samples = []   # recorded mix, 48 kHz mono
            self.connected = False
            self.errors = []
            self.pipe = Gst.parse_launch(
                'webrtcbin name=w bundle-policy=max-bundle '
                'audiotestsrc is-live=true wave=sine freq=%d volume=0.3 ! audioconvert ! audioresample ! '
                'opusenc ! rtpopuspay pt=111 ! '
                'application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! w.' % TONES[index])
            self.w = self.pipe.get_by_name('w')
            self.w.connect('on-ice-candidate', self.on_candidate)
            self.w.connect('pad-added', self.on_pad)
            self.w.connect('notify::ice-connection-state', self.on_ice_state)
            msg = Soup.Message.new('GET', 'ws://127.0.0.1:%d/ws' % PORT)
            session.websocket_connect_async(msg, None, None, GLib.PRIORITY_DEFAULT, None, self.on_ws)

        def send(self, obj):
            obj['v'] = 1
            self.ws.send_text(json.dumps(obj))

        def on_ws(self, sess, res):
            self.ws = sess.websocket_connect_finish(res)
            self.ws.connect('message', self.on_message)
            self.send({'type': 'join', 'meeting': self.meeting, 'token': self.token,
                       'name': 'webrtcbin %d' % (self.index + 1), 'slots': 1})

        def on_message(self, ws, kind, data):
            m = json.loads(data.get_data().decode())
            t = m.get('type')
            if t == 'joined':
                self.id = m['participant']
                # the offer once caps are known (on-negotiation-needed), not before
                self.w.connect('on-negotiation-needed', lambda w: w.emit(
                    'create-offer', None, Gst.Promise.new_with_change_func(self.on_offer, None)))
                self.pipe.set_state(Gst.State.PLAYING)
            elif t == 'answer':
                _, sdp = GstSdp.SDPMessage.new_from_text(m['sdp'])
                answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
                self.w.emit('set-remote-description', answer, Gst.Promise.new())
            elif t == 'candidate' and m.get('candidate'):
                self.w.emit('add-ice-candidate', 0, m['candidate'])
            elif t == 'speaker':
                self.speakers.append((time.monotonic(), m['participant']))
            elif t == 'error':
                self.errors.append('%s: %s' % (m.get('code'), m.get('message')))

        def on_offer(self, promise, _):
            reply = promise.get_reply()  # kept alive while its offer is read
            text = reply.get_value('offer').sdp.as_text()
            # a boxed description inside a promise reply dies with it: rebuild from text
            _, sdp = GstSdp.SDPMessage.new_from_text(text)
            self.w.emit('set-local-description',
                        GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp), Gst.Promise.new())
            GLib.idle_add(lambda: self.send({'type': 'offer', 'sdp': text}) and False)

        def on_candidate(self, w, mline, candidate):
            GLib.idle_add(lambda: self.send({'type': 'candidate', 'candidate': candidate}) and False)

        def on_ice_state(self, w, pspec):
            state = w.get_property('ice-connection-state')
            if state in (GstWebRTC.WebRTCICEConnectionState.CONNECTED, GstWebRTC.WebRTCICEConnectionState.COMPLETED):
                self.connected = True

        def on_pad(self, w, pad):
            if pad.direction != Gst.PadDirection.SRC:
                return
            sink = Gst.parse_bin_from_description(
                'rtpopusdepay ! opusdec ! audioconvert ! audioresample ! '
                'audio/x-raw,format=S16LE,rate=48000,channels=1 ! appsink name=rec emit-signals=true sync=false', True)
            self.pipe.add(sink)
            sink.sync_state_with_parent()
            pad.link(sink.get_static_pad('sink'))
            sink.get_by_name('rec').connect('new-sample', self.on_sample)

        def on_sample(self, appsink):
            buf = appsink.emit('pull-sample').get_buffer()
            ok, info = buf.map(Gst.MapFlags.READ)
            if ok:
                data = info.data
                self.samples.extend(int.from_bytes(data[i:i + 2], 'little', signed=True) for i in range(0, len(data) - 1, 2))
                buf.unmap(info)
            return Gst.FlowReturn.OK

    peers = [Peer(i, links[i][0], links[i][1]) for i in range(2)]
    start = time.monotonic()
    # until both are connected (at most 20 s), then SECONDS of talk
    talk_from = [None]

    def tick():
        now = time.monotonic()
        if talk_from[0] is None and all(p.connected for p in peers):
            talk_from[0] = now
            for p in peers:
                p.samples.clear()
        if (talk_from[0] and now - talk_from[0] > SECONDS) or (talk_from[0] is None and now - start > 20):
            loop.quit()
            return False
        return True
    GLib.timeout_add(100, tick)
    loop.run()

    check(talk_from[0] is not None, 'both webrtcbin peers connect through the bridge',
          'errors %s' % [p.errors for p in peers])
    if talk_from[0] is not None:
        for i, p in enumerate(peers):
            other, own = TONES[1 - i], TONES[i]
            weakest, loudest_own = 1e9, -1e9
            for sec in range(2, SECONDS - 1):
                chunk = p.samples[sec * RATE:(sec + 1) * RATE]
                if len(chunk) < RATE // 2:
                    weakest = -1e9  # less than half a second of audio in that second
                    break
                weakest = min(weakest, goertzel_db(chunk, other))
                loudest_own = max(loudest_own, goertzel_db(chunk, own))
            if not (weakest > 60 and weakest > loudest_own + 20):  # say which seconds, and how
                print('# peer %d, second by second (other/own dB): %s' % (i + 1, ' '.join(
                    '%d:%.0f/%.0f' % (sec, goertzel_db(p.samples[sec * RATE:(sec + 1) * RATE], other),
                                      goertzel_db(p.samples[sec * RATE:(sec + 1) * RATE], own))
                    for sec in range(SECONDS))))
            heard = weakest > 60 and weakest > loudest_own + 20
            detail = ('other %.1f dB at least, own %.1f dB at most, %.1f s recorded'
                      % (weakest, loudest_own, len(p.samples) / RATE))
            check(heard, 'peer %d hears the other tone in every second, and not its own' % (i + 1), detail)
            changes = [s for (t, s) in p.speakers if t - talk_from[0] > 2]
            check(len(changes) <= 1, 'peer %d: the dominant speaker changes at most once after 2 s' % (i + 1),
                  '%d speaker messages in all, %d after 2 s: %s' % (len(p.speakers), len(changes), changes[:10]))
    for p in peers:
        p.pipe.set_state(Gst.State.NULL)
    bridge.send_signal(signal.SIGTERM)
    try:
        rc = bridge.wait(timeout=10)
    except subprocess.TimeoutExpired:
        bridge.kill()
        rc = 'hung'
    check(rc == 0, 'the bridge stops cleanly on SIGTERM', 'exit %s' % rc)
    if not all(results):
        print('# bridge log (last 30 lines):')
        for line in log[-30:]:
            print('#   ' + line)
    shutil.rmtree(data, ignore_errors=True)
    print('1..%d' % len(results))
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(inner() if os.environ.get('DC_NETNS') else outer())
