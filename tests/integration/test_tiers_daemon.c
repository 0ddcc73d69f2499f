/* The mix on the wire, tier by tier, in the real daemon: two native clients join the same
 * meeting, one on the standard profile and one on the highland one, each offering Opus with
 * the audio-level extension (as every browser does), and read the mix the bridge sends them.
 *
 * - The standard point's mix comes in 20 ms packets and carries the mix's level (RFC 6464).
 * - The highland point's comes in 60 ms packets (the answer's ptime) and carries no header
 *   extension at all: nothing of ours reads the mix's level, and on a 32 kbit/s link its
 *   8 bytes a packet were 3-4 % of the mix with its RED copy (bridge/room.c, audio_answer).
 * - Nobody speaks, so the highland tier's mix is DTX frames: the point gets the first and then
 *   one every 400 ms, the timestamps going on over the frames held back (media/mixer.h,
 *   dc_dtx_gate); the standard tier, without DTX, has a packet every 20 ms.
 * - A big room (the bridge runs with --big-room 3): two more standard points join, and the
 *   standard point's mix comes in 40 ms packets, its timestamps unbroken; they leave, and it
 *   comes in 20 ms ones again.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include <opus.h>

#include "media/mixer.h"
#include "media/rtp.h"
#include "tests/lib/daemon.h"
#include "tests/lib/native_client.h"

#define PORT 18648
#define LEVEL_ID 1
#define PACKETS 8 /* mix packets each must get: the highland tier's DTX sends ~2.5 a second in silence */

enum { STANDARD, HIGHLAND, N_CLIENTS, N_ALL = N_CLIENTS + 2 /* the big room's two more */ };
static const char *const profile_of[N_ALL] = {"standard", "highland", "standard", "standard"};
#define BIG_ROOM "3" /* standard points for 40 ms packets; 2 (four fifths) or fewer for 20 again */

typedef struct {
  char *token;
  dc_client *dc;
  gint connected;
  /* its worker */
  gint packets, with_extension, with_level;
  uint32_t last_ts;
  uint16_t last_seq;
  gint steps;       /* consecutive packets seen (seq + 1) */
  gint odd_steps;   /* ... whose timestamps moved by other than a multiple of the tier's frame */
  gint held_frames; /* frames between those steps' packets, not sent (DTX) */
  gint small;       /* packets of DC_DTX_FRAME_MAX bytes or less (DTX frames) */
  gint quiet_steps; /* steps from such a packet */
  bool last_small;
  uint32_t frame;   /* samples a packet at the tier's packet time (48 kHz) */
  gint by_samples[3]; /* packets of 20, 40 and other ms (their Opus TOC) */
  gint back_to_20;    /* of 20 ms, after one of 40 */
} client;

static struct {
  SoupSession *session;
  dc_workers *workers;
  dc_dtls_identity *id;
  GSubprocess *bridge;
  char *dir;
  client c[N_ALL];
  char *url;
  int64_t meeting;
} T;

static char *offer_for(dc_client *dc, gpointer user) {
  (void)user;
  char *transport = dc_client_offer_transport(dc);
  uint32_t ssrc = g_random_int();
  char *offer = g_strdup_printf("v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
                                "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n%sa=mid:0\r\na=sendrecv\r\n"
                                "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
                                "a=extmap:%d urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
                                "a=ssrc:%u cname:native\r\n",
                                ssrc, transport, LEVEL_ID, ssrc);
  g_free(transport);
  return offer;
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)cap;
  client *c = user;
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK)
    return;
  const uint8_t *level;
  size_t level_len;
  if (buf[0] & 0x10)
    g_atomic_int_inc(&c->with_extension);
  if (dc_rtp_ext_find(&pkt, LEVEL_ID, &level, &level_len) == DC_OK)
    g_atomic_int_inc(&c->with_level);
  if (g_atomic_int_get(&c->packets) && pkt.seq == (uint16_t)(c->last_seq + 1)) {
    g_atomic_int_inc(&c->steps);
    uint32_t step = pkt.timestamp - c->last_ts;
    if (step % c->frame != 0 || step == 0)
      g_atomic_int_inc(&c->odd_steps);
    else if (step < 100 * c->frame)
      g_atomic_int_add(&c->held_frames, (gint)(step / c->frame - 1));
    if (c->last_small)
      g_atomic_int_inc(&c->quiet_steps);
  }
  int samples = opus_packet_get_nb_samples(buf + pkt.payload_off, (opus_int32)pkt.payload_len, 48000);
  if (samples == 1920 || (samples == 960 && g_atomic_int_get(&c->by_samples[1])))
    g_atomic_int_inc(samples == 960 ? &c->back_to_20 : &c->by_samples[1]);
  else
    g_atomic_int_inc(&c->by_samples[samples == 960 ? 0 : 2]);
  c->last_small = len - pkt.payload_off <= DC_DTX_FRAME_MAX;
  if (c->last_small)
    g_atomic_int_inc(&c->small);
  c->last_seq = pkt.seq;
  c->last_ts = pkt.timestamp;
  g_atomic_int_inc(&c->packets);
}

static void on_connected(dc_client *dc, gpointer user) {
  (void)dc;
  g_atomic_int_set(&((client *)user)->connected, 1);
}

static bool both_heard_the_mix(void) {
  for (int i = 0; i < N_CLIENTS; i++)
    if (!g_atomic_int_get(&T.c[i].connected) || g_atomic_int_get(&T.c[i].packets) < PACKETS)
      return false;
  return true;
}

/* frames held back across two refreshes: the mix went quiet, and stayed so */
static bool highland_held_frames(void) { return g_atomic_int_get(&T.c[HIGHLAND].held_frames) >= 12; }

static void test_mix_by_tier(void) {
  bool heard = dc_test_spin_until(both_heard_the_mix, 30000) && dc_test_spin_until(highland_held_frames, 30000);
  for (int i = 0; i < N_CLIENTS; i++) {
    client *c = &T.c[i];
    g_test_message("%s point: %d mix packets (%d of DTX frames), %d with a header extension, %d with the level; "
                   "%d of %d steps not a multiple of %u samples (%d from a DTX frame); %d frames held back",
                   profile_of[i], g_atomic_int_get(&c->packets), g_atomic_int_get(&c->small),
                   g_atomic_int_get(&c->with_extension), g_atomic_int_get(&c->with_level),
                   g_atomic_int_get(&c->odd_steps), g_atomic_int_get(&c->steps), c->frame,
                   g_atomic_int_get(&c->quiet_steps), g_atomic_int_get(&c->held_frames));
  }
  g_assert_true(heard);
  client *s = &T.c[STANDARD], *h = &T.c[HIGHLAND];
  /* every packet so far, read once: the workers go on counting meanwhile */
  int s_packets = g_atomic_int_get(&s->packets), h_ext = g_atomic_int_get(&h->with_extension);
  g_assert_cmpint(g_atomic_int_get(&s->with_level), >=, s_packets - 1);
  g_assert_cmpint(h_ext, ==, 0);
  g_assert_cmpint(g_atomic_int_get(&s->steps), >, 0);
  g_assert_cmpint(g_atomic_int_get(&h->steps), >, 0);
  g_assert_cmpint(g_atomic_int_get(&s->odd_steps), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&h->odd_steps), ==, 0);
  /* silence: after a DTX frame the highland point was sent one in 400 ms of its 60 ms frames
   * (about 1 in 7; 3 on average allows for a clock running late), the standard point every one */
  g_assert_cmpint(g_atomic_int_get(&h->quiet_steps), >=, 2);
  g_assert_cmpint(g_atomic_int_get(&h->held_frames), >=, 3 * g_atomic_int_get(&h->quiet_steps));
  g_assert_cmpint(g_atomic_int_get(&s->held_frames), ==, 0);
}

static void join(int i) {
  const dc_client_callbacks cb = {.offer = offer_for, .connected = on_connected, .rtp = on_rtp};
  dc_client_config cfg = {.session = T.session, .workers = T.workers, .identity = T.id, .ws_url = T.url,
                          .meeting = T.meeting, .token = T.c[i].token, .name = profile_of[i], .slots = 1,
                          .reports = true, .profile = profile_of[i]};
  T.c[i].dc = dc_client_new(&cfg, &cb, &T.c[i]);
}

static bool in_40ms(void) { return g_atomic_int_get(&T.c[STANDARD].by_samples[1]) >= 25; }
static bool back_in_20ms(void) { return g_atomic_int_get(&T.c[STANDARD].back_to_20) >= 25; }

static void test_big_room(void) {
  client *s = &T.c[STANDARD];
  for (int i = N_CLIENTS; i < N_ALL; i++)
    join(i);
  bool big = dc_test_spin_until(in_40ms, 30000);
  for (int i = N_CLIENTS; i < N_ALL; i++)
    dc_client_close(T.c[i].dc);
  bool back = big && dc_test_spin_until(back_in_20ms, 30000);
  g_test_message("the standard point: %d packets of 20 ms, then %d of 40 with %d more standard points, then %d of 20 "
                 "again; %d of another length; %d steps not a multiple of 960 samples",
                 g_atomic_int_get(&s->by_samples[0]), g_atomic_int_get(&s->by_samples[1]), N_ALL - N_CLIENTS,
                 g_atomic_int_get(&s->back_to_20), g_atomic_int_get(&s->by_samples[2]), g_atomic_int_get(&s->odd_steps));
  g_assert_true(big);
  g_assert_true(back);
  g_assert_cmpint(g_atomic_int_get(&s->by_samples[2]), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&s->odd_steps), ==, 0);
}

static void test_stops_cleanly(void) { dc_test_assert_stops_cleanly(T.bridge); }

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  const char *exe = g_getenv("DC_BRIDGE");
  if (!exe) {
    g_printerr("set DC_BRIDGE to the diemcau-bridge executable\n");
    return 2;
  }
  T.dir = g_dir_make_tmp("diemcau-tiers-XXXXXX", NULL);
  char **tokens;
  T.meeting = dc_test_make_meeting(T.dir, N_ALL, &tokens);
  for (int i = 0; i < N_ALL; i++) {
    T.c[i].token = g_strdup(tokens[i]);
    T.c[i].frame = i == HIGHLAND ? 2880 : 960; /* the tier's packet time: 60 and 20 ms */
  }
  g_strfreev(tokens);
  const char *const big_room[] = {"--big-room", BIG_ROOM, NULL};
  T.bridge = dc_test_start_bridge_with(exe, T.dir, PORT, "warning", big_room);
  g_assert_nonnull(T.bridge);
  GError *err = NULL;
  T.session = soup_session_new();
  T.workers = dc_workers_new(1);
  T.id = dc_dtls_identity_new("tiers-test", &err);
  T.url = g_strdup_printf("ws://127.0.0.1:%d/ws", PORT);
  for (int i = 0; i < N_CLIENTS; i++)
    join(i);
  g_test_add_func("/tiers/mix-by-tier", test_mix_by_tier);
  g_test_add_func("/tiers/big-room", test_big_room);
  g_test_add_func("/tiers/stops-cleanly", test_stops_cleanly);
  int rc = g_test_run();
  for (int i = 0; i < N_CLIENTS; i++) /* the big room's two closed as they left */
    dc_client_close(T.c[i].dc);
  dc_workers_free(T.workers);
  for (int i = 0; i < N_ALL; i++) {
    if (T.c[i].dc)
      dc_client_free(T.c[i].dc);
    g_free(T.c[i].token);
  }
  dc_dtls_identity_unref(T.id);
  g_object_unref(T.session);
  g_object_unref(T.bridge);
  g_free(T.url);
  char *rm[] = {"rm", "-rf", T.dir, NULL};
  g_spawn_sync(NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(T.dir);
  return rc;
}
