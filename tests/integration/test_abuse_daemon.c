/* Floods against the real daemon (issue 16), each with the others' delivery measured during
 * it. Three native clients on our own transport: S talks (Opus, 50 packets a second), R
 * receives the mix (50 a second), and A, a joined participant, attacks; then a plain UDP
 * socket throws junk and forged STUN at every media port. Each attack runs for 3 s; R's
 * packets a second during it must stay within 10 % of before, and the daemon must stop
 * cleanly at the end.
 *   - A sends malformed RTP (random payload types, lengths and bytes) inside valid SRTP at
 *     ten times an audio stream's rate;
 *   - A sends malformed RTCP inside valid SRTCP at the same rate;
 *   - A's own SRTP packets, captured on the wire (AF_PACKET on loopback), replayed from A's
 *     address and port (a raw socket) at over ten times its rate: every one refused by the
 *     bridge's SRTP (its counter says so);
 *   - junk datagrams (RTP-looking, DTLS-looking and random) and STUN binding requests with a
 *     username nobody has, 20 000 a second, at every media port.
 * And a full disk: the daemon runs in a mount namespace of its own with a 16 KiB tmpfs for its
 * recordings; a recording started through the API stops by itself with "the disk is full",
 * everyone's roster says so, and R's delivery goes on. */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <math.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <opus.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/rtp.h"
#include "signaling/store.h"
#include "signaling/token.h"
#include "tests/lib/daemon.h"
#include "tests/lib/native_client.h"

#define PORT 18649
#define MEDIA_MIN 41200
#define MEDIA_MAX 41219
#define PHASE_MS 3000
#define A_SSRC 0x1002u /* offer_for's SSRC for A */

enum { S, R, A, N_CLIENTS };

typedef struct {
  char *token;
  dc_client *dc;
  char *recording_error; /* R, main thread: the roster's, once it says one */
  gint connected;
  gint received; /* R: RTP packets from the bridge */
  uint16_t seq;
  uint32_t ts;
} client;

static struct {
  SoupSession *session;
  dc_workers *workers;
  dc_dtls_identity *id;
  GSubprocess *bridge;
  char *dir;
  client c[N_CLIENTS];
  uint8_t opus[400];
  size_t opus_len;
  gint attack; /* 0 none, 1 RTP junk, 2 RTCP junk, 3 A's own audio (A's worker reads it) */
} T;

static void on_message(dc_client *dc, const char *type, JsonObject *o, gpointer user) {
  (void)dc;
  client *c = user;
  if (!strcmp(type, "roster") && json_object_has_member(o, "recording_error")) {
    g_free(c->recording_error);
    c->recording_error = g_strdup(json_object_get_string_member(o, "recording_error"));
  }
}

static char *offer_for(dc_client *dc, gpointer user) {
  return dc_client_audio_offer(dc, 0x1000u + (uint32_t)(((client *)user) - T.c));
}

/* Every 2 ms on the clients' worker: S's audio every 20 ms; A's junk, 10 packets a tick. */
static gboolean tick(gpointer unused) {
  (void)unused;
  static unsigned n;
  n++;
  uint8_t buf[DC_TRANSPORT_BUF];
  client *s = &T.c[S], *a = &T.c[A];
  if (n % 10 == 0 && g_atomic_int_get(&s->connected)) {
    dc_rtp_header h = {.payload_type = 111, .seq = s->seq++, .timestamp = s->ts, .ssrc = 0x1000};
    s->ts += 960;
    size_t hl = dc_rtp_write_header(buf, sizeof buf, &h, NULL, 0);
    memcpy(buf + hl, T.opus, T.opus_len);
    dc_transport_send_rtp(dc_client_transport(s->dc), buf, hl + T.opus_len, sizeof buf);
  }
  int attack = g_atomic_int_get(&T.attack);
  if (attack == 3 && g_atomic_int_get(&a->connected) && n % 10 == 0) { /* A talks: to be replayed */
    dc_rtp_header h = {.payload_type = 111, .seq = a->seq++, .timestamp = a->ts, .ssrc = A_SSRC};
    a->ts += 960;
    size_t hl = dc_rtp_write_header(buf, sizeof buf, &h, NULL, 0);
    memcpy(buf + hl, T.opus, T.opus_len);
    dc_transport_send_rtp(dc_client_transport(a->dc), buf, hl + T.opus_len, sizeof buf);
  } else if (attack && attack != 3 && g_atomic_int_get(&a->connected) && n % 2 == 0) { /* 500 a second */
    size_t len = 12 + g_random_int_range(0, 1100);
    for (size_t i = 0; i < len; i++)
      buf[i] = (uint8_t)g_random_int();
    if (attack == 1) {
      buf[0] = 0x80 | (buf[0] & 0x3f); /* version 2, anything else */
      buf[1] = (uint8_t)g_random_int_range(0, 128);
      dc_transport_send_rtp(dc_client_transport(a->dc), buf, len, sizeof buf);
    } else {
      buf[0] = 0x80 | (buf[0] & 0x3f);
      buf[1] = (uint8_t)g_random_int_range(192, 224); /* RTCP's packet types (RFC 5761) */
      dc_transport_send_rtcp(dc_client_transport(a->dc), buf, len, sizeof buf);
    }
  }
  return G_SOURCE_CONTINUE;
}

static void on_connected(dc_client *dc, gpointer user) {
  (void)dc;
  g_atomic_int_set(&((client *)user)->connected, 1);
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)buf, (void)len, (void)cap;
  g_atomic_int_inc(&((client *)user)->received);
}

static bool all_connected(void) {
  for (int i = 0; i < N_CLIENTS; i++)
    if (!g_atomic_int_get(&T.c[i].connected))
      return false;
  return true;
}

/* R's packets a second over PHASE_MS, while `during` runs every millisecond (or nothing). */
static double r_rate(void (*during)(int *sock), int *sock) {
  int before = g_atomic_int_get(&T.c[R].received);
  gint64 start = g_get_monotonic_time(), end = start + PHASE_MS * 1000;
  while (g_get_monotonic_time() < end) {
    if (during)
      during(sock);
    g_main_context_iteration(NULL, FALSE);
    g_usleep(1000);
  }
  return (g_atomic_int_get(&T.c[R].received) - before) / ((g_get_monotonic_time() - start) / 1e6);
}

/* Two junk datagrams to each media port: one of each kind in turn. */
static void junk(int *sock) {
  static unsigned k;
  uint8_t buf[600];
  for (int port = MEDIA_MIN; port <= MEDIA_MAX; port++) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t len = 20 + g_random_int_range(0, 500);
    for (size_t i = 0; i < len; i++)
      buf[i] = (uint8_t)g_random_int();
    switch (k++ % 6) { /* RTP-looking half the time: those reach our SRTP, and are counted */
    case 0:
    case 1:
    case 2: buf[0] = 0x80; buf[1] = 111; break;            /* looks like RTP */
    case 3: buf[0] = 22; buf[1] = 0xfe; buf[2] = 0xfd; break; /* looks like DTLS */
    case 4: {                                               /* a STUN binding request, nobody's */
      static const uint8_t stun[] = {0x00, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42};
      memcpy(buf, stun, sizeof stun);
      buf[20] = 0x00, buf[21] = 0x06, buf[22] = 0x00, buf[23] = 0x08; /* USERNAME, 8 bytes */
      memcpy(buf + 24, "nobody:x", 8);
      len = 32;
      break;
    }
    default: break; /* anything */
    }
    sendto(*sock, buf, len, 0, (struct sockaddr *)&to, sizeof to);
  }
}

static double baseline;

/* Media ports in the range that the daemon holds (binding one fails): what the junk hits. */
static int ports_in_use(void) {
  int n = 0;
  for (int port = MEDIA_MIN; port <= MEDIA_MAX; port++) {
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    n += bind(sock, (struct sockaddr *)&at, sizeof at) != 0;
    close(sock);
  }
  return n;
}

static void test_delivery_before(void) {
  gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while (!all_connected() && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, FALSE), g_usleep(1000);
  g_assert_true(all_connected());
  dc_test_spin_for(1000);
  baseline = r_rate(NULL, NULL);
  g_test_message("R gets %.1f packets a second before any attack", baseline);
  g_assert_cmpfloat(baseline, >, 40);
}

static void check_phase(const char *what, double rate) {
  g_test_message("R gets %.1f packets a second during %s (%.1f before)", rate, what, baseline);
  g_assert_cmpfloat(rate, >=, 0.9 * baseline);
}

static void test_rtp_junk_from_a_peer(void) {
  g_atomic_int_set(&T.attack, 1);
  double rate = r_rate(NULL, NULL);
  g_atomic_int_set(&T.attack, 0);
  check_phase("A's malformed RTP, 500 a second", rate);
}

static void test_rtcp_junk_from_a_peer(void) {
  g_atomic_int_set(&T.attack, 2);
  double rate = r_rate(NULL, NULL);
  g_atomic_int_set(&T.attack, 0);
  check_phase("A's malformed RTCP, 500 a second", rate);
}

static void test_junk_at_media_ports(void) {
  int sock = socket(AF_INET, SOCK_DGRAM, 0);
  g_assert_cmpint(sock, >=, 0);
  /* libnice drops what comes from no address ICE knows: our SRTP never even sees it. The
   * check that the junk hit live sockets is that the daemon holds ports in the range. */
  int live = ports_in_use();
  g_test_message("the daemon holds %d of the %d media ports the junk goes to", live, MEDIA_MAX - MEDIA_MIN + 1);
  g_assert_cmpint(live, >=, N_CLIENTS);
  double rate = r_rate(junk, &sock); /* 20 ports, one each a millisecond */
  close(sock);
  check_phase("junk and forged STUN at every media port", rate);
}

static char *api_key;
static guint api_post(const char *path, const char *body, char **reply);

/* ---- replays ---- */

typedef struct {
  struct sockaddr_in from, to;
  uint8_t data[1500];
  size_t len;
} captured;

#define REPLAYED 50
static captured replays[REPLAYED];
static int n_replays, replayed;

/* A's SRTP packets as they cross loopback (AF_PACKET: each once, as received): its SSRC is in
 * the clear. */
static void capture(int *sock) {
  uint8_t pkt[2048];
  struct sockaddr_ll from;
  socklen_t fl = sizeof from;
  ssize_t n;
  while ((n = recvfrom(*sock, pkt, sizeof pkt, MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) > 0) {
    const struct iphdr *ip = (const struct iphdr *)pkt;
    size_t ihl = (size_t)ip->ihl * 4;
    if (from.sll_pkttype != PACKET_HOST || ip->protocol != IPPROTO_UDP || (size_t)n < ihl + 8 + 12)
      continue;
    const struct udphdr *udp = (const struct udphdr *)(pkt + ihl);
    const uint8_t *rtp = pkt + ihl + 8;
    size_t len = (size_t)n - ihl - 8;
    unsigned to_port = ntohs(udp->dest); /* loopback is the machine's: only what goes to our daemon */
    if ((rtp[0] & 0xC0) != 0x80 || (rtp[1] & 0x7F) != 111 || dc_rd32(rtp + 8) != A_SSRC || n_replays >= REPLAYED ||
        to_port < MEDIA_MIN || to_port > MEDIA_MAX)
      continue;
    captured *c = &replays[n_replays++];
    c->from = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = udp->source, .sin_addr.s_addr = ip->saddr};
    c->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = udp->dest, .sin_addr.s_addr = ip->daddr};
    memcpy(c->data, rtp, len);
    c->len = len;
  }
}

/* One captured packet again, from A's own address and port (a raw socket writes the headers). */
static void replay(int *sock) {
  const captured *c = &replays[replayed++ % n_replays];
  uint8_t pkt[1600];
  struct iphdr *ip = (struct iphdr *)pkt;
  struct udphdr *udp = (struct udphdr *)(pkt + sizeof *ip);
  *ip = (struct iphdr){.version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
                       .tot_len = htons((uint16_t)(sizeof *ip + sizeof *udp + c->len)),
                       .saddr = c->from.sin_addr.s_addr, .daddr = c->to.sin_addr.s_addr};
  *udp = (struct udphdr){.source = c->from.sin_port, .dest = c->to.sin_port,
                         .len = htons((uint16_t)(sizeof *udp + c->len))}; /* no checksum: IPv4 allows it */
  memcpy(pkt + sizeof *ip + sizeof *udp, c->data, c->len);
  sendto(*sock, pkt, sizeof *ip + sizeof *udp + c->len, 0, (const struct sockaddr *)&c->to, sizeof c->to);
}

static double srtp_refused(void) {
  char *text = NULL;
  g_assert_cmpuint(api_post("/metrics", NULL, &text), ==, 200);
  const char *at = strstr(text, "\ndiemcau_srtp_refused_total ");
  double v = at ? g_ascii_strtod(at + strlen("\ndiemcau_srtp_refused_total "), NULL) : -1;
  g_free(text);
  return v;
}

static void test_srtp_replays_from_a_peer(void) {
  int cap = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
  g_assert_cmpint(cap, >=, 0);
  struct sockaddr_ll lo = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = (int)if_nametoindex("lo")};
  g_assert_cmpint(bind(cap, (struct sockaddr *)&lo, sizeof lo), ==, 0);
  g_atomic_int_set(&T.attack, 3); /* a second of A's own audio, captured */
  gint64 end = g_get_monotonic_time() + G_USEC_PER_SEC;
  while (g_get_monotonic_time() < end)
    capture(&cap), g_main_context_iteration(NULL, FALSE), g_usleep(1000);
  g_atomic_int_set(&T.attack, 0);
  dc_test_spin_for(200);
  capture(&cap);
  close(cap);
  g_test_message("captured %d of A's SRTP packets", n_replays);
  g_assert_cmpint(n_replays, >=, 20);
  int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  g_assert_cmpint(raw, >=, 0);
  double refused_before = srtp_refused();
  double rate = r_rate(replay, &raw); /* one a millisecond at most: over ten times A's 50 */
  close(raw);
  dc_test_spin_for(200);
  double refused = srtp_refused() - refused_before;
  g_test_message("%d replays sent; the bridge's SRTP refused %.0f packets meanwhile", replayed, refused);
  g_assert_cmpfloat(refused, >=, 0.95 * replayed);
  char *what = g_strdup_printf("A's SRTP replayed, %.0f a second", replayed / (PHASE_MS / 1000.0));
  check_phase(what, rate);
  g_free(what);
}

static guint api_post(const char *path, const char *body, char **reply) {
  return dc_test_api(T.session, PORT, api_key, path, body, reply);
}

static bool r_told_disk_full(void) {
  return T.c[R].recording_error && strstr(T.c[R].recording_error, "the disk is full");
}

static void test_full_disk_stops_recording(void) {
  char *reply = NULL;
  guint status = api_post("/api/meetings/1/recording", "{\"recording\":true}", &reply);
  g_test_message("start: %u %s", status, reply);
  g_assert_cmpuint(status, ==, 200);
  g_free(reply);
  /* the mix fills 16 KiB in about three seconds */
  gint64 start = g_get_monotonic_time(), end = start + 20 * G_USEC_PER_SEC;
  int before = g_atomic_int_get(&T.c[R].received);
  while (!r_told_disk_full() && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, FALSE), g_usleep(1000);
  double seconds = (g_get_monotonic_time() - start) / 1e6;
  double rate = (g_atomic_int_get(&T.c[R].received) - before) / seconds;
  g_test_message("R's roster said \"%s\" after %.1f s; R got %.1f packets a second meanwhile",
                 T.c[R].recording_error ? T.c[R].recording_error : "nothing", seconds, rate);
  status = api_post("/api/meetings/1/recordings", NULL, &reply);
  g_test_message("recordings: %s", reply);
  g_assert_true(r_told_disk_full());
  g_assert_cmpuint(status, ==, 200);
  g_assert_nonnull(strstr(reply, "\"recording\":false"));
  g_assert_nonnull(strstr(reply, "the disk is full"));
  g_free(reply);
  check_phase("a recording that filled its disk", rate); /* the meeting went on */
}

static void test_stops_cleanly(void) { dc_test_assert_stops_cleanly(T.bridge); }

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  const char *exe = g_getenv("DC_BRIDGE");
  if (!exe) {
    g_printerr("set DC_BRIDGE to the diemcau-bridge executable\n");
    return 2;
  }
  int oerr;
  OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &oerr);
  int16_t tone[960]; /* a 400 Hz tone, 20 ms of it sent again and again: S talks */
  for (int i = 0; i < 960; i++)
    tone[i] = (int16_t)(8000 * sin(2 * G_PI * 400 * i / 48000.0));
  T.opus_len = (size_t)opus_encode(enc, tone, 960, T.opus, sizeof T.opus);
  opus_encoder_destroy(enc);
  T.dir = g_dir_make_tmp("diemcau-abuse-XXXXXX", NULL);
  char *db = g_build_filename(T.dir, "diemcau.db", NULL);
  GError *err = NULL;
  dc_store *store = dc_store_open(db, &err);
  g_assert_no_error(err);
  int64_t meeting = 0;
  for (int i = 0; i < N_CLIENTS; i++) {
    char name[16];
    g_snprintf(name, sizeof name, "Xã %c", "SRA"[i]);
    int64_t point = dc_store_add_point(store, name, "commune", "standard", &err);
    if (!meeting)
      meeting = dc_store_create_meeting(store, "Abuse", 1, 4000000000, point, &err);
    int64_t inv = dc_store_create_invitation(store, meeting, point, "participant", 4000000000, &err);
    g_assert_no_error(err);
    dc_token_claims claims = {.invitation_id = inv, .meeting_id = meeting, .point_id = point,
                              .role = "participant", .expires_at = 4000000000};
    T.c[i].token = dc_token_sign(dc_store_secret(store), &claims);
  }
  api_key = dc_store_new_api_key(store, "test", "admin", NULL, &err);
  dc_store_close(store);
  g_free(db);

  char *port = g_strdup_printf("%d", PORT), *media = g_strdup_printf("%d-%d", MEDIA_MIN, MEDIA_MAX);
  GSubprocessLauncher *launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_child_setup(launcher, dc_test_die_with_parent, NULL, NULL);
  g_subprocess_launcher_setenv(launcher, "G_DEBUG", "fatal-criticals", TRUE);
  /* a mount namespace of its own, where its recordings' directory is a 16 KiB tmpfs: a disk
   * that fills, for the daemon alone */
  char *recordings = g_build_filename(T.dir, "recordings", NULL);
  g_mkdir(recordings, 0700);
  char *script = g_strdup_printf("mount -t tmpfs -o size=16k tmpfs '%s' && exec \"$@\"", recordings);
  T.bridge = g_subprocess_launcher_spawn(launcher, &err, "unshare", "-m", "--propagation", "private", "sh", "-c", script,
                                         "sh", exe, "--data-dir", T.dir, "--plain-http", "--listen",
                                         "127.0.0.1", "--port", port, "--ice-address", "127.0.0.1", "--media-ports",
                                         media, "--log-level", "warning", NULL);
  g_free(script);
  g_free(recordings);
  g_object_unref(launcher);
  g_assert_no_error(err);
  g_usleep(500000);
  T.session = soup_session_new();
  T.workers = dc_workers_new(1);
  T.id = dc_dtls_identity_new("abuse-test", &err);
  char *url = g_strdup_printf("ws://127.0.0.1:%d/ws", PORT);
  const dc_client_callbacks cb = {.offer = offer_for, .message = on_message, .connected = on_connected, .rtp = on_rtp};
  for (int i = 0; i < N_CLIENTS; i++) {
    dc_client_config cfg = {.session = T.session, .workers = T.workers, .identity = T.id, .ws_url = url,
                            .meeting = meeting, .token = T.c[i].token, .name = "x", .slots = 1, .reports = true};
    T.c[i].dc = dc_client_new(&cfg, &cb, &T.c[i]);
  }
  GSource *timer = g_timeout_source_new(2);
  g_source_set_callback(timer, tick, NULL, NULL);
  g_source_attach(timer, dc_worker_context(dc_workers_pick(T.workers)));
  g_test_add_func("/abuse/delivery-before", test_delivery_before);
  /* before the junk: A's junk spends its SRTP session's 256 SSRCs, and A sends nothing after */
  g_test_add_func("/abuse/srtp-replays-from-a-peer", test_srtp_replays_from_a_peer);
  g_test_add_func("/abuse/rtp-junk-from-a-peer", test_rtp_junk_from_a_peer);
  g_test_add_func("/abuse/rtcp-junk-from-a-peer", test_rtcp_junk_from_a_peer);
  g_test_add_func("/abuse/junk-at-media-ports", test_junk_at_media_ports);
  g_test_add_func("/abuse/full-disk-stops-recording", test_full_disk_stops_recording);
  g_test_add_func("/abuse/stops-cleanly", test_stops_cleanly);
  int rc = g_test_run();
  g_source_destroy(timer);
  g_source_unref(timer);
  for (int i = 0; i < N_CLIENTS; i++)
    dc_client_close(T.c[i].dc);
  dc_workers_free(T.workers);
  for (int i = 0; i < N_CLIENTS; i++) {
    dc_client_free(T.c[i].dc);
    g_free(T.c[i].token);
    g_free(T.c[i].recording_error);
  }
  dc_dtls_identity_unref(T.id);
  g_object_unref(T.session);
  g_object_unref(T.bridge);
  g_free(url);
  g_free(port);
  g_free(media);
  g_free(api_key);
  char *rm[] = {"rm", "-rf", T.dir, NULL};
  g_spawn_sync(NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(T.dir);
  return rc;
}
