/* soak — a meeting left running against the real daemon: does the bridge hold its memory,
 * its file descriptors and its delivery over time? (issue 16)
 *
 * N native participants (ICE, DTLS, SRTP on loopback) join one meeting. Three talk (Opus
 * frames of a tone, level 30 dBov), the rest send Opus silence at 50 packets/s with level
 * 127, as browsers do; the first V (the talkers, by default) also send VP8 (50 packets/s, a
 * key frame every 2 s) and everyone receives the mix and two video slots. (With fewer video
 * senders than talkers the main slot may follow a talker without a camera, and a receiver
 * may rightly get no video: the video bound is then not checked.) Every 10 s: the bridge's RSS and open file
 * descriptors, and what each participant received (audio and video packets per second, the
 * least of all). After the warm-up (a fifth of the run, at least 20 s) the RSS may grow by
 * --rss-growth percent at most, the descriptors must not change, and every participant must
 * get at least 900 ms of audio a second (counted by what its Opus packets hold: a meeting of
 * --big-room points or more gets its mix in 40 ms packets) and video in every window. The table names who got
 * least (a participant's index; 0-2 talk); the bridge logs at info level on stderr.
 *
 * By hand (the 30 minutes the issue asks): build/normal/tests/bench/soak build/normal/diemcau-bridge
 * In scripts/test (normal build): --seconds 120, as test soak-short. Prints a table and a JSON
 * line; exits 1 when a bound is missed, saying which and what it measured.
 */
#include <glib/gstdio.h>
#include <math.h>
#include <opus.h>
#include <stdio.h>
#include <string.h>

#include "bridge/transport.h"
#include "media/rtp.h"
#include "signaling/store.h"
#include "signaling/token.h"
#include "tests/lib/daemon.h"
#include "tests/lib/native_client.h"

#define PORT 18646
#define TALKERS 3
#define LEVEL_ID 1 /* as dc_client_meeting_offer offers it */
#define VP8_PT 96   /* as dc_client_meeting_offer offers it */
#define WINDOW_S 10

typedef struct {
  int index;
  char *token;
  dc_client *dc;
  dc_transport *t; /* the worker's, once connected */
  GSource *audio_timer, *video_timer;
  uint16_t aseq, vseq, pid;
  uint32_t ats, vts;
  bool talker, video;
  gint audio_ms, video_in; /* received, counted on the worker: audio by its length, video by packets */
  char *slots;              /* main thread: the last slot map the bridge sent it, as JSON */
} client;

static struct {
  SoupSession *session;
  dc_workers *workers;
  dc_dtls_identity *id;
  int64_t meeting;
  char *url;
  uint8_t tone[400], silence[400];
  int tone_len, silence_len;
} S;

/* ---- media, on the clients' workers ---- */

static gboolean send_audio(gpointer data) {
  client *c = data;
  uint8_t buf[DC_TRANSPORT_BUF], level = (uint8_t)(0x80 | (c->talker ? 30 : 127));
  dc_rtp_ext_elem ext = {LEVEL_ID, 1, &level};
  dc_rtp_header h = {.payload_type = 111, .seq = c->aseq++, .timestamp = c->ats, .ssrc = 0xA0000000u + (unsigned)c->index};
  c->ats += 960;
  size_t n = dc_rtp_write_header(buf, sizeof buf, &h, &ext, 1);
  const uint8_t *frame = c->talker ? S.tone : S.silence;
  int len = c->talker ? S.tone_len : S.silence_len;
  memcpy(buf + n, frame, (size_t)len);
  dc_transport_send_rtp(c->t, buf, n + (size_t)len, sizeof buf);
  return G_SOURCE_CONTINUE;
}

static gboolean send_video(gpointer data) {
  client *c = data;
  uint8_t buf[DC_TRANSPORT_BUF];
  bool key = c->vseq % 100 == 0;
  dc_rtp_header h = {.payload_type = VP8_PT, .seq = c->vseq++, .timestamp = c->vts, .ssrc = 0xB0000000u + (unsigned)c->index,
                     .marker = true};
  c->vts += 1800;
  size_t n = dc_rtp_write_header(buf, sizeof buf, &h, NULL, 0);
  /* VP8 payload descriptor with a picture id (RFC 7741 §4.2), then a frame's first bytes */
  const uint8_t desc[] = {0x90, 0x80, (uint8_t)(0x80 | (c->pid >> 8)), (uint8_t)c->pid, key ? 0x50 : 0x51, 0x9d, 0x01, 0x2a};
  c->pid = (c->pid + 1) & 0x7FFF;
  memcpy(buf + n, desc, sizeof desc);
  memset(buf + n + sizeof desc, 0x33, 500);
  dc_transport_send_rtp(c->t, buf, n + sizeof desc + 500, sizeof buf);
  return G_SOURCE_CONTINUE;
}

static void on_connected(dc_client *dc, gpointer user) {
  client *c = user;
  c->t = dc_client_transport(dc);
  GMainContext *ctx = dc_worker_context(dc_transport_worker(c->t));
  c->audio_timer = g_timeout_source_new(20);
  g_source_set_callback(c->audio_timer, send_audio, c, NULL);
  g_source_attach(c->audio_timer, ctx);
  if (c->video) {
    c->video_timer = g_timeout_source_new(20);
    g_source_set_callback(c->video_timer, send_video, c, NULL);
    g_source_attach(c->video_timer, ctx);
  }
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)cap;
  client *c = user;
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK)
    return;
  if (pkt.payload_type == 111) {
    int samples = opus_packet_get_nb_samples(dc_rtp_payload(&pkt), (opus_int32)pkt.payload_len, 48000);
    if (samples > 0)
      g_atomic_int_add(&c->audio_ms, samples / 48);
  }
  else if (pkt.payload_type == VP8_PT)
    g_atomic_int_inc(&c->video_in);
}

/* ---- signaling, on the main thread ---- */

static int64_t speaker; /* the meeting's dominant speaker, as the bridge last said */
static int speaker_changes; /* as participant 0 was told */

/* Kept to say, of a participant that got no video, what it should have been shown. */
static void on_message(dc_client *dc, const char *type, JsonObject *o, gpointer user) {
  client *c = user;
  (void)dc;
  if (!strcmp(type, "slots")) {
    JsonNode *n = json_object_get_member(o, "slots");
    g_free(c->slots);
    c->slots = n ? json_to_string(n, FALSE) : NULL;
  } else if (!strcmp(type, "speaker") && c->index == 0) {
    speaker = json_object_get_int_member_with_default(o, "participant", 0);
    speaker_changes++;
  }
}

/* Audio with the level extension, the camera, and one thumbnail. */
static char *offer(dc_client *dc, gpointer user) {
  client *c = user;
  uint32_t camera = 0xB0000000u + (unsigned)c->index;
  return dc_client_meeting_offer(dc, 0xA0000000u + (unsigned)c->index, &camera, c->video ? 1 : 0);
}

static void start_client(client *c) {
  static const dc_client_callbacks cb = {.offer = offer, .connected = on_connected, .rtp = on_rtp,
                                         .message = on_message};
  dc_client_config cfg = {.session = S.session, .workers = S.workers, .identity = S.id, .ws_url = S.url,
                          .meeting = S.meeting, .token = c->token, .name = "soak", .slots = 2, .reports = true};
  c->dc = dc_client_new(&cfg, &cb, c);
}

static void spin_ms(int ms) {
  gint64 end = g_get_monotonic_time() + ms * 1000;
  while (g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, FALSE), g_usleep(1000);
}

static void encode_frames(void) {
  int err;
  OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
  int16_t pcm[960];
  for (int i = 0; i < 960; i++)
    pcm[i] = (int16_t)(8000 * sin(2 * G_PI * 450 * i / 48000.0));
  S.tone_len = opus_encode(enc, pcm, 960, S.tone, sizeof S.tone);
  memset(pcm, 0, sizeof pcm);
  S.silence_len = opus_encode(enc, pcm, 960, S.silence, sizeof S.silence);
  opus_encoder_destroy(enc);
}

int main(int argc, char **argv) {
  int participants = 30, seconds = 1800, video_senders = TALKERS;
  double rss_growth = 1.0;
  char *log_level = NULL;
  GOptionEntry entries[] = {
      {"participants", 0, 0, G_OPTION_ARG_INT, &participants, "participants (default 30)", "N"},
      {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "how long the meeting runs once all joined (default 1800)", "S"},
      {"video-senders", 0, 0, G_OPTION_ARG_INT, &video_senders, "participants that send video, the talkers first (default 3)", "V"},
      {"rss-growth", 0, 0, G_OPTION_ARG_DOUBLE, &rss_growth, "RSS growth allowed after the warm-up, percent (default 1)", "P"},
      {"bridge-log-level", 0, 0, G_OPTION_ARG_STRING, &log_level, "the bridge's --log-level (default info; debug adds each participant's estimate and main slot every 5 s)", "LEVEL"},
      G_OPTION_ENTRY_NULL};
  GOptionContext *octx = g_option_context_new("PATH/TO/diemcau-bridge - a meeting left running");
  g_option_context_add_main_entries(octx, entries, NULL);
  GError *err = NULL;
  if (!g_option_context_parse(octx, &argc, &argv, &err) || argc != 2 || participants < 4 || seconds < 30 ||
      video_senders < 0 || video_senders > participants) {
    fprintf(stderr, "soak: %s\n", err ? err->message : "usage: soak [options] PATH/TO/diemcau-bridge (--participants >= 4, --seconds >= 30)");
    return 2;
  }
  g_option_context_free(octx);
  encode_frames();

  /* the meeting and invitations go in the store before the daemon opens it */
  char *dir = g_dir_make_tmp("diemcau-soak-XXXXXX", NULL);
  char **tokens;
  S.meeting = dc_test_make_meeting(dir, participants, &tokens);
  client *clients = g_new0(client, (gsize)participants);
  for (int i = 0; i < participants; i++)
    clients[i] = (client){.index = i, .token = tokens[i], .talker = i < TALKERS, .video = i < video_senders};
  /* the daemon goes when we go, however we go (a soak is often stopped by hand) */
  GSubprocess *bridge = dc_test_start_bridge(argv[1], dir, PORT, log_level ? log_level : "info");
  if (!bridge)
    return 1;
  GPid pid = dc_test_pid(bridge);
  S.session = soup_session_new();
  S.url = g_strdup_printf("ws://127.0.0.1:%d/ws", PORT);
  S.workers = dc_workers_new(2);
  S.id = dc_dtls_identity_new("soak", &err);
  g_assert_no_error(err);

  int joined = 0;
  for (int i = 0; i < participants; i++) {
    start_client(&clients[i]);
    for (int t = 0; t < 1000 && !dc_client_is_connected(clients[i].dc); t++)
      spin_ms(10);
    joined += dc_client_is_connected(clients[i].dc);
    if (!dc_client_is_connected(clients[i].dc)) { /* no use soaking a meeting that did not form */
      fprintf(stderr, "FAILED: participant %d did not connect within 10 s\n", i);
      return 1;
    }
  }
  printf("%d of %d participants joined; %d talk, %d send video; %d s of meeting, windows of %d s\n", joined,
         participants, TALKERS, video_senders, seconds, WINDOW_S);
  printf("%8s %10s %6s %26s %26s\n", "time (s)", "RSS (KiB)", "fds", "audio ms/s (least, who)", "video pkt/s (least, who)");
  int warmup = MAX(20, seconds / 5), windows = seconds / WINDOW_S;
  long rss_warm = 0, rss_last = 0, rss_peak = 0;
  int fds_warm = -1, fds_min = G_MAXINT, fds_max = 0;
  double audio_least = 1e9, video_least = 1e9;
  int audio_prev[participants], video_prev[participants];
  for (int i = 0; i < participants; i++)
    audio_prev[i] = g_atomic_int_get(&clients[i].audio_ms), video_prev[i] = g_atomic_int_get(&clients[i].video_in);
  gint64 start = g_get_monotonic_time();
  for (int w = 1; w <= windows; w++) {
    gint64 t0 = g_get_monotonic_time();
    spin_ms(WINDOW_S * 1000);
    double secs = (g_get_monotonic_time() - t0) / 1e6;
    double audio = 1e9, video = 1e9;
    int audio_who = -1, video_who = -1;
    for (int i = 0; i < participants; i++) {
      int a = g_atomic_int_get(&clients[i].audio_ms), v = g_atomic_int_get(&clients[i].video_in);
      if ((a - audio_prev[i]) / secs < audio)
        audio = (a - audio_prev[i]) / secs, audio_who = i;
      if ((v - video_prev[i]) / secs < video)
        video = (v - video_prev[i]) / secs, video_who = i;
      audio_prev[i] = a, video_prev[i] = v;
    }
    long rss = dc_test_rss_kib(pid);
    int fds = dc_test_open_fds(pid);
    int at = (int)((g_get_monotonic_time() - start) / G_USEC_PER_SEC);
    printf("%8d %10ld %6d %20.1f (%3d) %20.1f (%3d)%s\n", at, rss, fds, audio, audio_who, video, video_who,
           at <= warmup ? "  (warm-up)" : "");
    if (video_who >= 0 && video < 20) /* what it should have been shown (participant ids are join order + 1) */
      printf("         participant %d (id %" G_GINT64_FORMAT "): slots %s, speaker %" G_GINT64_FORMAT "\n", video_who,
             dc_client_participant(clients[video_who].dc), clients[video_who].slots ? clients[video_who].slots : "none",
             speaker);
    fflush(stdout);
    if (at <= warmup) {
      rss_warm = rss, fds_warm = fds;
      continue;
    }
    rss_last = rss, rss_peak = MAX(rss_peak, rss);
    fds_min = MIN(fds_min, fds), fds_max = MAX(fds_max, fds);
    audio_least = MIN(audio_least, audio), video_least = MIN(video_least, video);
  }
  double growth = rss_warm > 0 ? 100.0 * (double)(rss_peak - rss_warm) / (double)rss_warm : 0;
  printf("{\"bench\":\"soak\",\"participants\":%d,\"joined\":%d,\"seconds\":%d,\"rss_warm_kib\":%ld,\"rss_peak_kib\":%ld,"
         "\"rss_last_kib\":%ld,\"rss_growth_pct\":%.2f,\"fds_warm\":%d,\"fds_min\":%d,\"fds_max\":%d,"
         "\"audio_ms_least\":%.1f,\"video_pps_least\":%.1f,\"speaker_changes\":%d}\n",
         participants, joined, seconds, rss_warm, rss_peak, rss_last, growth, fds_warm, fds_min, fds_max, audio_least,
         video_least, speaker_changes);
  int failed = 0;
#define BOUND(ok, ...) \
  if (!(ok)) {     \
    failed++;      \
    fprintf(stderr, "FAILED: " __VA_ARGS__); \
  }
  BOUND(joined == participants, "%d of %d participants joined\n", joined, participants);
  BOUND(growth <= rss_growth, "RSS grew %.2f %% after the warm-up (%ld to a peak of %ld KiB), more than %.2f %%\n",
        growth, rss_warm, rss_peak, rss_growth);
  BOUND(fds_min == fds_warm && fds_max == fds_warm, "open descriptors moved after the warm-up: %d, then %d-%d\n",
        fds_warm, fds_min, fds_max);
  BOUND(audio_least >= 900, "a participant got %.1f ms of audio a second in a window (of 1000)\n", audio_least);
  BOUND(video_senders < TALKERS || video_least >= 20, "a participant got %.1f video packets/s in a window\n", video_least);

  /* the senders stop first: a send in progress ends before its transport's close, which
   * runs on the same worker */
  for (int i = 0; i < participants; i++) {
    if (clients[i].audio_timer)
      g_source_destroy(clients[i].audio_timer), g_source_unref(clients[i].audio_timer);
    if (clients[i].video_timer)
      g_source_destroy(clients[i].video_timer), g_source_unref(clients[i].video_timer);
    dc_client_close(clients[i].dc);
  }
  dc_workers_free(S.workers); /* runs the transports' close */
  for (int i = 0; i < participants; i++) {
    dc_client_free(clients[i].dc);
  }
  g_strfreev(tokens);
  g_subprocess_send_signal(bridge, SIGTERM);
  g_subprocess_wait(bridge, NULL, NULL);
  BOUND(g_subprocess_get_if_exited(bridge) && g_subprocess_get_exit_status(bridge) == 0, "the bridge did not stop cleanly\n");
  g_object_unref(bridge);
  dc_dtls_identity_unref(S.id);
  g_object_unref(S.session);
  g_free(S.url);
  g_free(clients);
  char *rm[] = {"rm", "-rf", dir, NULL};
  g_spawn_sync(NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(dir);
  return failed ? 1 : 0;
}
