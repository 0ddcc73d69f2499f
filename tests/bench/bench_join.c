/* bench_join — join time and idle memory per participant, on loopback, against the real
 * daemon. Run by hand: build/normal/tests/bench/bench_join build/normal/diemcau-bridge
 *
 * A native client (our own transport in the ICE-controlling, DTLS-client role, libsoup for
 * signaling) joins an audio-only meeting in which one "speaker" client sends a 20 ms Opus-
 * sized packet stream. Join time is from WebSocket open to the first SRTP packet the new
 * client decrypts: join, offer, answer, ICE, DTLS, first forwarded packet. 20 joins are
 * timed one after another; then 30 more join, and the bridge's RSS growth is divided by the
 * 50 listeners. Targets: p95 join under 300 ms; under 200 KiB per participant.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

#include "bridge/transport.h"
#include "tests/lib/daemon.h"
#include "tests/lib/native_client.h"
#include "media/rtp.h"
#include "media/sdp.h"
#include "signaling/store.h"
#include "signaling/token.h"

#define TIMED_JOINS 20
#define LISTENERS 50
#define PORT 18644

typedef struct {
  int index;
  char *token;
  dc_client *dc;
  gint64 first_rtp_us; /* set on the worker */
  bool sender;
  GSource *timer;
  dc_transport *t;     /* the worker's, once connected */
  uint16_t seq;
  uint32_t ts;
} client;

static struct {
  SoupSession *session;
  dc_workers *workers;
  dc_dtls_identity *id;
  int64_t meeting;
  char *url;
} B;

/* ---- media (the client's worker) ---- */

static gboolean send_audio(gpointer data) {
  client *c = data;
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtp_header h = {.payload_type = 111, .seq = c->seq++, .timestamp = c->ts, .ssrc = 0xB0000000u};
  c->ts += 960;
  size_t n = dc_rtp_write_header(buf, sizeof buf, &h, NULL, 0);
  memset(buf + n, 0x5A, 60); /* an Opus frame's size at 24 kbit/s */
  dc_transport_send_rtp(c->t, buf, n + 60, sizeof buf);
  return G_SOURCE_CONTINUE;
}

static void on_connected(dc_client *dc, gpointer user) {
  client *c = user;
  c->t = dc_client_transport(dc);
  if (c->sender) {
    c->timer = g_timeout_source_new(20);
    g_source_set_callback(c->timer, send_audio, c, NULL);
    g_source_attach(c->timer, dc_worker_context(dc_transport_worker(c->t)));
  }
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  client *c = user;
  if (!c->first_rtp_us)
    c->first_rtp_us = g_get_monotonic_time();
}

/* ---- signaling (main thread) ---- */

static char *audio_offer(dc_client *dc, gpointer user) {
  return dc_client_audio_offer(dc, 0xB0000000u + (unsigned)((client *)user)->index);
}

static void start_client(client *c) {
  static const dc_client_callbacks cb = {.offer = audio_offer, .connected = on_connected, .rtp = on_rtp};
  dc_client_config cfg = {.session = B.session, .workers = B.workers, .identity = B.id, .ws_url = B.url,
                          .meeting = B.meeting, .token = c->token, .name = "bench", .slots = 1, .reports = true};
  c->dc = dc_client_new(&cfg, &cb, c);
}

/* Iterates the main loop until pred() or the timeout. */
static bool spin(bool (*pred)(client *), client *c, int ms) {
  gint64 end = g_get_monotonic_time() + ms * 1000;
  while (!pred(c) && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, FALSE), g_usleep(200);
  return pred(c);
}
static bool got_rtp(client *c) { return c->first_rtp_us != 0; }
static bool is_connected(client *c) { return c->dc && dc_client_is_connected(c->dc); }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: bench_join PATH/TO/diemcau-bridge\n");
    return 2;
  }
  /* The meeting and invitations go in the store before the daemon opens it. */
  char *dir = g_dir_make_tmp("diemcau-bench-XXXXXX", NULL);
  char *db = g_build_filename(dir, "diemcau.db", NULL);
  GError *err = NULL;
  dc_store *store = dc_store_open(db, &err);
  g_assert_no_error(err);
  int64_t point = dc_store_add_point(store, "Bench", "commune", "standard", &err);
  B.meeting = dc_store_create_meeting(store, "Bench", 1, 4000000000, point, &err);
  client *clients = g_new0(client, LISTENERS + 1);
  for (int i = 0; i <= LISTENERS; i++) {
    int64_t inv = dc_store_create_invitation(store, B.meeting, point, "participant", 4000000000, &err);
    dc_token_claims c = {.invitation_id = inv, .meeting_id = B.meeting, .point_id = point,
                         .role = "participant", .expires_at = 4000000000};
    clients[i].token = dc_token_sign(dc_store_secret(store), &c);
    clients[i].index = i;
  }
  g_free(dc_store_new_api_key(store, "test", "admin", NULL, &err)); /* so the daemon does not print a first-start key */
  dc_store_close(store);

  char *port = g_strdup_printf("%d", PORT);
  GSubprocess *bridge = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &err, argv[1],
      "--data-dir", dir, "--plain-http", "--listen", "127.0.0.1", "--port", port,
      "--ice-address", "127.0.0.1", "--log-level", "warning", NULL);
  g_assert_no_error(err);
  GPid pid = (GPid)g_ascii_strtoll(g_subprocess_get_identifier(bridge), NULL, 10);
  g_usleep(500000);
  B.session = soup_session_new();
  B.url = g_strdup_printf("ws://127.0.0.1:%d/ws", PORT);
  B.workers = dc_workers_new(1);
  B.id = dc_dtls_identity_new("bench", &err);

  client *speaker = &clients[0];
  speaker->sender = true;
  start_client(speaker);
  if (!spin(is_connected, speaker, 10000)) {
    fprintf(stderr, "the speaker could not connect\n");
    return 1;
  }
  g_usleep(300000);
  long rss_before = dc_test_rss_kib(pid);
  double ms[TIMED_JOINS];
  int timed = 0;
  for (int i = 1; i <= LISTENERS; i++) {
    start_client(&clients[i]);
    bool ok = spin(got_rtp, &clients[i], 5000);
    if (i <= TIMED_JOINS && ok)
      ms[timed++] = (clients[i].first_rtp_us - dc_client_opened_us(clients[i].dc)) / 1000.0;
    if (!ok)
      fprintf(stderr, "join %d: no media within 5 s\n", i);
  }
  for (int k = 0; k < 20; k++) /* let allocations settle */
    g_main_context_iteration(NULL, FALSE), g_usleep(50000);
  long rss_after = dc_test_rss_kib(pid);
  qsort(ms, (size_t)timed, sizeof ms[0], cmp_double);
  double p50 = timed ? ms[timed / 2] : 0, p95 = timed ? ms[(timed * 95 + 99) / 100 - 1] : 0;
  double per = (double)(rss_after - rss_before) / LISTENERS;
  printf("%-52s %12s\n", "measure (loopback, 2 media workers)", "value");
  printf("%-52s %9d/%d\n", "timed joins that got media", timed, TIMED_JOINS);
  printf("%-52s %9.1f ms\n", "join to first SRTP packet, p50", p50);
  printf("%-52s %9.1f ms  (goal: under 300 ms)\n", "join to first SRTP packet, p95", p95);
  printf("%-52s %9.1f ms\n", "join to first SRTP packet, max", timed ? ms[timed - 1] : 0);
  printf("%-52s %9ld KiB\n", "bridge RSS with the speaker alone", rss_before);
  printf("%-52s %9ld KiB\n", "bridge RSS with 50 more participants", rss_after);
  printf("%-52s %9.1f KiB  (goal: under 200 KiB)\n", "RSS per connected participant", per);
  printf("{\"bench\":\"join\",\"joins\":%d,\"p50_ms\":%.1f,\"p95_ms\":%.1f,\"rss_before_kib\":%ld,"
         "\"rss_after_kib\":%ld,\"kib_per_participant\":%.1f}\n", timed, p50, p95, rss_before, rss_after, per);
  g_subprocess_send_signal(bridge, SIGTERM);
  g_subprocess_wait(bridge, NULL, NULL);
  return timed == TIMED_JOINS ? 0 : 1;
}
