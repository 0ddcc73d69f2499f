/* The mix's audio copies (RFC 2198) on the wire, in the real daemon: which earlier frame each
 * copy is. Four native clients join one meeting:
 *
 *   TALKER, a standard point, speaks (a tone in 20 ms Opus frames);
 *   RUNS, a highland point that offers RED, reports 10 % loss on the mix, and whose own audio
 *   reaches the bridge with gaps of two packets (a link that loses in runs);
 *   SINGLES, the same but with gaps of one packet (random loss);
 *   WAITS, as RUNS, but its join says its jitter buffer waits 140 ms (audio_wait_ms), and
 *   once the bridge has seen the runs it says 260 (audio_wait), as the native endpoint's
 *   highland profile does when its mix is lost in runs.
 *
 * - SINGLES's copies are each of the frame before (60 ms back, the tier's packet time).
 * - WAITS's are of the frame before while it says 140 ms, runs or not (what 140 allows with
 *   80 to spare for the link's jitter), then of the frame three back (180 ms: what 260 ms
 *   allows); never two back, nor one back again.
 * - RUNS's are of the frame two back once the bridge has seen its runs (after the first
 *   DC_LOSS_RUNS_SETTLE_US of its stream, which do not count), and of the frame before until
 *   then; never one back after the first two back. A copy two back repairs a run of two whole;
 *   the frame before, only its last (media/mixer.h dc_mixer_red_reach_policy).
 * - Neither gets two copies, though RUNS reports enough loss for them: nothing tells the bridge
 *   an audio-only point's link has room for them (bridge/feedback.c red_deep_allowed; on a
 *   32 kbit/s link they overflowed it).
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <math.h>
#include <opus.h>
#include <string.h>

#include "bridge/transport.h"
#include "media/red.h"
#include "media/rtcp.h"
#include "media/srtp.h"
#include "media/rtp.h"
#include "tests/lib/daemon.h"
#include "tests/lib/native_client.h"

#define PORT 18654
#define OPUS_PT 111
#define RED_PT 63
#define HIGHLAND_FRAME 2880 /* samples in the highland tier's 60 ms packet */
#define GAP_EVERY 10        /* a point's own audio loses packets once in this many sent */
#define COPIES 20           /* copies of each kind a point must get */
#define TIMEOUT_MS 60000

#define WAIT_MS 140      /* WAITS's jitter buffer, as its join says */
#define RUNS_WAIT_MS 260 /* and once it says its link loses in runs */

enum { TALKER, RUNS, SINGLES, WAITS, N_CLIENTS };
static const char *const name_of[N_CLIENTS] = {"talker", "runs", "singles", "waits"};

typedef struct {
  int index;
  char *token;
  dc_client *dc;
  dc_transport *t; /* its worker's, once connected */
  GSource *timer, *reporter;
  OpusEncoder *enc;
  uint16_t seq;
  uint32_t ts, ssrc;
  unsigned sent; /* 20 ms frames made, those the link "lost" included */
  double phase;
  /* its worker: the mix it receives */
  uint32_t mix_ssrc;
  uint32_t mix_highest; /* its extended highest sequence number (RFC 3550 A.1), 0: none yet */
  gint connected, red_packets, one_back, two_back, three_back, two_copies, odd_offsets, one_back_after_two;
} client;

static struct {
  SoupSession *session;
  dc_workers *workers;
  dc_dtls_identity *id;
  GSubprocess *bridge;
  char *dir;
  client c[N_CLIENTS];
} T;

/* ---- what each client sends (its worker) ---- */

/* Every 20 ms: the talker's tone, or a highland point's quiet (it is heard, not mixed), of
 * which the point's link drops one packet (SINGLES) or two in a row (RUNS) in GAP_EVERY. */
static gboolean send_audio(gpointer data) {
  client *c = data;
  int16_t pcm[960];
  for (int i = 0; i < 960; i++) {
    pcm[i] = c->index == TALKER ? (int16_t)(8000 * sin(c->phase)) : 0;
    c->phase += 2 * G_PI * 400.0 / 48000.0;
  }
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtp_header h = {.payload_type = OPUS_PT, .seq = c->seq++, .timestamp = c->ts, .ssrc = c->ssrc};
  c->ts += 960;
  unsigned phase = c->sent++ % GAP_EVERY;
  size_t n = dc_rtp_write_header(buf, sizeof buf, &h, NULL, 0);
  opus_int32 len = opus_encode(c->enc, pcm, 960, buf + n, 400);
  bool lost = c->index == RUNS || c->index == WAITS ? phase >= GAP_EVERY - 2 : c->index == SINGLES && phase == GAP_EVERY - 1;
  if (len > 0 && !lost)
    dc_transport_send_rtp(c->t, buf, n + (size_t)len, sizeof buf);
  return G_SOURCE_CONTINUE;
}

/* Every second: a receiver report on the mix that says 10 % of it was lost, as a point on a
 * lossy link says. */
static gboolean report(gpointer data) {
  client *c = data;
  uint32_t mix = c->mix_ssrc;
  if (!mix)
    return G_SOURCE_CONTINUE;
  dc_rtcp_report rr = {.ssrc = c->ssrc, .n_blocks = 1};
  /* over what came since the last (a block over nothing is no report: dc_loss_reports_add) */
  rr.blocks[0] = (dc_rtcp_report_block){.ssrc = mix, .fraction_lost = 26, .ext_highest_seq = c->mix_highest};
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, sizeof buf - DC_SRTP_MAX_TRAILER);
  dc_rtcp_write_rr(&w, &rr);
  if (!w.overflow)
    dc_transport_send_rtcp(c->t, buf, w.len, sizeof buf);
  return G_SOURCE_CONTINUE;
}

static void on_connected(dc_client *dc, gpointer user) {
  client *c = user;
  c->t = dc_client_transport(dc);
  GMainContext *ctx = dc_worker_context(dc_transport_worker(c->t));
  c->timer = g_timeout_source_new(20);
  g_source_set_callback(c->timer, send_audio, c, NULL);
  g_source_attach(c->timer, ctx);
  if (c->index != TALKER) {
    c->reporter = g_timeout_source_new(1000);
    g_source_set_callback(c->reporter, report, c, NULL);
    g_source_attach(c->reporter, ctx);
  }
  g_atomic_int_set(&c->connected, 1);
}

/* ---- what a highland point receives (its worker) ---- */

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)cap;
  client *c = user;
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK)
    return;
  c->mix_ssrc = pkt.ssrc;
  uint16_t ahead = (uint16_t)(pkt.seq - (uint16_t)c->mix_highest);
  if (!c->mix_highest)
    c->mix_highest = (uint32_t)pkt.seq + 65536u; /* a cycle up: never 0 */
  else if (ahead && ahead < 0x8000)
    c->mix_highest += ahead;
  if (pkt.payload_type != RED_PT)
    return;
  dc_red_block blocks[DC_RED_MAX_BLOCKS];
  size_t n;
  if (dc_red_parse(dc_rtp_payload(&pkt), pkt.payload_len, blocks, DC_RED_MAX_BLOCKS, &n) != DC_OK || n < 1)
    return;
  g_atomic_int_inc(&c->red_packets);
  if (n > 2)
    g_atomic_int_inc(&c->two_copies);
  else if (n == 2 && blocks[0].ts_offset == HIGHLAND_FRAME) {
    g_atomic_int_inc(&c->one_back);
    if (g_atomic_int_get(&c->two_back) || g_atomic_int_get(&c->three_back))
      g_atomic_int_inc(&c->one_back_after_two);
  } else if (n == 2 && blocks[0].ts_offset == 2 * HIGHLAND_FRAME) {
    g_atomic_int_inc(&c->two_back);
  } else if (n == 2 && blocks[0].ts_offset == 3 * HIGHLAND_FRAME) {
    g_atomic_int_inc(&c->three_back);
  } else if (n == 2) { /* after a pause (DTX) a copy is further back: none of these */
    g_atomic_int_inc(&c->odd_offsets);
  }
}

static char *offer_for(dc_client *dc, gpointer user) {
  client *c = user;
  if (c->index == TALKER)
    return dc_client_audio_offer(dc, c->ssrc);
  char *transport = dc_client_offer_transport(dc);
  char *offer = g_strdup_printf("v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
                                "m=audio 9 UDP/TLS/RTP/SAVPF %d %d\r\n%sa=mid:0\r\na=sendrecv\r\n"
                                "a=rtpmap:%d opus/48000/2\r\na=fmtp:%d minptime=10;useinbandfec=1\r\n"
                                "a=rtpmap:%d red/48000/2\r\na=fmtp:%d %d/%d\r\na=ssrc:%u cname:native\r\n",
                                c->ssrc, OPUS_PT, RED_PT, transport, OPUS_PT, OPUS_PT, RED_PT, RED_PT, OPUS_PT,
                                OPUS_PT, c->ssrc);
  g_free(transport);
  return offer;
}

/* Enough of each kind came, or a packet with two copies, or one two back to WAITS, which fail
 * the test at once. */
static bool copies_came(void) {
  const client *runs = &T.c[RUNS], *singles = &T.c[SINGLES], *waits = &T.c[WAITS];
  if (g_atomic_int_get(&runs->two_copies) || g_atomic_int_get(&singles->two_copies) ||
      g_atomic_int_get(&waits->two_copies) || g_atomic_int_get(&waits->two_back))
    return true;
  return g_atomic_int_get(&runs->two_back) >= COPIES && g_atomic_int_get(&runs->one_back) >= COPIES &&
         g_atomic_int_get(&singles->one_back) >= 3 * COPIES && g_atomic_int_get(&waits->three_back) >= COPIES &&
         g_atomic_int_get(&waits->one_back) >= COPIES;
}

/* The bridge has seen RUNS's runs (WAITS's are the same), and WAITS has had copies since. */
static bool runs_seen(void) {
  return g_atomic_int_get(&T.c[RUNS].two_back) >= COPIES && g_atomic_int_get(&T.c[WAITS].one_back) >= COPIES;
}

static void test_copies_reach(void) {
  bool seen = dc_test_spin_until(runs_seen, TIMEOUT_MS);
  client *waits = &T.c[WAITS];
  int early_one_back = g_atomic_int_get(&waits->one_back), early_further = g_atomic_int_get(&waits->two_back) +
                                                                          g_atomic_int_get(&waits->three_back);
  g_test_message("runs %s; waits, saying %d ms: %d copies one back, %d further back", seen ? "seen" : "not seen in time",
                 WAIT_MS, early_one_back, early_further);
  g_assert_true(seen);
  g_assert_cmpint(early_further, ==, 0);
  char *more = g_strdup_printf("{\"v\":1,\"type\":\"audio_wait\",\"audio_wait_ms\":%d}", RUNS_WAIT_MS);
  dc_client_send_text(waits->dc, more);
  g_free(more);
  bool came = dc_test_spin_until(copies_came, TIMEOUT_MS);
  for (int i = RUNS; i < N_CLIENTS; i++) {
    client *c = &T.c[i];
    g_test_message("%s point (own audio loses %s%s): %s; %d RED packets: %d with a copy one back, %d two back "
                   "(%d one back after the first further back), %d three back, %d with two copies, %d further back",
                   name_of[i], i == SINGLES ? "1 in 10" : "2 in 10 in a row", i == WAITS ? ", waits 140 ms, then 260" : "",
                   g_atomic_int_get(&c->connected) ? "connected" : "not connected", g_atomic_int_get(&c->red_packets),
                   g_atomic_int_get(&c->one_back), g_atomic_int_get(&c->two_back),
                   g_atomic_int_get(&c->one_back_after_two), g_atomic_int_get(&c->three_back),
                   g_atomic_int_get(&c->two_copies), g_atomic_int_get(&c->odd_offsets));
  }
  g_assert_true(came);
  for (int i = RUNS; i < N_CLIENTS; i++)
    g_assert_cmpint(g_atomic_int_get(&T.c[i].two_copies), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&T.c[SINGLES].two_back), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&T.c[SINGLES].three_back), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&T.c[RUNS].one_back_after_two), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&T.c[RUNS].three_back), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&T.c[WAITS].one_back_after_two), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&T.c[WAITS].two_back), ==, 0);
}

static void test_stops_cleanly(void) { dc_test_assert_stops_cleanly(T.bridge); }

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  const char *exe = g_getenv("DC_BRIDGE");
  if (!exe) {
    g_printerr("set DC_BRIDGE to the diemcau-bridge executable\n");
    return 2;
  }
  T.dir = g_dir_make_tmp("diemcau-red-XXXXXX", NULL);
  char **tokens;
  int64_t meeting = dc_test_make_meeting(T.dir, N_CLIENTS, &tokens);
  T.bridge = dc_test_start_bridge(exe, T.dir, PORT, "warning");
  g_assert_nonnull(T.bridge);
  GError *err = NULL;
  T.session = soup_session_new();
  T.workers = dc_workers_new(1);
  T.id = dc_dtls_identity_new("red-test", &err);
  g_assert_no_error(err);
  char *url = g_strdup_printf("ws://127.0.0.1:%d/ws", PORT);
  const dc_client_callbacks cb = {.offer = offer_for, .connected = on_connected, .rtp = on_rtp};
  for (int i = 0; i < N_CLIENTS; i++) {
    client *c = &T.c[i];
    c->index = i;
    c->token = g_strdup(tokens[i]);
    c->ssrc = 0xD0000000u + (unsigned)i;
    c->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, NULL);
    g_assert_nonnull(c->enc);
    /* the talker reports every second as every peer does (a clean link); the highland
     * points send their own reports, with loss */
    dc_client_config cfg = {.session = T.session, .workers = T.workers, .identity = T.id, .ws_url = url,
                            .meeting = meeting, .token = c->token, .name = name_of[i], .slots = 1,
                            .reports = i == TALKER, .profile = i == TALKER ? "standard" : "highland",
                            .audio_wait_ms = i == WAITS ? WAIT_MS : 0};
    c->dc = dc_client_new(&cfg, &cb, c);
  }
  g_strfreev(tokens);
  g_test_add_func("/red/copies-reach-by-how-the-link-loses", test_copies_reach);
  g_test_add_func("/red/stops-cleanly", test_stops_cleanly);
  int rc = g_test_run();
  for (int i = 0; i < N_CLIENTS; i++) {
    GSource **sources[] = {&T.c[i].timer, &T.c[i].reporter};
    for (size_t k = 0; k < G_N_ELEMENTS(sources); k++)
      if (*sources[k]) {
        g_source_destroy(*sources[k]);
        g_source_unref(*sources[k]);
      }
    dc_client_close(T.c[i].dc);
  }
  dc_workers_free(T.workers);
  for (int i = 0; i < N_CLIENTS; i++) {
    dc_client_free(T.c[i].dc);
    opus_encoder_destroy(T.c[i].enc);
    g_free(T.c[i].token);
  }
  dc_dtls_identity_unref(T.id);
  g_object_unref(T.session);
  g_object_unref(T.bridge);
  g_free(url);
  char *rm[] = {"rm", "-rf", T.dir, NULL};
  g_spawn_sync(NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(T.dir);
  return rc;
}
