/* load — N participants against the real daemon, over real ICE, DTLS and SRTP, and what it
 * costs the bridge (issue 15).
 *
 * Each participant is our native client (tests/lib/native_client: libsoup's WebSocket, our own
 * transport) joining one meeting as a page does (roster_changes, two video slots). The media
 * is what a meeting sends: Vietnamese speech made at start with espeak-ng (voice vi), encoded
 * once to Opus; the talkers take turns of TURN_S seconds, sending its 20 ms frames with their
 * audio level (RFC 6464); everyone else sends Opus silence at 50 packets/s with level 127, as
 * browsers do without DTX (issue 15's model; with --muted-dtx a packet every 400 ms, as
 * Chromium and Firefox do once muted under our answer's usedtx=1). The first V participants also send video as Chrome's simulcast
 * does: three SSRC layers (a=ssrc-group:SIM, lowest first) of ~120, ~400 and ~1600 kbit/s,
 * VP8 payload descriptors with picture ids, a key frame every 2 s, each frame starting with
 * VP8's frame header (RFC 6386 §9.1: Janus looks for a key frame's start code). (The rest is
 * filler: neither server decodes video.) Every point reports once a second; with --remb its
 * reports carry a REMB as Chrome's do on a clear link, and the bridge's probes then lift main
 * slots to the top layer (frames of four packets); without, they stay at the middle one.
 * The points' sockets take UDP GRO as the bridge's do (bridge/transport.c): the bridge's GSO
 * runs arrive whole, as a remote peer's would cost the bridge nothing past its own NIC; on
 * loopback, a socket without GRO has the kernel cut the run on the sender's time.
 *
 * Joins come in a storm (all at once) or at --join-rate a second. Reported: join times (the
 * WebSocket open to media up, p50/p95/max, and the storm's length), then over --seconds: the
 * bridge's CPU (% of one core, from /proc), RSS, and its anonymous memory per participant
 * (RssAnon over its value before the joins: the libraries' pages are touched once), what each participant received (audio and video packets a second, the least and
 * the median, and the mix's sound in ms a second; gaps in the mix's sequence numbers), signaling bytes per participant, and the
 * bridge's own counters from /metrics (packets in and out a second, deliveries it dropped
 * because a worker fell behind), and its open descriptors per participant. A table, then one
 * JSON line.
 *
 * --check (scripts/test's small run) exits 1 when a bound is missed, saying what it measured:
 * everyone joined, everyone got >= 900 ms of the mix's sound a second and video in every slot
 * it should, the mix's gaps under 1 %, the bridge dropped nothing, and it holds at most 2.2
 * descriptors a participant; with video, every packet's payload as sent and some packets
 * padded to join a run (bridge/outbox.h). Timings are reported,
 * never asserted. The big runs are benchmarks, by hand (README, "Measured").
 *
 * The load generator shares the machine with the bridge: its own CPU is in the table too.
 *
 * --meetings K spreads the participants over K meetings (participant i in meeting i mod K), each
 * with --talkers talkers and --video-senders cameras of its own: a bridge serving a province's
 * communes in several meetings at once, and more participants than one room holds (the bridge's
 * mixer takes 512 a room).
 *
 * --janus DIR runs the same load against Janus instead (the program given is janus, DIR its
 * configuration: tests/load/janus-side-by-side writes it and runs both), with the same client
 * (tests/load/janus_client) and the same measures, so the two servers' costs sit side by side:
 * audio through its AudioBridge; the cameras published to its VideoRoom, each participant
 * subscribed to two of them as diemcau's two slots hold two (the first at the middle simulcast
 * layer, as diemcau's main slot is on loopback, the second at the lowest, as a thumbnail).
 */
#include <glib/gstdio.h>
#include <math.h>
#include <opus.h>
#include <stdio.h>
#include <string.h>

#include "bridge/metrics.h"
#include "bridge/transport.h"
#include "media/rtp.h"
#include "tests/lib/daemon.h"
#include "tests/lib/native_client.h"
#include "tests/load/janus_client.h"

#define LEVEL_ID 1 /* as dc_client_meeting_offer offers it */
#define VP8_PT 96   /* as dc_client_meeting_offer offers it */
#define TURN_S 4
#define MAX_FRAME 400
#define LAYERS 3

/* Sentences of a district meeting, spoken by espeak-ng's Vietnamese voice. */
static const char speech_text[] =
    "Xin chào các đồng chí. Hôm nay chúng ta họp giao ban tuần. "
    "Đề nghị các xã báo cáo tình hình sản xuất nông nghiệp và công tác phòng chống thiên tai. "
    "Xã Tà Xùa báo cáo trước, sau đó đến xã Đăk Mang.";

typedef struct {
  uint8_t data[MAX_FRAME];
  int len;
  uint8_t level; /* -dBov, 0 (loudest) to 127 (silence) */
} frame;

/* layers, lowest first: packets per 20 ms frame and their payload bytes */
static const struct {
  int packets, bytes;
} layer_shape[LAYERS] = {{1, 300}, {2, 500}, {4, 1000}};

typedef struct {
  int index;
  char *token;
  dc_client *dc;    /* against diemcau */
  janus_client *jc; /* against Janus (--janus) */
  dc_transport *t;  /* the worker's, once connected */
  dc_transport *vt; /* against Janus: the camera's own, once connected (the same worker) */
  GSource *timer;
  int member; /* its place in its meeting: participant index / meetings */
  bool talker, video;
  uint16_t aseq, vseq[LAYERS], pid;
  uint32_t ats, vts;
  int speech_at;
  /* sent and received, on the worker */
  gint sent, audio_in, video_in, audio_gaps;
  gint audio_samples; /* of the mix received, at 48 kHz: a big room's comes in 40 ms packets */
  int last_aseq; /* -1: none yet */
  unsigned quiet_ticks; /* --muted-dtx: ticks since its last packet of silence */
} client;

#define POINTS_PER_ADDRESS DC_TEST_POINTS_PER_ADDRESS /* tests/lib/daemon.h says why */

static struct {
  SoupSession *session;            /* /metrics, from 127.0.0.1 */
  SoupSession **point_sessions;    /* the points' signaling, one per loopback address */
  dc_workers *workers;
  dc_dtls_identity *id;
  int64_t *meeting; /* [meetings] */
  int meetings;
  char *url;
  frame *speech;
  int n_speech;
  frame silence;
  int talkers;
  gint64 start_us; /* when the talkers' turns are counted from */
  bool janus;      /* the server is Janus (AudioBridge and VideoRoom), not diemcau */
  int video_senders;
  const char *client_address; /* where the points' ICE gathers (--client-address) */
  gint video_bad;             /* video packets whose payload did not end as ours do */
  uint64_t remb_bps;          /* --remb */
  gboolean muted_dtx;         /* --muted-dtx */
} S;

#define JANUS_ROOM 1234 /* tests/load/janus-side-by-side's configuration makes it */

static uint32_t audio_ssrc(const client *c) { return 0xA0000000u + (unsigned)c->index; }
static uint32_t video_ssrc(const client *c, int layer) { return 0xB0000000u + (unsigned)c->index * 4 + (unsigned)layer; }

/* ---- speech: espeak-ng's WAV, resampled to 48 kHz, as Opus frames ---- */

static bool make_speech(void) {
  GError *err = NULL;
  GSubprocess *p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &err,
                                    "espeak-ng", "-v", "vi", "-s", "150", "--stdout", speech_text, NULL);
  GBytes *out = NULL;
  if (!p || !g_subprocess_communicate(p, NULL, NULL, &out, NULL, &err) || !g_subprocess_get_successful(p)) {
    fprintf(stderr, "load: espeak-ng made no speech (%s); install it: apt-get install espeak-ng\n",
            err ? err->message : "it failed");
    return false;
  }
  gsize len;
  const uint8_t *wav = g_bytes_get_data(out, &len);
  /* RIFF/WAVE: "fmt " gives the rate, "data" the 16-bit mono samples (espeak-ng's --stdout may
   * not know the data's length when it writes the header: take what is there) */
  uint32_t rate = 0;
  const int16_t *pcm = NULL;
  size_t n_in = 0;
  for (size_t at = 12; len >= 12 && at + 8 <= len;) {
    uint32_t size = (uint32_t)wav[at + 4] | (uint32_t)wav[at + 5] << 8 | (uint32_t)wav[at + 6] << 16 | (uint32_t)wav[at + 7] << 24;
    if (!memcmp(wav + at, "fmt ", 4) && at + 16 <= len)
      rate = (uint32_t)wav[at + 12] | (uint32_t)wav[at + 13] << 8 | (uint32_t)wav[at + 14] << 16;
    if (!memcmp(wav + at, "data", 4)) {
      pcm = (const int16_t *)(wav + at + 8);
      n_in = MIN((size_t)size, len - at - 8) / 2;
      break;
    }
    at += 8 + (size_t)size + (size & 1);
  }
  if (!rate || !pcm || n_in < rate) {
    fprintf(stderr, "load: espeak-ng's output is not the WAV expected\n");
    return false;
  }
  size_t n_out = n_in * 48000 / rate;
  int16_t *resampled = g_new(int16_t, n_out + 960);
  for (size_t i = 0; i < n_out; i++) { /* linear: good enough for a load's speech */
    double x = (double)i * rate / 48000.0;
    size_t k = (size_t)x;
    double f = x - (double)k, a = pcm[MIN(k, n_in - 1)], b = pcm[MIN(k + 1, n_in - 1)];
    resampled[i] = (int16_t)(a + (b - a) * f);
  }
  memset(resampled + n_out, 0, 960 * sizeof *resampled);
  int e;
  OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &e);
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(24000));
  S.n_speech = (int)(n_out / 960);
  S.speech = g_new0(frame, (gsize)S.n_speech);
  for (int i = 0; i < S.n_speech; i++) {
    const int16_t *x = resampled + (size_t)i * 960;
    double energy = 0;
    for (int k = 0; k < 960; k++)
      energy += (double)x[k] * x[k];
    double dbov = 10 * log10(energy / 960 / (32768.0 * 32768.0) + 1e-13);
    S.speech[i].level = (uint8_t)CLAMP(-dbov, 0, 127);
    S.speech[i].len = opus_encode(enc, x, 960, S.speech[i].data, MAX_FRAME);
  }
  int16_t zeros[960] = {0};
  S.silence.len = opus_encode(enc, zeros, 960, S.silence.data, MAX_FRAME);
  S.silence.level = 127;
  opus_encoder_destroy(enc);
  g_free(resampled);
  g_bytes_unref(out);
  g_object_unref(p);
  return S.silence.len > 0;
}

/* ---- media, on the clients' workers ---- */

static void send_video(client *c, dc_transport *t) {
  uint8_t buf[DC_TRANSPORT_BUF];
  bool key = c->vts % (90000 * 2) < 1800; /* a key frame every 2 s, on every layer */
  for (int l = 0; l < LAYERS; l++)
    for (int p = 0; p < layer_shape[l].packets; p++) {
      bool first = p == 0, last = p == layer_shape[l].packets - 1;
      dc_rtp_header h = {.payload_type = VP8_PT, .seq = c->vseq[l]++, .timestamp = c->vts, .ssrc = video_ssrc(c, l),
                         .marker = last};
      size_t n = dc_rtp_write_header(buf, sizeof buf, &h, NULL, 0);
      /* the VP8 payload descriptor with a picture id (RFC 7741 §4.2); a frame's first packet
       * starts its partition with the payload header */
      buf[n++] = first ? 0x90 : 0x80;
      buf[n++] = 0x80;
      buf[n++] = (uint8_t)(0x80 | (c->pid >> 8));
      buf[n++] = (uint8_t)c->pid;
      if (first && key) { /* RFC 6386 §9.1: the frame tag, the start code, width and height */
        int width = 320 << l, height = 180 << l;
        const uint8_t head[] = {0x50, 0x00, 0x00, 0x9d, 0x01, 0x2a, (uint8_t)width, (uint8_t)(width >> 8), (uint8_t)height,
                                (uint8_t)(height >> 8)};
        memcpy(buf + n, head, sizeof head);
        n += sizeof head;
      } else if (first) {
        const uint8_t head[] = {0x51, 0x00, 0x00}; /* the frame tag of an inter frame */
        memcpy(buf + n, head, sizeof head);
        n += sizeof head;
      }
      memset(buf + n, 0x33, (size_t)layer_shape[l].bytes);
      dc_transport_send_rtp(t, buf, n + (size_t)layer_shape[l].bytes, sizeof buf);
      g_atomic_int_inc(&c->sent);
    }
  c->pid = (c->pid + 1) & 0x7FFF;
  c->vts += 1800;
}

static gboolean send_media(gpointer data) {
  client *c = data;
  /* whose turn it is: the talkers in order, TURN_S seconds each */
  int turn = (int)((g_get_monotonic_time() - S.start_us) / (TURN_S * G_USEC_PER_SEC)) % MAX(S.talkers, 1);
  const frame *f = &S.silence;
  if (c->talker && c->member == turn)
    f = &S.speech[c->speech_at++ % S.n_speech];
  /* --muted-dtx: silence as a browser with DTX sends it, a packet every 400 ms (Opus's
   * comfort-noise update), its RTP time going on in between */
  bool quiet_tick = f == &S.silence && S.muted_dtx && c->quiet_ticks++ % 20 != 0;
  if (f != &S.silence)
    c->quiet_ticks = 0;
  uint8_t buf[DC_TRANSPORT_BUF], level = (uint8_t)(0x80 | f->level); /* V: voice active */
  if (f->level == 127)
    level = 127;
  dc_rtp_ext_elem ext = {LEVEL_ID, 1, &level};
  dc_rtp_header h = {.payload_type = 111, .seq = c->aseq, .timestamp = c->ats, .ssrc = audio_ssrc(c)};
  c->ats += 960;
  if (!quiet_tick) {
    c->aseq++;
    size_t n = dc_rtp_write_header(buf, sizeof buf, &h, &ext, 1);
    memcpy(buf + n, f->data, (size_t)f->len);
    dc_transport_send_rtp(c->t, buf, n + (size_t)f->len, sizeof buf);
    g_atomic_int_inc(&c->sent);
  }
  if (c->video && (!S.janus || c->vt)) /* to Janus on the camera's own PeerConnection */
    send_video(c, S.janus ? c->vt : c->t);
  return G_SOURCE_CONTINUE;
}

static void start_sending(dc_transport *t, gpointer user) {
  client *c = user;
  c->t = t;
  c->timer = g_timeout_source_new(20);
  g_source_set_callback(c->timer, send_media, c, NULL);
  g_source_attach(c->timer, dc_worker_context(dc_transport_worker(c->t)));
}

static void on_connected(dc_client *dc, gpointer user) { start_sending(dc_client_transport(dc), user); }

/* Janus: the camera's transport is up (on the same worker as the audio's, whose timer sends both) */
static void on_camera_connected(dc_transport *t, gpointer user) { ((client *)user)->vt = t; }

static void on_janus_video(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)buf, (void)len, (void)cap;
  g_atomic_int_inc(&((client *)user)->video_in);
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)cap;
  client *c = user;
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK)
    return;
  if (pkt.payload_type == 111) {
    g_atomic_int_inc(&c->audio_in);
    int samples = opus_packet_get_nb_samples(dc_rtp_payload(&pkt), (opus_int32)pkt.payload_len, 48000);
    if (samples > 0)
      g_atomic_int_add(&c->audio_samples, samples);
    if (c->last_aseq >= 0) {
      uint16_t ahead = (uint16_t)(pkt.seq - (uint16_t)c->last_aseq);
      if (ahead > 1 && ahead < 1000) /* not a reorder or a restart */
        g_atomic_int_add(&c->audio_gaps, ahead - 1);
    }
    c->last_aseq = pkt.seq;
  } else if (pkt.payload_type == VP8_PT) {
    g_atomic_int_inc(&c->video_in);
    /* our filler ends every frame's packet: padding the bridge added (outbox.h) must come off */
    if (pkt.payload_len > 4 && dc_rtp_payload(&pkt)[pkt.payload_len - 1] != 0x33)
      g_atomic_int_inc(&S.video_bad);
  }
}

/* Audio with the level extension; the camera (three simulcast layers for a sender) and one
 * thumbnail. */
static char *offer(dc_client *dc, gpointer user) {
  client *c = user;
  uint32_t layers[LAYERS];
  for (int l = 0; l < LAYERS; l++)
    layers[l] = video_ssrc(c, l);
  return dc_client_meeting_offer(dc, audio_ssrc(c), layers, c->video ? LAYERS : 0);
}

static void start_client(client *c) {
  if (S.janus) {
    static const janus_client_callbacks jcb = {.connected = start_sending, .video_connected = on_camera_connected,
                                               .rtp = on_rtp, .video_rtp = on_janus_video};
    char name[32];
    g_snprintf(name, sizeof name, "Điểm %d", c->index + 1);
    uint32_t layers[LAYERS];
    for (int l = 0; l < LAYERS; l++)
      layers[l] = video_ssrc(c, l);
    janus_client_config jcfg = {.session = S.point_sessions[c->index / POINTS_PER_ADDRESS], .worker = dc_workers_pick(S.workers),
                                .identity = S.id, .url = S.url, .room = JANUS_ROOM, .name = name,
                                .audio_ssrc = audio_ssrc(c), .level_id = LEVEL_ID, .local_address = S.client_address,
                                .video_ssrcs = c->video ? layers : NULL, .n_video_layers = c->video ? LAYERS : 0,
                                .video_pt = VP8_PT, .feed_id = (guint64)c->index + 1};
    /* two cameras other than its own, as diemcau's two slots hold them: a main slot at the
     * middle layer (where diemcau's estimates put it on loopback, so both servers forward the
     * same packets), a thumbnail at the lowest */
    for (int k = 0; k < S.video_senders && jcfg.n_subscribe < 2; k++)
      if (k != c->index) {
        jcfg.subscribe[jcfg.n_subscribe] = (guint64)k + 1;
        jcfg.substream[jcfg.n_subscribe] = jcfg.n_subscribe == 0 ? 1 : 0;
        jcfg.n_subscribe++;
      }
    c->jc = janus_client_new(&jcfg, &jcb, c);
    return;
  }
  static const dc_client_callbacks cb = {.offer = offer, .connected = on_connected, .rtp = on_rtp};
  char name[32];
  g_snprintf(name, sizeof name, "Điểm %d", c->index + 1);
  dc_client_config cfg = {.session = S.point_sessions[c->index / POINTS_PER_ADDRESS], .workers = S.workers, .identity = S.id, .ws_url = S.url,
                          .meeting = S.meeting[c->index % S.meetings], .token = c->token, .name = name, .slots = 2, .reports = true,
                          .roster_changes = true, .remb_bps = S.remb_bps, .local_address = S.client_address};
  c->dc = dc_client_new(&cfg, &cb, c);
}

/* ---- either server's points ---- */

static gboolean point_connected(const client *c) {
  return S.janus ? janus_client_is_connected(c->jc) : dc_client_is_connected(c->dc);
}
static gint64 point_opened_us(const client *c) {
  return S.janus ? janus_client_started_us(c->jc) : dc_client_opened_us(c->dc);
}
static gint64 point_connected_us(const client *c) {
  return S.janus ? janus_client_connected_us(c->jc) : dc_client_connected_us(c->dc);
}
static guint64 point_signaling_bytes(const client *c) {
  return S.janus ? janus_client_signaling_bytes(c->jc) : dc_client_signaling_bytes(c->dc);
}
static const char *point_progress(const client *c) {
  if (S.janus)
    return janus_client_progress(c->jc);
  return !dc_client_opened_us(c->dc)     ? "its WebSocket never opened"
         : !dc_client_participant(c->dc) ? "joined was never answered"
                                         : "its media never came up (ICE or DTLS)";
}

/* Janus from its package, with the configuration tests/load/janus-side-by-side wrote; ready
 * once its HTTP API answers. */
static GSubprocess *start_janus(const char *exe, const char *conf, int port) {
  char *cfg = g_build_filename(conf, "janus.jcfg", NULL), *log = g_build_filename(conf, "janus.log", NULL);
  bool debug = g_getenv("LOAD_JANUS_DEBUG") != NULL; /* Janus's own log (and libnice's) on our stdout */
  GSubprocessLauncher *launcher = g_subprocess_launcher_new(debug ? G_SUBPROCESS_FLAGS_NONE : G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_child_setup(launcher, dc_test_die_with_parent, NULL, NULL);
  GError *err = NULL;
  GSubprocess *janus = g_subprocess_launcher_spawn(launcher, &err, exe, "-F", conf, "-C", cfg, debug ? "-o" : "-N", "-L", log, NULL);
  g_object_unref(launcher);
  char *info = g_strdup_printf("http://127.0.0.1:%d/janus/info", port);
  bool ready = false;
  for (int i = 0; janus && i < 150 && !ready && g_subprocess_get_identifier(janus); i++) {
    SoupMessage *msg = soup_message_new("GET", info);
    GBytes *body = soup_session_send_and_read(S.session, msg, NULL, NULL);
    ready = body && soup_message_get_status(msg) == SOUP_STATUS_OK;
    if (body)
      g_bytes_unref(body);
    g_object_unref(msg);
    if (!ready)
      g_usleep(100 * 1000);
  }
  if (!ready) {
    fprintf(stderr, "load: Janus (%s) %s; its log: %s\n", exe,
            !janus ? err->message : "did not answer on its HTTP port within 15 s", log);
    g_clear_error(&err);
    if (janus) {
      g_subprocess_force_exit(janus);
      g_clear_object(&janus);
    }
  }
  g_free(info);
  g_free(cfg);
  g_free(log);
  return janus;
}

/* ---- the bridge's own counters ---- */

typedef struct {
  double rtp_in, rtp_out, dropped, direct;
  double silence_filters, silence_skipped; /* bridge/silence_filter.h */
  double send_calls, sends, sent_datagrams, gso_datagrams, padded; /* bridge/outbox.h */
  double reads, read_datagrams, read_coalesced;            /* bridge/transport.c, direct receive */
  double ring_sends, ring_reads;                           /* of those, made through io_uring (bridge/uring.h) */
  double hold_count, hold_sum_s, hold_1ms, hold_5ms;       /* passes' waits (outbox.h); how many within 1 and 5 ms */
  double mix_played, mix_wait_s, mix_late_waits; /* talkers' packets the mixers played, their wait */
  double mix_encodes, mix_silence_resent;         /* mixes encoded; of silence, sent again instead */
  double tick_count, tick_sum_s, reduced_effort;  /* the mix clock's ticks, their work, its effort (audio.c) */
  bool ok;
} bridge_counters;

/* The value on the line that starts with name (its # HELP line names it too). */
static double metric(const char *text, const char *name) {
  for (const char *at = strstr(text, name); at; at = strstr(at + 1, name))
    if (at == text || at[-1] == '\n')
      return g_ascii_strtod(at + strlen(name), NULL);
  return 0;
}

static bridge_counters read_metrics(int port) {
  bridge_counters b = {0};
  char *url = dc_test_metrics_url(port);
  SoupMessage *msg = soup_message_new("GET", url);
  GBytes *body = soup_session_send_and_read(S.session, msg, NULL, NULL);
  if (body && soup_message_get_status(msg) == SOUP_STATUS_OK) {
    char *text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
    b.rtp_in = metric(text, "diemcau_rtp_packets_total{direction=\"in\"} ");
    b.rtp_out = metric(text, "diemcau_rtp_packets_total{direction=\"out\"} ");
    b.dropped = metric(text, "diemcau_deliveries_dropped_total ");
    b.send_calls = metric(text, "diemcau_media_sends_total{what=\"calls\"} ");
    b.sends = metric(text, "diemcau_media_sends_total{what=\"sends\"} ");
    b.sent_datagrams = metric(text, "diemcau_media_sends_total{what=\"datagrams\"} ");
    b.gso_datagrams = metric(text, "diemcau_media_sends_total{what=\"gso_datagrams\"} ");
    b.padded = metric(text, "diemcau_rtp_padded_to_run_total ");
    b.reads = metric(text, "diemcau_media_receives_total{what=\"calls\"} ");
    b.read_datagrams = metric(text, "diemcau_media_receives_total{what=\"datagrams\"} ");
    b.read_coalesced = metric(text, "diemcau_media_receives_total{what=\"coalesced_datagrams\"} ");
    b.ring_sends = metric(text, "diemcau_media_io_uring_requests_total{what=\"sends\"} ");
    b.ring_reads = metric(text, "diemcau_media_io_uring_requests_total{what=\"reads\"} ");
    b.hold_count = metric(text, "diemcau_outbox_hold_seconds_count ");
    b.hold_sum_s = metric(text, "diemcau_outbox_hold_seconds_sum ");
    b.hold_1ms = metric(text, "diemcau_outbox_hold_seconds_bucket{le=\"0.001\"} ");
    b.hold_5ms = metric(text, "diemcau_outbox_hold_seconds_bucket{le=\"0.005\"} ");
    b.direct = metric(text, "diemcau_direct_receive_total ");
    b.silence_filters = metric(text, "diemcau_silence_filters_total ");
    b.silence_skipped = metric(text, "diemcau_audio_silence_skipped_total ");
    b.mix_played = metric(text, "diemcau_mix_playout_wait_seconds_count ");
    b.mix_wait_s = metric(text, "diemcau_mix_playout_wait_seconds_sum ");
    b.mix_late_waits = metric(text, "diemcau_mix_late_waits_total ");
    b.mix_encodes = metric(text, "diemcau_mix_encodes_total ");
    b.mix_silence_resent = metric(text, "diemcau_mix_silence_resent_total ");
    b.tick_count = metric(text, "diemcau_mix_tick_seconds_count ");
    b.tick_sum_s = metric(text, "diemcau_mix_tick_seconds_sum ");
    b.reduced_effort = metric(text, "diemcau_mix_reduced_effort ");
    b.ok = strstr(text, "\ndiemcau_deliveries_dropped_total ") != NULL && strstr(text, "\ndiemcau_direct_receive_total ");
    g_free(text);
  }
  if (body)
    g_bytes_unref(body);
  g_object_unref(msg);
  g_free(url);
  return b;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* CPU seconds of the --add-cpu-of processes or threads, summed (an unreadable one: none). */
static double added_cpu_s(char **pids) {
  double sum = 0;
  for (char **p = pids; p && *p; p++) {
    double s = dc_test_cpu_s((GPid)g_ascii_strtoll(*p, NULL, 10));
    sum += s > 0 ? s : 0;
  }
  return sum;
}

static double quantile(double *v, int n, double q) {
  if (n == 0)
    return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[MIN(n - 1, (int)(q * n))];
}

int main(int argc, char **argv) {
  int participants = 40, seconds = 10, talkers = 3, video_senders = -1, port = 18650, workers = 2, meetings = 1, remb_kbps = 0;
  char *janus_conf = NULL, *client_address = NULL, **bridge_options = NULL, **added_cpu = NULL;
  double join_rate = 0;
  gboolean check = FALSE;
  GOptionEntry entries[] = {
      {"participants", 0, 0, G_OPTION_ARG_INT, &participants, "participants (default 40)", "N"},
      {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "how long to measure once all joined (default 10)", "S"},
      {"meetings", 0, 0, G_OPTION_ARG_INT, &meetings, "meetings the participants are spread over, participant i in meeting i mod K (default 1; not with --janus)", "K"},
      {"talkers", 0, 0, G_OPTION_ARG_INT, &talkers, "participants that take turns speaking, in each meeting (default 3)", "T"},
      {"muted-dtx", 0, 0, G_OPTION_ARG_NONE, &S.muted_dtx, "the others send silence as a muted browser does under our answer (DTX: a packet every 400 ms), not at 50 packets a second (issue 15's model)", NULL},
      {"video-senders", 0, 0, G_OPTION_ARG_INT, &video_senders, "participants sending three simulcast layers, in each meeting, the talkers first (default 3)", "V"},
      {"join-rate", 0, 0, G_OPTION_ARG_DOUBLE, &join_rate, "joins a second (default 0: all at once, a storm)", "R"},
      {"remb", 0, 0, G_OPTION_ARG_INT, &remb_kbps, "each point's receiver reports carry a REMB of this rate, as Chrome's "
       "on a clear link: main slots climb to the top layer (default 0: none; diemcau's estimates then hold a main slot at "
       "the middle layer on loopback)", "KBPS"},
      {"port", 0, 0, G_OPTION_ARG_INT, &port, "the server's port on 127.0.0.1 (default 18650; with --janus, its HTTP API's)", "P"},
      {"janus", 0, 0, G_OPTION_ARG_FILENAME, &janus_conf, "the server is Janus (its path the argument) with this configuration folder: "
       "AudioBridge and VideoRoom rooms 1234, its HTTP API on --port (tests/load/janus-side-by-side writes one)", "DIR"},
      {"client-address", 0, 0, G_OPTION_ARG_STRING, &client_address, "the address the points gather ICE "
       "candidates on (default 127.0.0.1; Janus gathers none on loopback interfaces)", "A"},
      {"client-workers", 0, 0, G_OPTION_ARG_INT, &workers, "the generator's media threads (default 2)", "W"},
      {"bridge-option", 0, 0, G_OPTION_ARG_STRING_ARRAY, &bridge_options, "one more of diemcau-bridge's flags, as "
       "--bridge-option=--no-io-uring (repeatable; not with --janus)", "FLAG"},
      {"add-cpu-of", 0, 0, G_OPTION_ARG_STRING_ARRAY, &added_cpu, "a process or kernel thread doing the server's work "
       "whose CPU counts as the server's (tests/load/over-veth: the thread that receives the server's packets off its "
       "link, as a NIC's interrupt would on a server of its own); repeat for more", "PID"},
      {"check", 0, 0, G_OPTION_ARG_NONE, &check, "exit 1 when delivery falls short or the bridge drops (scripts/test)", NULL},
      G_OPTION_ENTRY_NULL};
  GOptionContext *octx = g_option_context_new("PATH/TO/diemcau-bridge (or janus, with --janus) - N participants and what they cost the server");
  g_option_context_add_main_entries(octx, entries, NULL);
  GError *err = NULL;
  bool parsed = g_option_context_parse(octx, &argc, &argv, &err);
  int smallest = meetings > 0 ? participants / meetings : 0; /* the fewest participants a meeting has */
  if (video_senders < 0)
    video_senders = MIN(3, smallest);
  if (!parsed || argc != 2 || meetings < 1 || smallest < 2 || seconds < 2 || talkers < 0 || talkers > smallest ||
      video_senders > smallest || workers < 1 || (janus_conf && (meetings > 1 || bridge_options))) {
    fprintf(stderr, "load: %s\n", err ? err->message
                                      : "usage: load [options] PATH/TO/diemcau-bridge (--participants >= 2 a meeting, "
                                        "--seconds >= 2, talkers and video senders at most a meeting's participants, "
                                        "one meeting and no --bridge-option with --janus)");
    return 2;
  }
  S.janus = janus_conf != NULL;
  S.remb_bps = (uint64_t)MAX(remb_kbps, 0) * 1000;
  S.video_senders = video_senders;
  S.client_address = client_address ? client_address : "127.0.0.1";
  g_option_context_free(octx);
  S.talkers = talkers;
  S.meetings = meetings;
  S.meeting = g_new0(int64_t, (gsize)meetings);
  if (!make_speech())
    return 1;

  char *dir = g_dir_make_tmp("diemcau-load-XXXXXX", NULL);
  char **tokens = NULL;
  if (!S.janus)
    dc_test_make_meetings(dir, meetings, participants, &tokens, S.meeting);
  client *clients = g_new0(client, (gsize)participants);
  for (int i = 0; i < participants; i++)
    clients[i] = (client){.index = i, .member = i / meetings, .token = tokens ? tokens[i] : NULL,
                          .talker = i / meetings < talkers, .video = i / meetings < video_senders, .last_aseq = -1};
  S.session = soup_session_new();
  GSubprocess *bridge = S.janus ? start_janus(argv[1], janus_conf, port) : dc_test_start_bridge_with(argv[1], dir, port, "warning", (const char *const *)bridge_options);
  if (!bridge)
    return 1;
  GPid pid = dc_test_pid(bridge);
  long rss_idle = dc_test_rss_kib(pid), anon_idle = dc_test_rss_anon_kib(pid);
  int fds_idle = dc_test_open_fds(pid);
  int n_sessions = (participants + POINTS_PER_ADDRESS - 1) / POINTS_PER_ADDRESS;
  S.point_sessions = g_new0(SoupSession *, (gsize)n_sessions);
  for (int k = 0; k < n_sessions; k++)
    S.point_sessions[k] = dc_test_point_session(k);
  S.url = S.janus ? g_strdup_printf("http://127.0.0.1:%d/janus", port)
                  : g_strdup_printf("ws://%s:%d/ws", dc_test_bridge_address(), port);
  S.workers = dc_workers_new(workers);
  S.id = dc_dtls_identity_new("load", &err);
  g_assert_no_error(err);
  printf("load: %s, %d participants in %d meeting(s) (in each, %d take turns talking, %d send 3 simulcast layers), joins %s\n",
         S.janus ? (video_senders ? "Janus's AudioBridge and VideoRoom" : "Janus's AudioBridge") : "diemcau", participants, meetings, talkers,
         video_senders, join_rate > 0 ? "paced" : "in a storm");
  fflush(stdout);

  /* joins: all at once, or paced */
  gint64 storm_start = g_get_monotonic_time();
  S.start_us = storm_start;
  int started = 0, joined = 0;
  gint64 join_deadline = storm_start + (gint64)(30 + participants / 5 + (join_rate > 0 ? participants / join_rate : 0)) * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < join_deadline) {
    double due = join_rate > 0 ? (g_get_monotonic_time() - storm_start) / 1e6 * join_rate + 1 : participants;
    while (started < participants && started < due)
      start_client(&clients[started++]);
    joined = 0;
    for (int i = 0; i < started; i++)
      joined += point_connected(&clients[i]);
    if (joined == participants)
      break;
    g_main_context_iteration(NULL, FALSE), g_usleep(1000);
  }
  double storm_s = (g_get_monotonic_time() - storm_start) / 1e6;
  double *join_ms = g_new0(double, (gsize)participants);
  int n_join = 0;
  for (int i = 0; i < started; i++) {
    gint64 up = point_connected_us(&clients[i]), open = point_opened_us(&clients[i]);
    if (up && open)
      join_ms[n_join++] = (up - open) / 1000.0;
  }
  double join_p50 = quantile(join_ms, n_join, 0.5), join_p95 = quantile(join_ms, n_join, 0.95),
         join_max = n_join ? join_ms[n_join - 1] : 0;
  /* where a join's wait went (diemcau): its WebSocket open, "joined", the answer, ICE's path, DTLS */
  enum { STEPS = 5 };
  static const char *const step_name[STEPS] = {"WebSocket", "joined", "answer", "ICE", "DTLS"};
  double step_p50[STEPS] = {0}, step_p95[STEPS] = {0}, asked_p50 = 0, asked_p95 = 0;
  if (!S.janus) {
    double *step_ms = g_new0(double, (gsize)participants);
    int n_up = 0; /* the whole wait a user has: from its WebSocket asked for to media up */
    for (int i = 0; i < started; i++)
      if (dc_client_connected_us(clients[i].dc))
        step_ms[n_up++] = (dc_client_connected_us(clients[i].dc) - dc_client_started_us(clients[i].dc)) / 1000.0;
    asked_p50 = quantile(step_ms, n_up, 0.5), asked_p95 = quantile(step_ms, n_up, 0.95);
    for (int k = 0; k < STEPS; k++) {
      int n = 0;
      for (int i = 0; i < started; i++) {
        const dc_client *dc = clients[i].dc;
        gint64 at[STEPS + 1] = {dc_client_started_us(dc), dc_client_opened_us(dc), dc_client_joined_us(dc),
                                dc_client_answered_us(dc), dc_client_ice_ready_us(dc), dc_client_connected_us(dc)};
        if (at[k] && at[k + 1])
          step_ms[n++] = (double)MAX(0, at[k + 1] - at[k]) / 1000.0;
      }
      step_p50[k] = quantile(step_ms, n, 0.5), step_p95[k] = quantile(step_ms, n, 0.95);
    }
    g_free(step_ms);
  }
  printf("load: %d of %d joined in %.1f s\n", joined, participants, storm_s);
  for (int i = 0, told = 0; i < participants && told < 10; i++)
    if (i >= started || !point_connected(&clients[i])) { /* how far it got */
      told++;
      printf("load: participant %d never connected: %s\n", i, i >= started ? "never started" : point_progress(&clients[i]));
    }
  fflush(stdout);

  /* Janus: each camera and each subscription is a PeerConnection of its own, made after the
   * audio's; wait for them (a subscription waits for its publishers to be in the room) */
  if (S.janus && video_senders) {
    gint64 video_deadline = g_get_monotonic_time() + (gint64)(30 + participants / 5) * G_USEC_PER_SEC;
    int video_up = 0;
    for (;;) {
      video_up = 0;
      for (int i = 0; i < started; i++)
        video_up += janus_client_video_is_connected(clients[i].jc);
      if (video_up == started || g_get_monotonic_time() >= video_deadline)
        break;
      g_main_context_iteration(NULL, FALSE), g_usleep(1000);
    }
    printf("load: %d of %d had their camera and subscription up %.1f s after the first join\n", video_up, participants,
           (g_get_monotonic_time() - storm_start) / 1e6);
    fflush(stdout);
  }

  /* settle (the slots and estimates after the storm), then measure */
  dc_test_spin_for(2000);
  /* the server's counters first: fetching them takes a while on a full machine, and the
   * points' counts are taken right at the window's two ends */
  bridge_counters m0 = {0}, m1 = {0};
  if (!S.janus)
    m0 = read_metrics(port);
  int *audio0 = g_new(int, (gsize)participants), *video0 = g_new(int, (gsize)participants),
      *gaps0 = g_new(int, (gsize)participants), *samples0 = g_new(int, (gsize)participants);
  long sent0 = 0, received0 = 0;
  for (int i = 0; i < participants; i++) {
    sent0 += g_atomic_int_get(&clients[i].sent);
    received0 += g_atomic_int_get(&clients[i].audio_in) + g_atomic_int_get(&clients[i].video_in);
    audio0[i] = g_atomic_int_get(&clients[i].audio_in);
    video0[i] = g_atomic_int_get(&clients[i].video_in);
    gaps0[i] = g_atomic_int_get(&clients[i].audio_gaps);
    samples0[i] = g_atomic_int_get(&clients[i].audio_samples);
  }
  /* the generator's own transports: datagrams they read, and those that came coalesced (the
   * bridge's GSO runs, whole in a socket with UDP GRO) */
  uint64_t own_read0 = atomic_load(&dc_metrics.direct_datagrams), own_coalesced0 = atomic_load(&dc_metrics.direct_coalesced);
  double cpu0 = dc_test_cpu_s(pid), self0 = dc_test_cpu_s(getpid()), added0 = added_cpu_s(added_cpu);
  gint64 t0 = g_get_monotonic_time();
  dc_test_spin_for(seconds * 1000);
  double secs = (g_get_monotonic_time() - t0) / 1e6;
  double own_read = (double)(atomic_load(&dc_metrics.direct_datagrams) - own_read0);
  double own_coalesced = (double)(atomic_load(&dc_metrics.direct_coalesced) - own_coalesced0);
  double cpu = 100 * (dc_test_cpu_s(pid) - cpu0) / secs, self = 100 * (dc_test_cpu_s(getpid()) - self0) / secs;
  double added = 100 * (added_cpu_s(added_cpu) - added0) / secs;
  cpu += added;
  double *audio = g_new(double, (gsize)participants), *video = g_new(double, (gsize)participants),
         *audio_ms = g_new(double, (gsize)participants);
  long audio_total = 0, gaps_total = 0;
  guint64 signaling = 0;
  long sent1 = 0, received1 = 0;
  for (int i = 0; i < participants; i++) {
    sent1 += g_atomic_int_get(&clients[i].sent);
    received1 += g_atomic_int_get(&clients[i].audio_in) + g_atomic_int_get(&clients[i].video_in);
    int a = g_atomic_int_get(&clients[i].audio_in) - audio0[i];
    audio[i] = a / secs;
    audio_ms[i] = (g_atomic_int_get(&clients[i].audio_samples) - samples0[i]) / 48.0 / secs;
    video[i] = (g_atomic_int_get(&clients[i].video_in) - video0[i]) / secs;
    audio_total += a;
    gaps_total += g_atomic_int_get(&clients[i].audio_gaps) - gaps0[i];
    if (i < started)
      signaling += point_signaling_bytes(&clients[i]);
  }
  if (!S.janus)
    m1 = read_metrics(port);
  long rss = dc_test_rss_kib(pid), anon = dc_test_rss_anon_kib(pid);
  double audio_least = quantile(audio, participants, 0), audio_median = quantile(audio, participants, 0.5);
  double audio_ms_least = quantile(audio_ms, participants, 0), audio_ms_median = quantile(audio_ms, participants, 0.5);
  double video_least = quantile(video, participants, 0), video_median = quantile(video, participants, 0.5);
  double gaps_pct = audio_total + gaps_total ? 100.0 * (double)gaps_total / (double)(audio_total + gaps_total) : 0;
  /* counted by the generator, the same for either server (diemcau's /metrics agree, less what
   * loopback lost) */
  double in_pps = (double)(sent1 - sent0) / secs, out_pps = (double)(received1 - received0) / secs;
  double dropped = m1.dropped - m0.dropped;
  double mix_played = m1.mix_played - m0.mix_played, mix_late = m1.mix_late_waits - m0.mix_late_waits;
  double mix_wait_ms = mix_played > 0 ? 1000 * (m1.mix_wait_s - m0.mix_wait_s) / mix_played : 0;

  int fds = dc_test_open_fds(pid);
  double fds_per = (double)(fds - fds_idle) / participants;
  printf("\n| measure | value |\n| --- | --- |\n");
  const char *server = S.janus ? "janus" : "diemcau";
  printf("| server | %s |\n", S.janus ? (video_senders ? "Janus 1.1.2, AudioBridge and VideoRoom" : "Janus 1.1.2, AudioBridge") : "diemcau");
  printf("| participants joined | %d of %d, in %.1f s |\n", joined, participants, storm_s);
  printf("| join, %s to media up: p50 / p95 / max | %.0f / %.0f / %.0f ms |\n",
         S.janus ? "session asked for" : "WebSocket open", join_p50, join_p95, join_max);
  if (!S.janus) {
    printf("| join, WebSocket asked for to media up: p50 / p95 | %.0f / %.0f ms |\n", asked_p50, asked_p95);
    printf("| the join's steps, p50 / p95 (each from the one before) |");
    for (int k = 0; k < STEPS; k++)
      printf(" %s %.0f / %.0f ms%s", step_name[k], step_p50[k], step_p95[k], k + 1 < STEPS ? "," : " |\n");
  }
  if (added_cpu)
    printf("| server CPU, %% of one core | %.1f (the process %.1f, the threads given by --add-cpu-of %.1f) |\n", cpu,
           cpu - added, added);
  else
    printf("| server CPU, %% of one core | %.1f |\n", cpu);
  printf("| server RSS | %ld KiB (%ld idle) |\n", rss, rss_idle);
  printf("| server heap and stacks (RssAnon) a participant | %.0f KiB (%ld KiB, %ld idle) |\n",
         (double)(anon - anon_idle) / participants, anon, anon_idle);
  printf("| server descriptors a participant | %.2f (%d, %d idle) |\n", fds_per, fds, fds_idle);
  printf("| RTP packets a second, to the server / from it | %.0f / %.0f |\n", in_pps, out_pps);
  printf("| server CPU a packet (in + out) | %.1f µs |\n", out_pps > 0 ? cpu / 100 * 1e6 / (in_pps + out_pps) : 0);
  if (!S.janus) {
    printf("| deliveries the bridge dropped (a worker behind) | %.0f |\n", dropped);
    printf("| transports reading their socket themselves | %.0f of %d |\n", m1.direct, joined);
    printf("| RTP packets the bridge read a second; muted points' silence the kernel dropped (silence_filter.h), on "
           "how many sockets | %.0f; %.0f a second, %.0f of %d |\n", (m1.rtp_in - m0.rtp_in) / secs,
           (m1.silence_skipped - m0.silence_skipped) / secs, m1.silence_filters, joined);
    double calls = m1.send_calls - m0.send_calls, datagrams = m1.sent_datagrams - m0.sent_datagrams;
    double sends = m1.sends - m0.sends;
    printf("| media datagrams the bridge sent a system call, a send (io_uring: many sends a call); share sent by GSO | "
           "%.2f, %.2f; %.1f %% |\n",
           calls > 0 ? datagrams / calls : 0, sends > 0 ? datagrams / sends : 0,
           datagrams > 0 ? 100 * (m1.gso_datagrams - m0.gso_datagrams) / datagrams : 0);
    double reads = m1.reads - m0.reads, read = m1.read_datagrams - m0.read_datagrams;
    printf("| datagrams the bridge read a system call; share that came coalesced (UDP GRO) | %.2f; %.1f %% |\n",
           reads > 0 ? read / reads : 0, read > 0 ? 100 * (m1.read_coalesced - m0.read_coalesced) / read : 0);
    printf("| sends and reads made through io_uring | %.0f, %.0f |\n", m1.ring_sends - m0.ring_sends,
           m1.ring_reads - m0.ring_reads);
    printf("| datagrams the points read that came coalesced (the bridge's GSO runs, whole) | %.1f %% of %.0f |\n",
           own_read > 0 ? 100 * own_coalesced / own_read : 0, own_read);
    double holds = m1.hold_count - m0.hold_count;
    printf("| the longest wait in a worker's pass (outbox.h): mean; passes over 1 ms, over 5 ms | %.0f µs; %.1f %%, %.2f %% "
           "(of %.0f) |\n", holds > 0 ? 1e6 * (m1.hold_sum_s - m0.hold_sum_s) / holds : 0,
           holds > 0 ? 100 * (holds - (m1.hold_1ms - m0.hold_1ms)) / holds : 0,
           holds > 0 ? 100 * (holds - (m1.hold_5ms - m0.hold_5ms)) / holds : 0, holds);
    printf("| packets the bridge padded to join a run; video packets whose payload came wrong | %.0f; %d |\n",
           m1.padded - m0.padded, g_atomic_int_get(&S.video_bad));
    printf("| talkers' packets the mixers played, and their wait there on average | %.0f, %.1f ms (%.0f ticks concealed "
           "waiting) |\n", mix_played, mix_wait_ms, mix_late);
    printf("| mixes the bridge encoded a second; of silence, sent again instead (mixer.c) | %.0f; %.0f |\n",
           (m1.mix_encodes - m0.mix_encodes) / secs, (m1.mix_silence_resent - m0.mix_silence_resent) / secs);
    double ticks = m1.tick_count - m0.tick_count;
    printf("| the mix clock: its work a tick on average (of 20 ms); its encoders at reduced effort at the end (audio.c) | "
           "%.2f ms; %s |\n", ticks > 0 ? 1000 * (m1.tick_sum_s - m0.tick_sum_s) / ticks : 0,
           m1.reduced_effort > 0 ? "yes" : "no");
  }
  printf("| audio received a second: least / median | %.1f / %.1f packets; %.0f / %.0f ms of sound (of 1000) |\n",
         audio_least, audio_median, audio_ms_least, audio_ms_median);
  printf("| mix packets missing (gaps) | %ld (%.2f %%) |\n", gaps_total, gaps_pct);
  printf("| video packets received a second: least / median | %.1f / %.1f |\n", video_least, video_median);
  printf("| signaling bytes a participant (joins and all) | %.0f |\n", (double)signaling / participants);
  printf("| the generator's own CPU, %% of one core | %.1f |\n", self);
  printf("{\"bench\":\"load\",\"server\":\"%s\",\"participants\":%d,\"meetings\":%d,\"joined\":%d,\"talkers\":%d,\"video_senders\":%d,\"storm_s\":%.2f,"
         "\"join_p50_ms\":%.0f,\"join_p95_ms\":%.0f,\"join_max_ms\":%.0f,\"cpu_pct\":%.1f,\"rss_kib\":%ld,"
         "\"rss_idle_kib\":%ld,\"anon_kib\":%ld,\"anon_idle_kib\":%ld,\"rtp_in_pps\":%.0f,\"rtp_out_pps\":%.0f,\"dropped\":%.0f,\"audio_pps_least\":%.1f,"
         "\"audio_pps_median\":%.1f,\"audio_ms_least\":%.0f,\"audio_ms_median\":%.0f,\"gaps\":%ld,\"video_pps_least\":%.1f,\"video_pps_median\":%.1f,"
         "\"signaling_bytes_per_participant\":%.0f,\"generator_cpu_pct\":%.1f,\"fds_per_participant\":%.2f,"
         "\"join_asked_p50_ms\":%.0f,\"join_asked_p95_ms\":%.0f,\"mix_played\":%.0f,\"mix_wait_ms\":%.1f,\"cpu_added_pct\":%.1f}\n",
         server, participants, meetings, joined, talkers, video_senders, storm_s, join_p50, join_p95, join_max, cpu, rss, rss_idle, anon, anon_idle, in_pps,
         out_pps, dropped, audio_least, audio_median, audio_ms_least, audio_ms_median, gaps_total, video_least, video_median,
         (double)signaling / participants, self, fds_per, asked_p50, asked_p95, mix_played, mix_wait_ms, added);
  fflush(stdout);

  int failed = 0;
#define BOUND(ok, ...)                         \
  if (check && !(ok)) {                        \
    failed++;                                  \
    fprintf(stderr, "FAILED: " __VA_ARGS__);   \
  }
  BOUND(joined == participants, "%d of %d participants joined\n", joined, participants);
  BOUND(S.janus || m1.ok, "the bridge's /metrics could not be read\n");
  BOUND(dropped == 0, "the bridge dropped %.0f deliveries (a worker fell behind)\n", dropped);
  /* the mix clock hands the mixers' counts to /metrics: talkers were heard */
  BOUND(S.janus || talkers == 0 || mix_played > 0, "the bridge's mixers played %.0f of the talkers' packets\n", mix_played);
  /* a talker alone in its turn hears nobody: its own mix is silence, sent again, not encoded */
  double resent = m1.mix_silence_resent - m0.mix_silence_resent;
  BOUND(S.janus || talkers == 0 || resent > 0, "the mixers encoded every mix of silence (%.0f sent again)\n", resent);
  /* on loopback every path is UDP on the bridge's one host socket: each transport reads it itself */
  BOUND(S.janus || m1.direct == participants, "%.0f of %d transports read their socket themselves\n", m1.direct,
        participants);
  /* a participant holds its WebSocket's connection and the UDP socket its transport reads, and
   * nothing of libnice's once it does (the agent goes: bridge/transport.c) */
  BOUND(S.janus || fds_per <= 2.2, "the bridge holds %.2f descriptors a participant (%d, %d idle)\n", fds_per, fds,
        fds_idle);
  /* 50 packets a second, or 25 of 40 ms in a big room (media/mixer.h) */
  BOUND(audio_ms_least >= 900, "a participant got %.0f ms of the mix's sound a second (%.1f packets)\n", audio_ms_least,
        audio_least);
  BOUND(gaps_pct < 1, "%.2f %% of the mix's packets never came (%ld)\n", gaps_pct, gaps_total);
  /* with a camera among the talkers every slot holds someone; the speaker's own main slot too */
  BOUND(video_senders == 0 || video_least > 0, "a participant got no video (%.1f packets a second)\n", video_least);
  BOUND(g_atomic_int_get(&S.video_bad) == 0, "%d video packets came with a payload that is not what was sent\n",
        g_atomic_int_get(&S.video_bad));
  /* a main slot's frame is two or more packets a few bytes apart: some are padded to go in one call */
  BOUND(S.janus || video_senders == 0 || m1.padded - m0.padded > 0, "the bridge padded %.0f packets to join a run\n",
        m1.padded - m0.padded);
  /* the bridge's runs reach the points' sockets whole and are taken apart there (payloads
   * checked above) */
  BOUND(S.janus || video_senders == 0 || own_coalesced > 0, "the points read %.0f of %.0f datagrams coalesced\n",
        own_coalesced, own_read);

  /* the silent points' audio is dropped by their sockets (bridge/silence_filter.h), and the
   * bridge's numbering says how much; --no-silence-filter: none is */
  bool no_ring = false, no_filter = false;
  for (char **o = bridge_options; o && *o; o++) {
    no_ring |= !strcmp(*o, "--no-io-uring");
    no_filter |= !strcmp(*o, "--no-silence-filter");
  }
  bool silent_points = participants > talkers * meetings;
  BOUND(S.janus || no_filter || m1.silence_filters == participants, "%.0f of %d sockets drop silent audio\n",
        m1.silence_filters, participants);
  BOUND(S.janus || no_filter || !silent_points || m1.silence_skipped > m0.silence_skipped,
        "the bridge counted %.0f silent packets left out by the kernel\n", m1.silence_skipped - m0.silence_skipped);
  BOUND(!no_filter || m1.silence_filters == 0, "with --no-silence-filter %.0f sockets dropped silence\n",
        m1.silence_filters);
  BOUND(!no_ring || (m1.ring_sends == m0.ring_sends && m1.ring_reads == m0.ring_reads),
        "with --no-io-uring the bridge made %.0f sends and %.0f reads through io_uring\n", m1.ring_sends - m0.ring_sends,
        m1.ring_reads - m0.ring_reads);
  BOUND(!no_ring || m1.send_calls - m0.send_calls == m1.sends - m0.sends,
        "with --no-io-uring the bridge made %.0f sends in %.0f system calls\n", m1.sends - m0.sends,
        m1.send_calls - m0.send_calls);

  /* the senders stop first: a send in progress ends before its transport's close (same worker) */
  for (int i = 0; i < started; i++) {
    if (clients[i].timer)
      g_source_destroy(clients[i].timer), g_source_unref(clients[i].timer);
    if (S.janus)
      janus_client_close(clients[i].jc);
    else
      dc_client_close(clients[i].dc);
  }
  dc_workers_free(S.workers);
  for (int i = 0; i < started; i++)
    S.janus ? janus_client_free(clients[i].jc) : dc_client_free(clients[i].dc);
  g_subprocess_send_signal(bridge, SIGTERM);
  g_subprocess_wait(bridge, NULL, NULL);
  BOUND(S.janus || (g_subprocess_get_if_exited(bridge) && g_subprocess_get_exit_status(bridge) == 0),
        "the bridge did not stop cleanly\n");
  g_object_unref(bridge);
  dc_dtls_identity_unref(S.id);
  g_object_unref(S.session);
  for (int k = 0; k < n_sessions; k++)
    g_object_unref(S.point_sessions[k]);
  g_free(S.point_sessions);
  g_free(S.url);
  g_free(S.meeting);
  g_free(janus_conf);
  g_strfreev(bridge_options);
  g_free(client_address);
  g_strfreev(added_cpu);
  g_free(S.speech);
  g_strfreev(tokens);
  g_free(clients);
  g_free(join_ms), g_free(audio), g_free(video), g_free(audio0), g_free(video0), g_free(gaps0), g_free(samples0), g_free(audio_ms);
  char *rm[] = {"rm", "-rf", dir, NULL};
  g_spawn_sync(NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(dir);
  return failed ? 1 : 0;
}
