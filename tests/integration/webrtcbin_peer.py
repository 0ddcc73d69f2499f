#!/usr/bin/env python3
"""GStreamer webrtcbin as a diemcau endpoint would configure it: Opus and VP8 sendrecv plus
one recvonly VP8 thumbnail, max-bundle.

  webrtcbin_peer.py                  print the offer it makes (trickle: no candidate in it)
  webrtcbin_peer.py --answer-with T  give the offer to the answerer program T (offer on its
                                     stdin, answer on its stdout), apply the answer, print
                                     "ok <direction per transceiver>" or "error <why>"

Needs /usr/bin/python3 with python3-gi and gir1.2-gst-plugins-bad-1.0.
"""
import subprocess
import sys

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

answerer = sys.argv[2] if len(sys.argv) == 3 and sys.argv[1] == '--answer-with' else None
Gst.init(None)
pipe = Gst.parse_launch(
    'webrtcbin name=w bundle-policy=max-bundle '
    'audiotestsrc is-live=true ! opusenc ! rtpopuspay pt=96 ! '
    'application/x-rtp,media=audio,encoding-name=OPUS,payload=96 ! w. '
    'videotestsrc is-live=true ! vp8enc deadline=1 ! rtpvp8pay pt=97 ! '
    'application/x-rtp,media=video,encoding-name=VP8,payload=97 ! w.')
w = pipe.get_by_name('w')
w.emit('add-transceiver', GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
       Gst.Caps.from_string('application/x-rtp,media=video,encoding-name=VP8,payload=97,clock-rate=90000'))
loop = GLib.MainLoop()
result = []


def finish(text):
    result.append(text)
    GLib.idle_add(loop.quit)


def description(kind, text):
    # Built from text: a boxed description inside a promise reply dies with the reply.
    _, msg = GstSdp.SDPMessage.new_from_text(text)
    return GstWebRTC.WebRTCSessionDescription.new(kind, msg)


def on_remote_set(promise, _):
    reply = promise.get_reply()
    if reply is not None and reply.has_field('error'):
        finish('error webrtcbin refused the answer (GST_DEBUG=webrtcbin:3 says why)')
        return
    try:
        dirs, i = [], 0
        while True:  # get-transceivers returns a GArray that PyGObject cannot iterate
            t = w.emit('get-transceiver', i)
            if t is None:
                break
            dirs.append(t.get_property('current-direction').value_nick)
            i += 1
        finish('ok ' + ','.join(dirs))
    except Exception as e:  # never leave the loop waiting on a failed callback
        finish('error %r' % e)


def on_offer(promise, _):
    reply = promise.get_reply()  # keep the reply alive while its offer is read
    offer = reply.get_value('offer') if reply is not None and reply.has_field('offer') else None
    if offer is None:
        finish('error webrtcbin made no offer')
        return
    offer_text = offer.sdp.as_text()
    if answerer is None:
        finish(offer_text)
        return
    w.emit('set-local-description', description(GstWebRTC.WebRTCSDPType.OFFER, offer_text), None)
    p = subprocess.run([answerer], input=offer_text.encode(), capture_output=True)
    if p.returncode:
        finish('error answerer refused: ' + p.stderr.decode().strip())
        return
    w.emit('set-remote-description', description(GstWebRTC.WebRTCSDPType.ANSWER, p.stdout.decode()),
           Gst.Promise.new_with_change_func(on_remote_set, None))


w.connect('on-negotiation-needed',
          lambda _: w.emit('create-offer', None, Gst.Promise.new_with_change_func(on_offer, None)))
pipe.set_state(Gst.State.PLAYING)
GLib.timeout_add_seconds(30, lambda: finish('error timed out after 30 s'))
loop.run()
pipe.set_state(Gst.State.NULL)
sys.stdout.write(result[0] if answerer is None else result[0] + '\n')
sys.exit(0 if not result[0].startswith('error') else 1)
