/* A highland camera's ULPFEC (RFC 5109) in the real daemon, with native clients on loopback:
 *
 *   H, a highland point, offers VP8 with RED, ULPFEC and RTX for both, in two simulcast layers
 *   (by SSRC), and sends as Chrome does once they are answered: every packet in RED, each
 *   frame (two packets) followed by an FEC packet protecting it, on each layer's SSRC in its
 *   own numbering. Once R (a standard point) plays H's picture, H withholds the first packet
 *   of some frames on both layers (only the FEC can bring it: H answers no NACK) and some FEC
 *   packets themselves (lost between two whole frames).
 *
 * - every withheld packet reaches R, rebuilt by the bridge;
 * - R sees no gap in its numbering: each FEC packet that came goes on as padding under its
 *   number (and so does H's own padding, sent now and then as a sender without RTX probes), a
 *   rebuilt packet fills its own, and so does padding for each withheld FEC packet
 *   (a native endpoint's jitter buffer waited for such a gap, then dropped frames till a key
 *   frame);
 * - no key frame is asked of H for an FEC packet that never came (it carried no picture);
 * - /metrics counts the FEC packets and what they rebuilt;
 * - a recording of the meeting, which shows H, holds H's frames: its depayloader took each
 *   gap an FEC packet left in its numbering for a loss and dropped every frame till the
 *   next key frame.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "bridge/transport.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "signaling/store.h"
#include "tests/lib/daemon.h"
#include "tests/lib/native_client.h"

#define PORT 18652
#define VP8_PT 96
#define RTX_PT 97
#define RED_PT 116
#define RED_RTX_PT 117
#define ULPFEC_PT 118
#define FRAMES_WITHHELD_FROM 10 /* frames after R first plays H before anything is withheld */

enum { H, R, N_CLIENTS };
static const char *const profile_of[N_CLIENTS] = {"highland", "standard"};

static struct {
  SoupSession *session;
  dc_workers *workers;
  dc_dtls_identity *id;
  GSubprocess *bridge;
  char *dir, *api_key;
  int64_t meeting;
  unsigned recording_from, recording_to; /* H's frames sent while the recording ran */
  dc_client *dc[N_CLIENTS];
  char *token[N_CLIENTS];
  gint connected[N_CLIENTS];
  /* H: its worker */
  dc_transport *h_t;
  GSource *h_timer;
  struct {
    uint32_t ssrc, rtx_ssrc;
    uint16_t seq, pid;
  } layer[2]; /* lowest first */
  uint32_t ts;
  unsigned frame, playing_frame;
  gint withheld, fec_withheld, fec_sent, plis;
  gint hold_off; /* the test's: withhold nothing more (what was withheld is then counted whole) */
  gint paused;   /* the test's: send nothing more (what was sent is then counted whole) */
  gint64 fec_withheld_first_us;
  /* R: its worker */
  gint playing, rebuilt_seen, fillers, layers_seen;
  bool seen[1 << 16];
  gint distinct, first_seq, max_seq;
  bool got_withheld[2][4096];
  bool withheld_frame[4096];
} T;

/* One VP8 packet of frame k on layer l, the p-th of two, as H's encoder made it (payload type
 * VP8): the payload says which (l, k, p) it is. */
static size_t media_packet(uint8_t *buf, int l, unsigned k, int p, bool key) {
  dc_rtp_header h = {.payload_type = VP8_PT, .seq = T.layer[l].seq++, .timestamp = T.ts, .ssrc = T.layer[l].ssrc,
                     .marker = p == 1};
  size_t n = dc_rtp_write_header(buf, 64, &h, NULL, 0);
  uint16_t pid = T.layer[l].pid;
  const uint8_t desc[] = {(uint8_t)(p == 0 ? 0x90 : 0x80), 0x80, (uint8_t)(0x80 | (pid >> 8)), (uint8_t)pid};
  memcpy(buf + n, desc, sizeof desc);
  n += sizeof desc;
  if (p == 0) { /* the VP8 payload header: key frame or not */
    const uint8_t vp8[] = {key ? 0x50 : 0x51, 0x9d, 0x01, 0x2a};
    memcpy(buf + n, vp8, sizeof vp8);
    n += sizeof vp8;
  }
  buf[n++] = (uint8_t)l, buf[n++] = (uint8_t)(k >> 8), buf[n++] = (uint8_t)k, buf[n++] = (uint8_t)p;
  /* lengths differ: the length recovery counts */
  size_t body = (l ? 300 : 60) + (k * 37 + (unsigned)p * 11) % 200;
  for (size_t i = 0; i < body; i++)
    buf[n + i] = (uint8_t)(k + i * 3);
  return n + body;
}

/* RED (RFC 2198) of one block, the primary, with payload type block_pt: in place. */
static size_t red_wrap(uint8_t *buf, size_t len, uint8_t block_pt) {
  memmove(buf + 13, buf + 12, len - 12);
  buf[12] = block_pt;
  dc_rtp_set_payload_type(buf, RED_PT);
  return len + 1;
}

/* RFC 5109 §8 over the unwrapped packets a and b (level 0, short mask), as an RTP packet in
 * RED on ssrc under sequence number seq. */
static size_t fec_packet(uint8_t *out, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint32_t ssrc,
                         uint16_t seq) {
  dc_rtp_header h = {.payload_type = RED_PT, .seq = seq, .timestamp = T.ts, .ssrc = ssrc};
  size_t n = dc_rtp_write_header(out, 64, &h, NULL, 0);
  out[n++] = ULPFEC_PT; /* the RED header */
  uint8_t *f = out + n;
  size_t prot = MAX(alen, blen) - 12;
  memset(f, 0, 14 + prot);
  const uint8_t *pk[2] = {a, b};
  size_t len[2] = {alen, blen};
  for (int i = 0; i < 2; i++) {
    f[0] ^= pk[i][0], f[1] ^= pk[i][1];
    for (int k = 4; k < 8; k++)
      f[k] ^= pk[i][k];
    f[8] ^= (uint8_t)((len[i] - 12) >> 8), f[9] ^= (uint8_t)(len[i] - 12);
    for (size_t k = 12; k < len[i]; k++)
      f[14 + k - 12] ^= pk[i][k];
  }
  f[0] &= 0x3F;                    /* E = 0, L = 0 */
  dc_wr16(f + 2, dc_rd16(a + 2));  /* SN base: the first protected */
  dc_wr16(f + 10, (uint16_t)prot); /* protection length */
  f[12] = 0xC0, f[13] = 0;         /* mask: the base and the one after */
  return n + 14 + prot;
}

static gboolean send_frame(gpointer data) {
  (void)data;
  if (g_atomic_int_get(&T.paused))
    return G_SOURCE_CONTINUE;
  unsigned k = T.frame++;
  bool key = k % 60 == 0;
  bool withholding = T.playing_frame && k >= T.playing_frame + FRAMES_WITHHELD_FROM &&
                     k < G_N_ELEMENTS(T.withheld_frame) && !g_atomic_int_get(&T.hold_off);
  bool hold_media = withholding && k % 7 == 3;
  bool hold_fec = withholding && !hold_media && k % 11 == 5;
  for (int l = 0; l < 2; l++) {
    uint8_t pk[2][1500], wire[1600];
    size_t len[2];
    for (int p = 0; p < 2; p++)
      len[p] = media_packet(pk[p], l, k, p, key);
    T.layer[l].pid = (T.layer[l].pid + 1) & 0x7FFF;
    uint16_t fec_seq = T.layer[l].seq++;
    for (int p = 0; p < 2; p++) {
      if (p == 0 && hold_media)
        continue;
      memcpy(wire, pk[p], len[p]);
      dc_transport_send_rtp(T.h_t, wire, red_wrap(wire, len[p], VP8_PT), sizeof wire);
    }
    if (!hold_fec) {
      size_t n = fec_packet(wire, pk[0], len[0], pk[1], len[1], T.layer[l].ssrc, fec_seq);
      dc_transport_send_rtp(T.h_t, wire, n, sizeof wire);
      if (l == 1)
        g_atomic_int_inc(&T.fec_sent);
    }
    if (k % 5 == 2) { /* a padding-only packet, as a sender without RTX probes with: no picture */
      dc_rtp_header h = {.payload_type = RED_PT, .seq = T.layer[l].seq++, .timestamp = T.ts, .ssrc = T.layer[l].ssrc};
      size_t n = dc_rtp_write_header(wire, 64, &h, NULL, 0);
      memset(wire + n, 0, 99);
      wire[n + 99] = 100; /* RFC 3550 §5.1: the padding's last octet counts it */
      wire[0] |= 0x20;
      dc_transport_send_rtp(T.h_t, wire, n + 100, sizeof wire);
    }
  }
  if (hold_media) {
    T.withheld_frame[k] = true;
    g_atomic_int_inc(&T.withheld);
  }
  if (hold_fec) {
    if (!T.fec_withheld_first_us)
      T.fec_withheld_first_us = g_get_monotonic_time();
    g_atomic_int_inc(&T.fec_withheld);
  }
  if (!T.playing_frame && g_atomic_int_get(&T.playing))
    T.playing_frame = k;
  T.ts += 3000;
  return G_SOURCE_CONTINUE;
}

/* ---- media callbacks (the clients' worker) ---- */

static void h_rtcp(gpointer user, uint8_t *buf, size_t len) {
  (void)user;
  dc_rtcp_iter it;
  dc_rtcp_pkt pkt;
  if (dc_rtcp_validate(buf, len) != DC_OK)
    return;
  dc_rtcp_iter_init(&it, buf, len);
  while (dc_rtcp_next(&it, &pkt) == DC_OK) {
    dc_rtcp_kind kind = dc_rtcp_kind_of(&pkt);
    if ((kind == DC_RTCP_PLI || kind == DC_RTCP_FIR) && T.fec_withheld_first_us)
      g_atomic_int_inc(&T.plis);
  }
}

static void r_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)user, (void)cap;
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK || pkt.payload_type != VP8_PT)
    return;
  if (!T.seen[pkt.seq]) {
    T.seen[pkt.seq] = true;
    if (!g_atomic_int_get(&T.distinct))
      g_atomic_int_set(&T.first_seq, pkt.seq), g_atomic_int_set(&T.max_seq, pkt.seq);
    else if ((int16_t)(uint16_t)(pkt.seq - (uint16_t)g_atomic_int_get(&T.max_seq)) > 0)
      g_atomic_int_set(&T.max_seq, pkt.seq);
    g_atomic_int_inc(&T.distinct);
  }
  if (!pkt.payload_len) {
    g_atomic_int_inc(&T.fillers);
    return;
  }
  g_atomic_int_set(&T.playing, 1);
  const uint8_t *p = dc_rtp_payload(&pkt);
  size_t off = (p[0] & 0x10) ? 8 : 4; /* its descriptor, and the VP8 header on a frame's first */
  if (pkt.payload_len < off + 4)
    return;
  int l = p[off] & 1;
  unsigned k = (unsigned)(p[off + 1] << 8 | p[off + 2]);
  g_atomic_int_or(&T.layers_seen, 1 << l);
  if (p[off + 3] == 0 && k < G_N_ELEMENTS(T.withheld_frame) && T.withheld_frame[k] && !T.got_withheld[l][k]) {
    T.got_withheld[l][k] = true;
    g_atomic_int_inc(&T.rebuilt_seen);
  }
}

static void on_connected(dc_client *dc, gpointer user) {
  int i = GPOINTER_TO_INT(user);
  g_atomic_int_set(&T.connected[i], 1);
  if (i != H)
    return;
  T.h_t = dc_client_transport(dc);
  T.h_timer = g_timeout_source_new(33); /* 30 frames a second, on the worker */
  g_source_set_callback(T.h_timer, send_frame, NULL, NULL);
  g_source_attach(T.h_timer, dc_worker_context(dc_transport_worker(T.h_t)));
}

/* ---- signaling (main thread) ---- */

static char *offer_for(dc_client *dc, gpointer user) {
  if (GPOINTER_TO_INT(user) == R)
    return dc_client_meeting_offer(dc, g_random_int(), NULL, 0);
  char *transport = dc_client_offer_transport(dc);
  char *offer = g_strdup_printf(
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n%sa=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
      "a=ssrc:%u cname:h\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF %d %d %d %d %d\r\n%sa=mid:1\r\na=sendrecv\r\n"
      "a=rtpmap:%d VP8/90000\r\na=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\na=rtcp-fb:%d goog-remb\r\n"
      "a=rtpmap:%d rtx/90000\r\na=fmtp:%d apt=%d\r\n"
      "a=rtpmap:%d red/90000\r\na=rtpmap:%d rtx/90000\r\na=fmtp:%d apt=%d\r\na=rtpmap:%d ulpfec/90000\r\n"
      /* simulcast by SSRC, as webrtcbin offers it: lowest first */
      "a=ssrc-group:SIM %u %u\r\na=ssrc-group:FID %u %u\r\na=ssrc-group:FID %u %u\r\n"
      "a=ssrc:%u cname:h\r\na=ssrc:%u cname:h\r\na=ssrc:%u cname:h\r\na=ssrc:%u cname:h\r\n",
      transport, T.layer[0].ssrc - 1, VP8_PT, RTX_PT, RED_PT, RED_RTX_PT, ULPFEC_PT, transport, VP8_PT, VP8_PT, VP8_PT,
      VP8_PT, RTX_PT, RTX_PT, VP8_PT, RED_PT, RED_RTX_PT, RED_RTX_PT, RED_PT, ULPFEC_PT, T.layer[0].ssrc,
      T.layer[1].ssrc, T.layer[0].ssrc, T.layer[0].rtx_ssrc, T.layer[1].ssrc, T.layer[1].rtx_ssrc, T.layer[0].ssrc,
      T.layer[0].rtx_ssrc, T.layer[1].ssrc, T.layer[1].rtx_ssrc);
  g_free(transport);
  return offer;
}

static bool r_connected(void) { return dc_client_is_connected(T.dc[R]); }
static bool r_plays_h(void) { return g_atomic_int_get(&T.playing); }
static bool enough_withheld(void) {
  return g_atomic_int_get(&T.withheld) >= 12 && g_atomic_int_get(&T.fec_withheld) >= 6 &&
         g_get_monotonic_time() - T.fec_withheld_first_us > 2500000; /* an unanswered NACK is given up by 1 s */
}

static bool all_rebuilt_seen(void) { return g_atomic_int_get(&T.rebuilt_seen) >= g_atomic_int_get(&T.withheld); }

static void test_fec_rebuilds(void) {
  g_assert_true(dc_test_spin_until_named(r_plays_h, 30000, "R plays H's picture"));
  g_assert_true(dc_test_spin_until_named(enough_withheld, 30000, "H has withheld packets for a while"));
  g_atomic_int_set(&T.hold_off, 1);
  /* what is on its way arrives (the frame H was sending may yet withhold one) */
  dc_test_spin_for(200);
  dc_test_spin_until(all_rebuilt_seen, 5000);
  int withheld = g_atomic_int_get(&T.withheld), rebuilt = g_atomic_int_get(&T.rebuilt_seen);
  int fec_withheld = g_atomic_int_get(&T.fec_withheld), fec_sent = g_atomic_int_get(&T.fec_sent);
  int span = (uint16_t)(g_atomic_int_get(&T.max_seq) - g_atomic_int_get(&T.first_seq)) + 1;
  int holes = span - g_atomic_int_get(&T.distinct), fillers = g_atomic_int_get(&T.fillers);
  int plis = g_atomic_int_get(&T.plis);
  g_test_message("H withheld %d packets and %d FEC packets a layer (sent %d); R got %d of the withheld, rebuilt "
                 "(layers seen %#x); %d padding fillers; %d numbers missing of %d; %d key frame requests to H since",
                 withheld, fec_withheld, fec_sent, rebuilt, g_atomic_int_get(&T.layers_seen), fillers, holes, span, plis);
  g_assert_cmpint(rebuilt, ==, withheld);
  g_assert_cmpint(fillers, >=, fec_sent / 2); /* those sent before R played went to no one */
  g_assert_cmpint(holes, ==, 0);
  g_assert_cmpint(plis, ==, 0);
}

static void test_metrics(void) {
  g_atomic_int_set(&T.paused, 1);
  dc_test_spin_for(300); /* the last frame H sent reaches the bridge */
  int fec_sent = g_atomic_int_get(&T.fec_sent);
  char *text = dc_test_fetch_metrics(T.session, PORT);
  double fec = dc_test_metric(text, "diemcau_fec_packets_total"), rebuilt = dc_test_metric(text, "diemcau_fec_recovered_total");
  g_test_message("/metrics: %.0f FEC packets, %.0f rebuilt (H sent %d FEC packets and withheld %d packets a layer)", fec,
                 rebuilt, fec_sent, g_atomic_int_get(&T.withheld));
  g_assert_cmpfloat(fec, >=, 2 * fec_sent - 2); /* both layers' (fec_sent counts one) */
  g_assert_cmpfloat(rebuilt, >=, 2 * (g_atomic_int_get(&T.withheld) - 1)); /* on both layers */
  g_free(text);
}


/* The video frames in a recording's WebM, as GStreamer's demuxer reads them; -1: unreadable. */
static int webm_frames(const char *path) {
  char *desc = g_strdup_printf("filesrc location=\"%s\" ! matroskademux ! appsink name=out sync=false", path);
  GstElement *p = gst_parse_launch(desc, NULL);
  g_free(desc);
  if (!p)
    return -1;
  GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "out");
  gst_element_set_state(p, GST_STATE_PLAYING);
  int n = 0;
  GstSample *sample;
  while ((sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 5 * GST_SECOND))) {
    n++;
    gst_sample_unref(sample);
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(sink);
  gst_object_unref(p);
  return n;
}

static char *recorded_webm(void) {
  char *meeting = g_strdup_printf("%" G_GINT64_FORMAT, T.meeting);
  char *dir = g_build_filename(T.dir, "recordings", meeting, NULL), *found = NULL;
  g_free(meeting);
  GDir *d = g_dir_open(dir, 0, NULL);
  const char *name;
  while (d && !found && (name = g_dir_read_name(d)))
    if (g_str_has_suffix(name, ".webm"))
      found = g_build_filename(dir, name, NULL);
  if (d)
    g_dir_close(d);
  g_free(dir);
  return found;
}

static bool webm_written(void) {
  char *path = recorded_webm();
  GStatBuf st;
  bool ok = path && g_stat(path, &st) == 0 && st.st_size > 0;
  g_free(path);
  return ok;
}

/* A few seconds of H recorded (its frames protected by FEC, some rebuilt, some FEC packets
 * withheld): nearly every frame H sent meanwhile is in the file. Without the padding for the
 * FEC packets' numbers it held the key frames (one each 2 s) and little else. */
static void test_recording(void) {
  g_atomic_int_set(&T.paused, 0);
  char *path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/recording", T.meeting);
  g_assert_cmpuint(dc_test_api(T.session, PORT, T.api_key, path, "{\"recording\":true}", NULL), ==, 200);
  T.recording_from = T.frame;
  dc_test_spin_for(4000);
  g_assert_cmpuint(dc_test_api(T.session, PORT, T.api_key, path, "{\"recording\":false}", NULL), ==, 200);
  T.recording_to = T.frame;
  g_free(path);
  g_assert_true(dc_test_spin_until_named(webm_written, 10000, "the recording's WebM is written"));
  dc_test_spin_for(1000); /* its end */
  char *webm = recorded_webm();
  int frames = webm_frames(webm);
  int sent = (int)(T.recording_to - T.recording_from);
  g_test_message("%s: %d frames of the %d H sent while recording", webm, frames, sent);
  g_free(webm);
  /* the recording starts at a key frame it asks for (one spacing, up to 2.5 s, may pass) */
  g_assert_cmpint(frames, >=, sent / 3);
}

static void test_stops_cleanly(void) { dc_test_assert_stops_cleanly(T.bridge); }

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  const char *exe = g_getenv("DC_BRIDGE");
  if (!exe) {
    g_printerr("set DC_BRIDGE to the diemcau-bridge executable\n");
    return 2;
  }
  for (int l = 0; l < 2; l++) {
    T.layer[l].ssrc = (uint32_t)g_random_int_range(0x10000, G_MAXINT32 - 16) + (uint32_t)l;
    T.layer[l].rtx_ssrc = T.layer[l].ssrc + 7;
    T.layer[l].seq = (uint16_t)g_random_int(); /* each layer its own numbering */
    T.layer[l].pid = (uint16_t)(g_random_int() & 0x7FFF);
  }
  gst_init(&argc, &argv);
  GError *err = NULL;
  T.dir = g_dir_make_tmp("diemcau-fec-XXXXXX", NULL);
  char **tokens;
  int64_t meeting = T.meeting = dc_test_make_meeting(T.dir, N_CLIENTS, &tokens);
  {
    char *db = g_build_filename(T.dir, "diemcau.db", NULL);
    dc_store *store = dc_store_open(db, &err);
    g_assert_no_error(err);
    T.api_key = dc_store_new_api_key(store, "recording", "admin", NULL, &err);
    g_assert_no_error(err);
    dc_store_close(store);
    g_free(db);
  }
  for (int i = 0; i < N_CLIENTS; i++)
    T.token[i] = g_strdup(tokens[i]);
  g_strfreev(tokens);
  T.bridge = dc_test_start_bridge(exe, T.dir, PORT, g_getenv("DC_LOG_LEVEL") ? g_getenv("DC_LOG_LEVEL") : "warning");
  g_assert_nonnull(T.bridge);
  T.session = soup_session_new();
  T.workers = dc_workers_new(1);
  T.id = dc_dtls_identity_new("fec-test", &err);
  g_assert_no_error(err);
  char *url = g_strdup_printf("ws://127.0.0.1:%d/ws", PORT);
  /* R, which sends no camera, joins and connects first: with nobody speaking the recording
   * once showed the first to join, and held no picture (/fec-daemon/recording) */
  static const int join_order[N_CLIENTS] = {R, H};
  for (int k = 0; k < N_CLIENTS; k++) {
    int i = join_order[k];
    const dc_client_callbacks cb = {.offer = offer_for, .connected = on_connected, .rtp = i == R ? r_rtp : NULL,
                                    .rtcp = i == H ? h_rtcp : NULL};
    dc_client_config cfg = {.session = T.session, .workers = T.workers, .identity = T.id, .ws_url = url,
                            .meeting = meeting, .token = T.token[i], .name = profile_of[i], .slots = 2,
                            .reports = true, .profile = profile_of[i]};
    T.dc[i] = dc_client_new(&cfg, &cb, GINT_TO_POINTER(i));
    if (i == R)
      g_assert_true(dc_test_spin_until_named(r_connected, 30000, "R connected, before H joins"));
  }
  g_test_add_func("/fec-daemon/rebuilds", test_fec_rebuilds);
  g_test_add_func("/fec-daemon/metrics", test_metrics);
  g_test_add_func("/fec-daemon/recording", test_recording);
  g_test_add_func("/fec-daemon/stops-cleanly", test_stops_cleanly);
  int rc = g_test_run();
  if (T.h_timer) { /* stopped before the transports close (the worker's source) */
    g_source_destroy(T.h_timer);
    g_source_unref(T.h_timer);
  }
  for (int i = 0; i < N_CLIENTS; i++)
    dc_client_close(T.dc[i]);
  dc_workers_free(T.workers);
  for (int i = 0; i < N_CLIENTS; i++) {
    dc_client_free(T.dc[i]);
    g_free(T.token[i]);
  }
  dc_dtls_identity_unref(T.id);
  g_object_unref(T.session);
  g_object_unref(T.bridge);
  g_free(url);
  char *rm[] = {"rm", "-rf", T.dir, NULL};
  g_spawn_sync(NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(T.dir);
  g_free(T.api_key);
  return rc;
}
