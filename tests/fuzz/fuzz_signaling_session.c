/* libFuzzer target: the signaling state machine — a sequence of messages on one WebSocket to
 * the real server (tests/fuzz/server_harness.h), as a page or a hostile client would send
 * them: joins with good and bad links, offers, candidates, chair commands, leaves, in any
 * order and any number, then the connection drops.
 *
 * Input: one message per line (at most MAX_MESSAGES). A line starting with a NUL byte, or
 * one that is not UTF-8, goes as a binary frame. So that inputs reach past the join, these are replaced in each line:
 *   $M  the id of a live meeting made for this input
 *   $H $A $B $O  its join links' tokens: the host, participants A and B, an observer
 *   $S  a browser-like audio and video offer, as a JSON string
 *
 * Checked: every frame the server sends back is a message our own client parser accepts
 * (signaling/protocol.h), the server and bridge raise no critical, and nothing crashes or
 * leaks (the sanitizers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_harness.h"
#include "signaling/protocol.h"

#define MAX_MESSAGES 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char OFFER[] =
    "\"v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n"
    "a=group:BUNDLE 0 1\\r\\na=msid-semantic: WMS\\r\\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\\r\\nc=IN IP4 0.0.0.0\\r\\na=rtcp:9 IN IP4 0.0.0.0\\r\\n"
    "a=ice-ufrag:fUzZ\\r\\na=ice-pwd:fuzzfuzzfuzzfuzzfuzzfuzz\\r\\na=ice-options:trickle\\r\\n"
    "a=fingerprint:sha-256 2F:7B:0C:3E:4D:1A:99:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01:23:45:67:89:AB:CD:EF:10\\r\\n"
    "a=setup:actpass\\r\\na=mid:0\\r\\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\\r\\n"
    "a=sendrecv\\r\\na=rtcp-mux\\r\\na=rtpmap:111 opus/48000/2\\r\\na=rtcp-fb:111 transport-cc\\r\\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\\r\\na=rtpmap:63 red/48000/2\\r\\na=fmtp:63 111/111\\r\\n"
    "a=ssrc:1001 cname:fuzz\\r\\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\\r\\nc=IN IP4 0.0.0.0\\r\\na=rtcp:9 IN IP4 0.0.0.0\\r\\n"
    "a=ice-ufrag:fUzZ\\r\\na=ice-pwd:fuzzfuzzfuzzfuzzfuzzfuzz\\r\\na=ice-options:trickle\\r\\n"
    "a=fingerprint:sha-256 2F:7B:0C:3E:4D:1A:99:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01:23:45:67:89:AB:CD:EF:10\\r\\n"
    "a=setup:actpass\\r\\na=mid:1\\r\\na=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\\r\\n"
    "a=sendrecv\\r\\na=rtcp-mux\\r\\na=rtcp-rsize\\r\\na=rtpmap:96 VP8/90000\\r\\na=rtcp-fb:96 goog-remb\\r\\n"
    "a=rtcp-fb:96 ccm fir\\r\\na=rtcp-fb:96 nack\\r\\na=rtcp-fb:96 nack pli\\r\\n"
    "a=rtpmap:97 rtx/90000\\r\\na=fmtp:97 apt=96\\r\\n"
    "a=ssrc-group:FID 2001 2002\\r\\na=ssrc:2001 cname:fuzz\\r\\na=ssrc:2002 cname:fuzz\\r\\n\"";

typedef struct {
  bool closed;
  int frames;
} conversation;

static void on_message(SoupWebsocketConnection *ws, gint type, GBytes *msg, gpointer user) {
  conversation *c = user;
  c->frames++;
  gsize len;
  const char *text = g_bytes_get_data(msg, &len);
  dc_server_msg m;
  char *why = NULL;
  if (type != SOUP_WEBSOCKET_DATA_TEXT || !dc_protocol_parse_server(text ? text : "", len, &m, &why)) {
    fprintf(stderr, "the server sent what its own protocol refuses (%s): %.*s\n", why ? why : "binary", (int)len, text);
    abort();
  }
  dc_server_msg_clear(&m);
}

static void on_closed(SoupWebsocketConnection *ws, gpointer user) { ((conversation *)user)->closed = true; }

static void on_connect(GObject *src, GAsyncResult *res, gpointer user) {
  *(SoupWebsocketConnection **)user = soup_session_websocket_connect_finish(SOUP_SESSION(src), res, NULL);
}

/* The line with its placeholders filled in. */
static char *expand(const fuzz_server *fs, const uint8_t *line, size_t len) {
  GString *out = g_string_sized_new(len + 64);
  for (size_t i = 0; i < len; i++) {
    if (line[i] == '$' && i + 1 < len) {
      const char *with = NULL;
      char meeting[24];
      switch (line[i + 1]) {
      case 'M': g_snprintf(meeting, sizeof meeting, "%" G_GINT64_FORMAT, fs->meeting), with = meeting; break;
      case 'H': with = fs->tokens[0]; break;
      case 'A': with = fs->tokens[1]; break;
      case 'B': with = fs->tokens[2]; break;
      case 'O': with = fs->tokens[3]; break;
      case 'S': with = OFFER; break;
      }
      if (with) {
        g_string_append(out, with);
        i++;
        continue;
      }
    }
    g_string_append_c(out, (char)line[i]);
  }
  return g_string_free(out, FALSE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_server *fs = fuzz_server_get();
  fuzz_server_new_meeting(fs);
  SoupSession *session = fuzz_server_client();
  SoupWebsocketConnection *ws = NULL;
  SoupMessage *msg = soup_message_new("GET", fs->ws_url);
  soup_session_websocket_connect_async(session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL, on_connect, &ws);
  for (int i = 0; i < 5000 && !ws; i++) /* the connection's own timeout ends this sooner */
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(msg);
  if (!ws)
    abort(); /* a connection to our own loopback server */
  conversation c = {0};
  g_signal_connect(ws, "message", G_CALLBACK(on_message), &c);
  g_signal_connect(ws, "closed", G_CALLBACK(on_closed), &c);
  const uint8_t *p = data, *end = data + size;
  for (int n = 0; n < MAX_MESSAGES && p < end && !c.closed; n++) {
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((nl ? nl : end) - p);
    char *text = len && p[0] == 0 ? NULL : expand(fs, p, len);
    if (text && g_utf8_validate(text, -1, NULL))
      soup_websocket_connection_send_text(ws, text);
    else /* libsoup sends only UTF-8 as text (and its server refuses other text frames) */
      soup_websocket_connection_send_binary(ws, p, len);
    g_free(text);
    fuzz_server_settle(400); /* the server answers on this same context */
    p = nl ? nl + 1 : end;
  }
  if (!c.closed) {
    soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    fuzz_server_run_until(&c.closed, 2000);
  }
  fuzz_server_settle(400); /* the server's side of the close: the participant leaves */
  g_object_unref(ws);
  /* its connection closed now, and the server's end seen before the next input (before the
   * server closed its HTTP connections itself, they piled up here in CLOSE-WAIT) */
  soup_session_abort(session);
  g_object_unref(session);
  fuzz_server_settle(100);
  return 0;
}
