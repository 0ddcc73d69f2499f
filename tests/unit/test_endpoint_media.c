/* Unit tests for the endpoint's send chains (endpoint/media.c), each run alone in a
 * GstHarness: raw audio or video in, RTP out. What a profile promises must be what goes on
 * the wire: the highland profile's 60 ms Opus frames at about 14 kbit/s with FEC, its
 * 320x180 VP8 at 10 fps; the other profiles' sizes and rates. */
#include <gst/audio/gstaudiosink.h>
#include <gst/base/gstbasesink.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "endpoint/media.h"

/* Pushes `seconds` of microphone through the profile's encoder, 10 ms per buffer, each filled
 * by fill(pcm, n-th buffer, arg), its quiet-until-sound probe attached when `gated`, and
 * returns the RTP packets. */
typedef void (*mic_fill)(int16_t pcm[480], int buffer, const void *arg);
static GPtrArray *encode_mic(const dc_profile *p, bool gated, double seconds, mic_fill fill, const void *arg) {
  char *desc = dc_media_audio_encoder_desc(p);
  GstHarness *h = gst_harness_new_parse(desc);
  g_free(desc);
  if (gated) {
    GstElement *enc = gst_bin_get_by_name(GST_BIN(h->element), "aenc");
    dc_media_quiet_until_sound(enc);
    gst_object_unref(enc);
  }
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=1");
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)gst_buffer_unref);
  for (int i = 0; i < (int)(seconds * 100); i++) {
    GstBuffer *b = gst_buffer_new_allocate(NULL, 480 * 2, NULL);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_WRITE);
    fill((int16_t *)map.data, i, arg);
    gst_buffer_unmap(b, &map);
    GST_BUFFER_PTS(b) = (GstClockTime)i * 10 * GST_MSECOND;
    GST_BUFFER_DURATION(b) = 10 * GST_MSECOND;
    g_assert_cmpint(gst_harness_push(h, b), ==, GST_FLOW_OK);
    GstBuffer *o;
    while ((o = gst_harness_try_pull(h)))
      g_ptr_array_add(out, o);
  }
  gst_harness_teardown(h);
  return out;
}

/* A 440 Hz tone, silent from quiet[0] to quiet[1] seconds. */
static void fill_tone(int16_t pcm[480], int i, const void *arg) {
  const double *quiet = arg;
  bool silent = i >= quiet[0] * 100 && i < quiet[1] * 100;
  for (int k = 0; k < 480; k++)
    pcm[k] = silent ? 0 : (int16_t)(8000 * sin(2 * G_PI * 440 * (i * 480 + k) / 48000.0));
}

static GPtrArray *run_audio_quiet(const dc_profile *p, double seconds, double quiet_from, double quiet_to) {
  const double quiet[2] = {quiet_from, quiet_to};
  return encode_mic(p, false, seconds, fill_tone, quiet);
}

static GPtrArray *run_audio(const dc_profile *p, double seconds) { return run_audio_quiet(p, seconds, 0, 0); }

static void check_audio(const char *name, int frame_ms, int max_kbps) {
  const dc_profile *p = dc_profile_find(name);
  GPtrArray *pkts = run_audio(p, 3.0);
  g_assert_cmpuint(pkts->len, >, 10);
  size_t payload = 0;
  guint32 prev_ts = 0;
  for (guint i = 0; i < pkts->len; i++) {
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    g_assert_true(gst_rtp_buffer_map(g_ptr_array_index(pkts, i), GST_MAP_READ, &rtp));
    g_assert_cmpint(gst_rtp_buffer_get_payload_type(&rtp), ==, 111);
    guint32 ts = gst_rtp_buffer_get_timestamp(&rtp);
    if (i > 1) /* every packet is one frame of the profile's length (the first is shifted by the encoder's lookahead) */
      g_assert_cmpuint(ts - prev_ts, ==, (guint)frame_ms * 48);
    prev_ts = ts;
    payload += gst_rtp_buffer_get_payload_len(&rtp);
    gst_rtp_buffer_unmap(&rtp);
  }
  double kbps = payload * 8.0 / 1000 / (pkts->len * frame_ms / 1000.0);
  g_test_message("%s: %u packets of %d ms, Opus payload %.1f kbit/s (target %d)", name, pkts->len, frame_ms, kbps,
                 p->audio_bps / 1000);
  g_assert_cmpfloat(kbps, <=, max_kbps);
  g_assert_cmpfloat(kbps, >=, p->audio_bps / 1000 * 0.5);
  g_ptr_array_unref(pkts);
}

static void test_audio_profiles(void) {
  check_audio("highland", 60, 16);
  check_audio("standard", 20, 40);
  check_audio("hall", 20, 60);
}

/* A quiet microphone (3 s of zeros between two of a tone): with DTX (highland) only the
 * encoder's comfort noise goes, a packet each ~420 ms, never a frame of two bytes or less (its
 * DTX frames), the timestamps going on over the gaps and the first packet after one marked;
 * without (standard) every frame goes. */
static void check_quiet(const char *name, bool dtx) {
  const dc_profile *p = dc_profile_find(name);
  g_assert_true(p->audio_dtx == dtx);
  GPtrArray *pkts = run_audio_quiet(p, 5.0, 1.0, 4.0);
  guint quiet = 0, small = 0, marked_after_gap = 0, gaps = 0, frames_off_grid = 0;
  guint32 prev_ts = 0, longest_gap = 0;
  guint32 frame = (guint32)p->audio_frame_ms * 48, first_ts = 0;
  for (guint i = 0; i < pkts->len; i++) {
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    g_assert_true(gst_rtp_buffer_map(g_ptr_array_index(pkts, i), GST_MAP_READ, &rtp));
    guint32 ts = gst_rtp_buffer_get_timestamp(&rtp), step = ts - prev_ts;
    if (i == 0)
      first_ts = ts;
    small += gst_rtp_buffer_get_payload_len(&rtp) <= 2;
    if (i > 1) {
      frames_off_grid += step % frame != 0;
      if (step > frame) {
        gaps++;
        marked_after_gap += gst_rtp_buffer_get_marker(&rtp);
        longest_gap = MAX(longest_gap, step);
      }
      /* the 3 s of zeros, less the encoder's lookahead and hangover either side */
      quiet += ts - first_ts >= (guint32)(1.5 * 48000) && ts - first_ts < (guint32)(3.5 * 48000);
    }
    prev_ts = ts;
    gst_rtp_buffer_unmap(&rtp);
  }
  g_test_message("%s, 5 s with 3 s quiet: %u packets, %u in the quiet's middle 2 s, %u of two bytes or less; %u gaps, "
                 "%u of them marked after, the longest %u ms; %u steps off the frame grid",
                 name, pkts->len, quiet, small, gaps, marked_after_gap, longest_gap / 48, frames_off_grid);
  g_assert_cmpuint(frames_off_grid, ==, 0);
  if (dtx) {
    g_assert_cmpuint(small, ==, 0);
    g_assert_cmpuint(quiet, <=, 2000 / 400 + 1); /* a frame of 60 ms: 33 in 2 s */
    g_assert_cmpuint(gaps, >, 0);
    g_assert_cmpuint(marked_after_gap, ==, gaps);
    g_assert_cmpuint(longest_gap / 48, <, 2000); /* the bridge takes 2 s of nothing for an outage */
  } else {
    g_assert_cmpuint(gaps, ==, 0);
    g_assert_cmpuint(quiet, ==, 2000 / (guint)p->audio_frame_ms);
  }
  g_ptr_array_unref(pkts);
}

static void test_quiet_microphone(void) {
  check_quiet("highland", true);
  check_quiet("hall", false);
}

/* The microphone for run_room: a quiet room (white noise of peak `noise`) with a 440 Hz tone
 * of peak `voice` from voice_from to voice_to seconds. */
typedef struct {
  double noise, voice, voice_from, voice_to;
} room;

static void fill_room(int16_t pcm[480], int i, const void *arg) {
  const room *r = arg;
  guint32 seed = 7u + (guint32)i * 2654435761u; /* each buffer's own noise, the same every run */
  bool voice = i >= r->voice_from * 100 && i < r->voice_to * 100;
  for (int k = 0; k < 480; k++) {
    seed = seed * 1103515245u + 12345u;
    double v = r->noise * ((double)(seed >> 16 & 0x7fff) / 16384.0 - 1.0);
    if (voice)
      v += r->voice * sin(2 * G_PI * 440 * (i * 480 + k) / 48000.0);
    pcm[k] = (int16_t)v;
  }
}

/* Pushes `seconds` of the room through the profile's encoder, its quiet-until-sound probe
 * attached when `gated`, and counts the packets whose timestamps fall in [from, to) seconds
 * (each of a 60 ms frame or its DTX gap). */
static guint run_room(const dc_profile *p, const room *r, bool gated, double seconds, double from, double to) {
  GPtrArray *pkts = encode_mic(p, gated, seconds, fill_room, r);
  guint32 first_ts = 0;
  guint in_window = 0;
  for (guint i = 0; i < pkts->len; i++) {
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    g_assert_true(gst_rtp_buffer_map(g_ptr_array_index(pkts, i), GST_MAP_READ, &rtp));
    guint32 ts = gst_rtp_buffer_get_timestamp(&rtp);
    if (i == 0)
      first_ts = ts;
    in_window += ts - first_ts >= (guint32)(from * 48000) && ts - first_ts < (guint32)(to * 48000);
    gst_rtp_buffer_unmap(&rtp);
  }
  g_ptr_array_unref(pkts);
  return in_window;
}

/* A highland point in a quiet room (noise at -60 dBFS) that has not spoken yet sends DTX, not
 * full frames (libopus 1.3.1 sends a quiet room's noise whole until it has heard a voice to
 * compare it with); its first word goes whole, and its quiet after is DTX as before. A quiet
 * voice (-35 dBFS) is never taken for the room. */
static void test_quiet_room_before_the_first_word(void) {
  const dc_profile *p = dc_profile_find("highland");
  g_assert_true(p->audio_dtx);
  guint frames = 2000 / (guint)p->audio_frame_ms; /* in 2 s */
  room r = {.noise = 33, .voice = 8000, .voice_from = 3, .voice_to = 4};
  guint before = run_room(p, &r, true, 7, 0.5, 2.5), ungated = run_room(p, &r, false, 7, 0.5, 2.5);
  guint word = run_room(p, &r, true, 7, 3.1, 3.9), after = run_room(p, &r, true, 7, 5, 7);
  room whisper = {.noise = 33, .voice = 600, .voice_from = 0, .voice_to = 7};
  guint quiet_voice = run_room(p, &whisper, true, 3, 0.5, 2.5);
  g_test_message("packets of 60 ms frames: the room before the first word %u in 2 s (without the probe %u), the word %u "
                 "in 0.8 s, the room after it %u in 2 s; a voice at -35 dBFS %u in 2 s",
                 before, ungated, word, after, quiet_voice);
  g_assert_cmpuint(before, <=, 2000 / 400 + 1);
  g_assert_cmpuint(word, >=, 800 / (guint)p->audio_frame_ms - 1);
  g_assert_cmpuint(after, <=, 2000 / 400 + 1);
  g_assert_cmpuint(quiet_voice, >=, frames - 1);
}

/* The width and height a VP8 key frame declares (RFC 6386 9.1), after the payload
 * descriptor (RFC 7741 4.2); false when the packet starts no key frame. */
static bool keyframe_size(GstBuffer *b, int *w, int *h) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(b, GST_MAP_READ, &rtp))
    return false;
  const guint8 *d = gst_rtp_buffer_get_payload(&rtp);
  guint len = gst_rtp_buffer_get_payload_len(&rtp);
  bool ok = false;
  guint off = 1;
  if (len > 1 && (d[0] & 0x80)) { /* X: extensions follow */
    guint8 x = d[1];
    off = 2;
    if (x & 0x80)
      off += (d[off] & 0x80) ? 2 : 1; /* picture id */
    if (x & 0x40)
      off += 1; /* TL0PICIDX */
    if (x & 0x30)
      off += 1; /* TID / KEYIDX */
  }
  bool start = d[0] & 0x10;
  if (start && len >= off + 10 && !(d[off] & 0x01) && d[off + 3] == 0x9d && d[off + 4] == 0x01 && d[off + 5] == 0x2a) {
    *w = (d[off + 6] | d[off + 7] << 8) & 0x3fff;
    *h = (d[off + 8] | d[off + 9] << 8) & 0x3fff;
    ok = true;
  }
  gst_rtp_buffer_unmap(&rtp);
  return ok;
}

static void check_video(const char *name) {
  const dc_profile *p = dc_profile_find(name);
  char *desc = dc_media_video_encoder_desc(p);
  GstHarness *h = gst_harness_new_parse(desc);
  g_free(desc);
  /* a camera bigger than the profile, at 30 fps: the chain scales and drops to the profile */
  gst_harness_set_src_caps_str(h, "video/x-raw,format=I420,width=640,height=480,framerate=30/1,pixel-aspect-ratio=1/1");
  int frames = 60, w = 0, hgt = 0, keyframes = 0;
  GHashTable *timestamps = g_hash_table_new(NULL, NULL);
  for (int i = 0; i < frames; i++) {
    gsize size = 640 * 480 * 3 / 2;
    GstBuffer *b = gst_buffer_new_allocate(NULL, size, NULL);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_WRITE);
    for (gsize k = 0; k < size; k++)
      map.data[k] = (guint8)((k * 7 + (gsize)i * 13) & 0xff);
    gst_buffer_unmap(b, &map);
    GST_BUFFER_PTS(b) = gst_util_uint64_scale(i, GST_SECOND, 30);
    GST_BUFFER_DURATION(b) = gst_util_uint64_scale(1, GST_SECOND, 30);
    g_assert_cmpint(gst_harness_push(h, b), ==, GST_FLOW_OK);
    GstBuffer *o;
    while ((o = gst_harness_try_pull(h))) {
      int kw, kh;
      if (keyframe_size(o, &kw, &kh))
        w = kw, hgt = kh, keyframes++;
      GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
      g_assert_true(gst_rtp_buffer_map(o, GST_MAP_READ, &rtp));
      g_assert_cmpint(gst_rtp_buffer_get_payload_type(&rtp), ==, 96);
      g_assert_cmpuint(gst_buffer_get_size(o), <=, 1200);
      g_hash_table_add(timestamps, GUINT_TO_POINTER(gst_rtp_buffer_get_timestamp(&rtp)));
      gst_rtp_buffer_unmap(&rtp);
      gst_buffer_unref(o);
    }
  }
  guint pictures = g_hash_table_size(timestamps);
  g_test_message("%s: %u pictures from 2 s of 30 fps camera, key frame %dx%d (%d key frames)", name, pictures, w, hgt,
                 keyframes);
  g_assert_cmpint(w, ==, p->video_width);
  g_assert_cmpint(hgt, ==, p->video_height);
  /* 2 s at the profile's rate, give or take the encoder's and videorate's edges */
  g_assert_cmpuint(pictures, <=, (guint)(2 * p->video_fps + 2));
  g_assert_cmpuint(pictures, >=, (guint)(2 * p->video_fps - 4));
  g_hash_table_unref(timestamps);
  gst_harness_teardown(h);
}

static void test_video_profiles(void) {
  check_video("highland");
  check_video("standard");
  check_video("hall");
}

/* The hall's offer: simulcast by SSRC, three layers named lowest first in the camera's
 * section, as the bridge reads webrtcbin's simulcast (media/sdp), and RED in the audio's.
 * Made locally: no network. */
typedef struct {
  GMainLoop *loop;
  char *sdp;
} offer_wait;

static void got_offer(const char *sdp, void *user) {
  offer_wait *w = user;
  if (!w->sdp)
    w->sdp = g_strdup(sdp);
  g_main_loop_quit(w->loop);
}
static void ignore_candidate(const char *c, void *user) { (void)c, (void)user; }
static void ignore_connected(bool up, void *user) { (void)up, (void)user; }
static void media_failed(const char *why, void *user) { g_error("media failed: %s (%p)", why, user); }
static void ignore_stats(const char *line, void *user) { (void)line, (void)user; }
static gboolean give_up(gpointer loop) {
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

static void test_hall_offer_simulcast(void) {
  offer_wait w = {g_main_loop_new(NULL, FALSE), NULL};
  dc_media_config cfg = {.profile = dc_profile_find("hall"), .slots = 2, .audio_source = "test:440",
                         .video_source = "test", .audio_sink = "fake", .video_sink = "fake"};
  dc_media_events ev = {got_offer, ignore_candidate, ignore_connected, media_failed, ignore_stats, NULL, NULL, &w};
  GError *err = NULL;
  dc_endpoint_media *m = dc_media_new(&cfg, &ev, &err);
  g_assert_no_error(err);
  g_assert_true(dc_media_start(m, &err));
  guint timer = g_timeout_add_seconds(20, give_up, w.loop);
  g_main_loop_run(w.loop);
  g_source_remove(timer);
  g_assert_nonnull(w.sdp);
  /* the camera's section is the second: its SIM group names three SSRCs, each declared */
  char **sections = g_strsplit(w.sdp, "m=", -1);
  g_assert_cmpuint(g_strv_length(sections), >=, 4); /* session, audio, camera, one thumbnail */
  const char *cam = sections[2];
  const char *sim = strstr(cam, "a=ssrc-group:SIM ");
  g_assert_nonnull(sim);
  unsigned ssrcs[4] = {0};
  int n = sscanf(sim, "a=ssrc-group:SIM %u %u %u %u", &ssrcs[0], &ssrcs[1], &ssrcs[2], &ssrcs[3]);
  g_test_message("camera section's SIM group: %d SSRCs", n);
  g_assert_cmpint(n, ==, 3);
  for (int i = 0; i < 3; i++) {
    char *decl = g_strdup_printf("a=ssrc:%u cname:", ssrcs[i]);
    g_assert_nonnull(strstr(cam, decl));
    g_free(decl);
  }
  g_assert_null(strstr(sections[1], "ssrc-group:SIM")); /* audio: one stream */
  /* audio redundancy (RFC 2198) offered, which the bridge sends on a lossy link */
  g_assert_nonnull(strstr(sections[1], " red/48000\r\n"));
  g_strfreev(sections);
  dc_media_free(m);
  g_free(w.sdp);
  g_main_loop_unref(w.loop);
}

/* The bridge's audio-rate (its uplink queues our sound): the encoder keeps to it, and to the
 * profile's own rate again on 0. */
static void test_audio_rate_as_asked(void) {
  dc_media_config cfg = {.profile = dc_profile_find("highland"), .audio_only = true, .audio_source = "test:440",
                         .audio_sink = "fake"};
  dc_media_events ev = {got_offer, ignore_candidate, ignore_connected, media_failed, ignore_stats, NULL, NULL, NULL};
  GError *err = NULL;
  dc_endpoint_media *m = dc_media_new(&cfg, &ev, &err);
  g_assert_no_error(err);
  unsigned profile_bps = (unsigned)cfg.profile->audio_bps;
  g_assert_cmpuint(dc_media_audio_rate(m), ==, profile_bps);
  dc_media_set_audio_rate(m, 10000);
  g_assert_cmpuint(dc_media_audio_rate(m), ==, 10000);
  dc_media_set_audio_rate(m, 0);
  g_assert_cmpuint(dc_media_audio_rate(m), ==, profile_bps);
  dc_media_free(m);
}

/* Our audio's copies follow what the bridge reports losing of it: none on a clean link, one
 * from 1 % loss, kept 10 s after the last lossy report (reports come about once a second, and
 * a burst's loss shows in one of them), then off. */
static void test_uplink_red_follows_loss(void) {
  gint64 last = 0, t = 1000 * G_USEC_PER_SEC;
  g_assert_cmpuint(dc_media_uplink_red_distance(0, t, &last), ==, 0);
  g_assert_cmpuint(dc_media_uplink_red_distance(9, t += G_USEC_PER_SEC, &last), ==, 0); /* 0.9 %: noise */
  g_assert_cmpuint(dc_media_uplink_red_distance(50, t += G_USEC_PER_SEC, &last), ==, 1);
  gint64 lossy_at = t;
  for (int i = 0; i < 10; i++) /* clean reports within the hold: still on */
    g_assert_cmpuint(dc_media_uplink_red_distance(0, t += G_USEC_PER_SEC, &last), ==, 1);
  g_assert_cmpint(t - lossy_at, ==, DC_MEDIA_RED_HOLD_US);
  g_assert_cmpuint(dc_media_uplink_red_distance(0, t += 1, &last), ==, 0);
  /* loss again starts it again, and each lossy report holds it anew */
  g_assert_cmpuint(dc_media_uplink_red_distance(10, t += G_USEC_PER_SEC, &last), ==, 1);
  g_assert_cmpuint(dc_media_uplink_red_distance(30, t += 8 * G_USEC_PER_SEC, &last), ==, 1);
  g_assert_cmpuint(dc_media_uplink_red_distance(0, t += 9 * G_USEC_PER_SEC, &last), ==, 1);
  g_assert_cmpuint(dc_media_uplink_red_distance(0, t += 2 * G_USEC_PER_SEC, &last), ==, 0);
}

/* The camera's parity: only a profile with some (highland), on from 1 % loss and held as the
 * audio's copies are; while on, the encoder gives up the same share so that the camera and its
 * parity keep to the profile's rate. */
static void test_uplink_video_fec_follows_loss(void) {
  const dc_profile *hl = dc_profile_find("highland"), *hall = dc_profile_find("hall");
  gint64 last = 0, t = 1000 * G_USEC_PER_SEC;
  g_assert_cmpint(hl->video_fec_percent, >, 0);
  g_assert_cmpuint(dc_media_uplink_video_fec_percent(hl, 0, t, &last), ==, 0);
  g_assert_cmpuint(dc_media_uplink_video_fec_percent(hl, 9, t += G_USEC_PER_SEC, &last), ==, 0);
  g_assert_cmpuint(dc_media_uplink_video_fec_percent(hl, 80, t += G_USEC_PER_SEC, &last), ==, (unsigned)hl->video_fec_percent);
  g_assert_cmpuint(dc_media_uplink_video_fec_percent(hl, 0, t += DC_MEDIA_RED_HOLD_US, &last), ==, (unsigned)hl->video_fec_percent);
  g_assert_cmpuint(dc_media_uplink_video_fec_percent(hl, 0, t += 1, &last), ==, 0);
  gint64 hall_last = 0;
  g_assert_cmpuint(dc_media_uplink_video_fec_percent(hall, 500, t, &hall_last), ==, 0); /* none offered */
  g_assert_cmpint(dc_media_video_target_bps(hl, 0), ==, hl->video_bps);
  int lowered = dc_media_video_target_bps(hl, (unsigned)hl->video_fec_percent);
  g_assert_cmpint(lowered * (100 + hl->video_fec_percent) / 100, <=, hl->video_bps);
  g_assert_cmpint(lowered * (100 + hl->video_fec_percent) / 100, >, hl->video_bps - 100);
}

/* The playback chain's output stays 48 kHz mono however late its live base's caps come. The
 * audiomixer, live and timed out before any input had caps, fixed its output at GStreamer's
 * defaults (44.1 kHz stereo): a recording then read as 1.84 times the wall clock and its
 * tones at the wrong pitch (seen once in browser-endpoint, the busy machine starting three
 * pipelines). Here the base's caps are held back 400 ms, past the mixer's first timeout. */
static GstPadProbeReturn hold_caps(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)pad;
  (void)data;
  if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_CAPS)
    g_usleep(400 * 1000);
  return GST_PAD_PROBE_OK;
}

/* The playback of the mix into a fake sink (sink_desc: its tail; the pipeline goes on after
 * it when it has more), playing once the sink has caps (the mix is running): the sink's pad,
 * and the pipeline in *pipe, its latency per sink (the mix's in *playback_ns, if given). */
static GstPad *start_playback(const char *sink_desc, bool late_caps, gint64 *playback_ns, GstElement **pipe) {
  char *desc = dc_media_playback_desc(sink_desc, false);
  GError *err = NULL;
  *pipe = gst_parse_launch(desc, &err);
  g_assert_no_error(err);
  g_free(desc);
  dc_media_latency_per_sink(*pipe, playback_ns);
  if (late_caps) {
    GstElement *base = gst_bin_get_by_name(GST_BIN(*pipe), "playbase");
    GstPad *src = gst_element_get_static_pad(base, "src");
    gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, hold_caps, NULL, NULL);
    gst_object_unref(src);
    gst_object_unref(base);
  }
  gst_element_set_state(*pipe, GST_STATE_PLAYING);
  GstElement *out = gst_bin_get_by_name(GST_BIN(*pipe), "out");
  GstPad *in = gst_element_get_static_pad(out, "sink");
  gst_object_unref(out);
  GstCaps *caps = NULL;
  for (int i = 0; i < 100 && !caps; i++) { /* at most 10 s */
    g_usleep(100 * 1000);
    caps = gst_pad_get_current_caps(in);
  }
  g_assert_nonnull(caps);
  gst_caps_unref(caps);
  return in;
}

static void check_playback_caps(bool late_caps) {
  GstElement *pipe;
  GstPad *in = start_playback("fakesink name=out sync=false", late_caps, NULL, &pipe);
  g_usleep(200 * 1000); /* and still so once the base's caps are in */
  GstCaps *caps = gst_pad_get_current_caps(in);
  int rate = 0, channels = 0;
  GstStructure *st = gst_caps_get_structure(caps, 0);
  gst_structure_get_int(st, "rate", &rate);
  gst_structure_get_int(st, "channels", &channels);
  g_test_message("base's caps %s: playback out %d Hz, %d channels", late_caps ? "late" : "on time", rate, channels);
  g_assert_cmpint(rate, ==, 48000);
  g_assert_cmpint(channels, ==, 1);
  gst_caps_unref(caps);
  gst_object_unref(in);
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
}

static void test_playback_format_fixed(void) {
  check_playback_caps(false);
  check_playback_caps(true);
}

static gint64 sink_latency_ms(GstElement *pipe, const char *name) {
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipe), name);
  gint64 ms = (gint64)(gst_base_sink_get_latency(GST_BASE_SINK(sink)) / GST_MSECOND);
  gst_object_unref(sink);
  return ms;
}

/* Hands the pipeline's latency messages to the media's handler until one is handled with
 * the sink `name` at `at_least` ms or more, or 10 s have passed; the sink's latency. */
static gint64 follow_latency(GstElement *pipe, const char *name, gint64 at_least) {
  GstBus *bus = gst_element_get_bus(pipe);
  gint64 until = g_get_monotonic_time() + 10 * G_USEC_PER_SEC, ms = sink_latency_ms(pipe, name);
  while (ms < at_least && g_get_monotonic_time() < until) {
    GstMessage *msg = gst_bus_timed_pop_filtered(bus, 100 * GST_MSECOND, GST_MESSAGE_LATENCY);
    if (msg) {
      g_assert_true(dc_media_latency_changed(pipe, msg));
      gst_message_unref(msg);
    }
    ms = sink_latency_ms(pipe, name);
  }
  gst_object_unref(bus);
  return ms;
}

/* The loudspeaker plays the mix as late as the mix's own inputs need, found again when the
 * bridge's stream joins (its jitter buffer's wait: here a live source 300 ms late), and not
 * as late as another sink of the pipeline (the video's: here 1 s). Before, the playback's
 * latency was found once as the pipeline started, without the jitter buffer's wait: the
 * mixer then dropped what the jitter buffer held for a missing packet as too late, and the
 * sink played 0 or 311 ms after the mix's time depending on whether that first query came
 * through (an endpoint's stats, 2026-12-05); with the mixer's own wait set to the jitter
 * buffer's instead, a query that did come through counted the wait twice (670 ms). */
static void test_playback_latency_follows_the_mix(void) {
  GstElement *pipe;
  gint64 playback_ns = -1;
  GstPad *in = start_playback("fakesink name=out sync=true async=false "
                              "audiotestsrc is-live=true samplesperbuffer=48000 wave=silence ! audio/x-raw,rate=48000,channels=1 ! "
                              "fakesink name=video sync=true async=false",
                              false, &playback_ns, &pipe);
  gst_object_unref(in);
  gint64 before = follow_latency(pipe, "out", 0), video = follow_latency(pipe, "video", 1000);
  GstElement *stream = gst_parse_bin_from_description(
      "audiotestsrc is-live=true samplesperbuffer=14400 wave=silence ! audio/x-raw,rate=48000,channels=1", TRUE, NULL);
  g_assert_nonnull(stream);
  gst_bin_add(GST_BIN(pipe), stream);
  GstElement *mix = gst_bin_get_by_name(GST_BIN(pipe), "playmix");
  GstPad *join = gst_element_request_pad_simple(mix, "sink_%u"), *out = gst_element_get_static_pad(stream, "src");
  g_assert_cmpint(gst_pad_link(out, join), ==, GST_PAD_LINK_OK);
  dc_media_latency_once_flowing(out); /* as the media does */
  gst_element_sync_state_with_parent(stream);
  gint64 after = follow_latency(pipe, "out", 300 + DC_PLAYBACK_MARGIN_MS);
  gint64 mix_ms = __atomic_load_n(&playback_ns, __ATOMIC_RELAXED) / (gint64)GST_MSECOND;
  g_test_message("the mix's sink plays %" G_GINT64_FORMAT " ms late before the stream joins, %" G_GINT64_FORMAT
                 " ms after (the mix found %" G_GINT64_FORMAT " ms); the other sink %" G_GINT64_FORMAT " ms",
                 before, after, mix_ms, video);
  g_assert_cmpint(before, <, 300);
  g_assert_cmpint(video, >=, 1000);
  g_assert_cmpint(after, >=, 300 + DC_PLAYBACK_MARGIN_MS);
  g_assert_cmpint(after, <, 300 + 200); /* counted once, and not the other sink's */
  g_assert_cmpint(mix_ms, >=, 300 + DC_PLAYBACK_MARGIN_MS);
  g_assert_cmpint(mix_ms, <=, after);
  gst_object_unref(join);
  gst_object_unref(out);
  gst_object_unref(mix);
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
}

/* ---- a loudspeaker that plays in real time and keeps what it played ---- */
typedef struct {
  GstAudioSink parent;
  gint64 start_us;  /* when its first sample played */
  GArray *heard;    /* every sample it played, one each 1/48000 s from start_us */
  gint played;      /* heard->len, for the test's thread: a starved writer falls behind the clock */
} TestSpeaker;
typedef struct {
  GstAudioSinkClass parent_class;
} TestSpeakerClass;
GType test_speaker_get_type(void);
G_DEFINE_TYPE(TestSpeaker, test_speaker, GST_TYPE_AUDIO_SINK)

static GstStaticPadTemplate speaker_pad =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS("audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=1"));
static gboolean speaker_ok(GstAudioSink *s) { return (void)s, TRUE; }
static gboolean speaker_prepare(GstAudioSink *s, GstAudioRingBufferSpec *spec) { return (void)s, (void)spec, TRUE; }
static guint speaker_delay(GstAudioSink *s) { return (void)s, 0; }
static void speaker_reset(GstAudioSink *s) { (void)s; }
/* A device takes its samples at their rate: this one returns when they would have played. */
static gint speaker_write(GstAudioSink *s, gpointer data, guint length) {
  TestSpeaker *t = (TestSpeaker *)s;
  if (!t->start_us)
    t->start_us = g_get_monotonic_time();
  g_array_append_vals(t->heard, data, length / sizeof(gint16));
  g_atomic_int_set(&t->played, (gint)t->heard->len);
  gint64 due = t->start_us + (gint64)t->heard->len * G_USEC_PER_SEC / 48000, now = g_get_monotonic_time();
  if (due > now)
    g_usleep((gulong)(due - now));
  return (gint)length;
}
static void speaker_finalize(GObject *o) {
  g_array_free(((TestSpeaker *)o)->heard, TRUE);
  G_OBJECT_CLASS(test_speaker_parent_class)->finalize(o);
}
static void test_speaker_init(TestSpeaker *t) { t->heard = g_array_new(FALSE, FALSE, sizeof(gint16)); }
static void test_speaker_class_init(TestSpeakerClass *k) {
  GstElementClass *e = GST_ELEMENT_CLASS(k);
  GstAudioSinkClass *a = GST_AUDIO_SINK_CLASS(k);
  gst_element_class_add_static_pad_template(e, &speaker_pad);
  gst_element_class_set_static_metadata(e, "Test loudspeaker", "Sink/Audio", "plays in real time, keeps what it played",
                                        "diemcau");
  a->open = a->close = a->unprepare = speaker_ok;
  a->prepare = speaker_prepare;
  a->write = speaker_write;
  a->delay = speaker_delay;
  a->reset = speaker_reset;
  G_OBJECT_CLASS(k)->finalize = speaker_finalize;
}

/* The latency a stream declares (as the jitter buffer does its wait), ns. */
static GstPadProbeReturn declare_latency(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)pad;
  GstQuery *q = GST_PAD_PROBE_INFO_QUERY(info);
  if (GST_QUERY_TYPE(q) == GST_QUERY_LATENCY) {
    GstClockTime min = (GstClockTime)g_atomic_pointer_get((gpointer *)data);
    gst_query_set_latency(q, TRUE, min, GST_CLOCK_TIME_NONE);
  }
  return GST_PAD_PROBE_OK;
}

/* Hands the latency messages on until the sink "out" plays between least and most ms late
 * (10 s at most); its latency then. */
static gint64 latency_between(GstElement *pipe, gint64 least, gint64 most) {
  GstBus *bus = gst_element_get_bus(pipe);
  gint64 until = g_get_monotonic_time() + 10 * G_USEC_PER_SEC, ms = sink_latency_ms(pipe, "out");
  while ((ms < least || ms > most) && g_get_monotonic_time() < until) {
    GstMessage *msg = gst_bus_timed_pop_filtered(bus, 20 * GST_MSECOND, GST_MESSAGE_LATENCY);
    if (msg) {
      dc_media_latency_changed(pipe, msg);
      gst_message_unref(msg);
    }
    ms = sink_latency_ms(pipe, "out");
  }
  gst_object_unref(bus);
  return ms;
}

/* A live sawtooth of freq periods a second (where each played sample came from is its value)
 * joined to the playback's mixer (*mix), returned, declaring *declared ns of latency as a jitter buffer does;
 * probe, if given, sees each of its buffers first. Timestamped by the clock as captured: with
 * its own timestamps, under load, the mixer dropped every buffer of it as late. */
static GstElement *join_sawtooth(GstElement *pipe, double freq, gpointer *declared, GstPadProbeCallback probe,
                                 gpointer probe_data, GstElement **mix, GstPad **join, GstPad **out) {
  char *desc = g_strdup_printf("audiotestsrc is-live=true do-timestamp=true wave=saw freq=%g volume=0.5 "
                               "samplesperbuffer=480 ! audio/x-raw,format=S16LE,rate=48000,channels=1",
                               freq);
  GstElement *stream = gst_parse_bin_from_description(desc, TRUE, NULL);
  g_free(desc);
  g_assert_nonnull(stream);
  gst_bin_add(GST_BIN(pipe), stream);
  *mix = gst_bin_get_by_name(GST_BIN(pipe), "playmix");
  *join = gst_element_request_pad_simple(*mix, "sink_%u");
  *out = gst_element_get_static_pad(stream, "src");
  gst_pad_add_probe(*out, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM | GST_PAD_PROBE_TYPE_PULL, declare_latency, declared, NULL);
  if (probe)
    gst_pad_add_probe(*out, GST_PAD_PROBE_TYPE_BUFFER, probe, probe_data, NULL);
  g_assert_cmpint(gst_pad_link(*out, *join), ==, GST_PAD_LINK_OK);
  dc_media_latency_once_flowing(*out);
  gst_element_sync_state_with_parent(stream);
  return stream;
}

/* The mix's wait shortened from 290 to 170 ms (as the highland endpoint's, once its mix's
 * losses are seen alone): the loudspeaker skips 120 ms of what was waiting to be played, and
 * at once, where the wait was changed (in a pause of the sound, endpoint/media.c). Before, an
 * audio sink took the new times for drift and wrote on where it was for a second
 * (discont-wait) before it jumped, wherever the sound then was. The stream is a sawtooth of
 * one period a second, so where each played sample came from is its value. */
static void test_shorter_wait_skips_at_once(void) {
  gst_element_register(NULL, "dctestspeaker", GST_RANK_NONE, test_speaker_get_type());
  GstElement *pipe;
  GstPad *in = start_playback("dctestspeaker name=out", false, NULL, &pipe);
  gst_object_unref(in);
  static gpointer declared;
  g_atomic_pointer_set(&declared, GSIZE_TO_POINTER(290 * GST_MSECOND));
  GstElement *mix;
  GstPad *join, *out;
  GstElement *stream = join_sawtooth(pipe, 1, &declared, NULL, NULL, &mix, &join, &out);
  gint64 longer = latency_between(pipe, 290 + DC_PLAYBACK_MARGIN_MS, 2000); /* and the sink's own */
  g_usleep(2 * G_USEC_PER_SEC); /* past the join's own jump */
  g_atomic_pointer_set(&declared, GSIZE_TO_POINTER(170 * GST_MSECOND));
  gst_element_post_message(stream, gst_message_new_latency(GST_OBJECT(stream)));
  GstElement *speaker = gst_bin_get_by_name(GST_BIN(pipe), "out");
  TestSpeaker *t = (TestSpeaker *)speaker;
  gint played_at_change = g_atomic_int_get(&t->played);
  gint64 shorter = latency_between(pipe, 170 + DC_PLAYBACK_MARGIN_MS, longer - 100);
  g_usleep(3 * G_USEC_PER_SEC);
  /* the sanitizer build on a busy machine starves the speaker's thread, which then plays
   * behind the clock (once: nothing after the change within the run): 3 s more of samples
   * played after the change, however long that takes (10 s at most) */
  for (int i = 0; i < 100 && g_atomic_int_get(&t->played) < played_at_change + 3 * 48000; i++)
    g_usleep(100 * 1000);
  gint64 behind_ms = (g_get_monotonic_time() - t->start_us) / 1000 - g_atomic_int_get(&t->played) / 48;
  gst_element_set_state(pipe, GST_STATE_NULL);

  /* Where each played sample came from in the source, against when it played: the skip is
   * how far ahead of the time played the sound is 1 s after the change (net of every jump
   * since the change, so one skip of 120 ms, give or take two 20 ms frames: a starved sink
   * drops what came late beside it, 140 ms in three runs of eight with four busy loops
   * beside), and when it had gone half of that. A starved sink also plays silence when its
   * buffer runs dry (runs of exact zeros, 1 ms and more; the sawtooth passes 0 in a sample
   * or two), which counts as time going by: what came late meanwhile is dropped, so an
   * underrun nets nothing; and it may play a few ms from elsewhere and come back, which nets
   * nothing either (each step is read as at most half a period, 500 ms, either way). Before,
   * the first jump of 100-140 ms was taken for the skip: an underrun's two jumps of any size
   * could pass for it, and one beside the skip hid it. Every jump of 10 ms or more from a
   * second before the change is printed. */
  const gint16 *x = (const gint16 *)t->heard->data;
  guint len = t->heard->len, from = (guint)CLAMP((gint64)played_at_change - 48000, 0, (gint64)len);
  GString *jumps = g_string_new("");
  double ahead = 0, skip_after_ms = -1, silence_ms = 0; /* samples ahead, since the change */
  for (guint i = from + 1, prev = from; i < len; prev = i++) {
    guint gap = 0;
    while (i + gap < len && x[i + gap] == 0)
      gap++;
    if (gap < 48)
      gap = 0;
    else if ((i += gap) >= len)
      break;
    silence_ms += gap / 48.0;
    /* samples beyond the next, less the silence between, read within half a period */
    double moved = (fmod((x[i] - x[prev]) / 32768.0 + 2.5, 1.0) - 0.5) * 48000 - 1 - gap;
    double at_ms = ((double)i - played_at_change) / 48.0; /* of sound and silence played since the change */
    if (fabs(moved) > 480)
      g_string_append_printf(jumps, " %.0f ms %s, %.0f ms after the change%s;", fabs(moved) / 48,
                             moved > 0 ? "ahead" : "behind", at_ms, gap ? " (after silence)" : "");
    if (at_ms >= 0 && at_ms <= 1000) { /* the sink hears of the change after played_at_change was read */
      ahead += moved;
      if (skip_after_ms < 0 && ahead >= 60 * 48)
        skip_after_ms = at_ms;
    }
  }
  double skip_ms = ahead / 48;
  guint sound = 0; /* samples of the stream (not exact zeros) */
  for (guint i = 0; i < len; i++)
    sound += x[i] != 0;
  g_test_message("the sink played %" G_GINT64_FORMAT " ms late, then %" G_GINT64_FORMAT " ms; %u samples played, %u "
                 "of them the stream's, %d by the change, the speaker %" G_GINT64_FORMAT " ms behind the clock at the "
                 "end, %.0f ms of silence from its buffer running dry; %.0f ms ahead 1 s after the change, half of it "
                 "%.0f ms after; jumps:%s",
                 longer, shorter, len, sound, played_at_change, behind_ms, silence_ms, skip_ms, skip_after_ms,
                 jumps->len ? jumps->str : " none");
  g_assert_cmpint(longer - shorter, ==, 120);
  g_assert_cmpfloat(fabs(skip_ms - 120), <=, 40); /* one skip, not none yet nor one and another */
  g_assert_cmpfloat(skip_after_ms, >=, 0);
  g_assert_cmpfloat(skip_after_ms, <, 600); /* before: a second and more */
  g_string_free(jumps, TRUE);
  gst_object_unref(speaker);
  gst_object_unref(join);
  gst_object_unref(out);
  gst_object_unref(mix);
  gst_object_unref(pipe);
}

/* The mix after a pause: the bridge sends nothing while the mix is quiet but a DTX frame each
 * 400 ms (media/mixer.h, dc_dtx_gate), so the stream's buffers jump over each pause. The
 * playback's mixer must play the pause as silence and the sound after it at its time, not
 * take the jump for drift and write on where the stream was (as an audio sink does for a
 * second, its discont-wait: the sound after the pause would come too early for its place and
 * be dropped). GStreamer 1.22's audiomixer, live, follows at once: checked here, as the
 * bridge counts on it (flagging the buffer after a jump DISCONT, tried, changed nothing). A
 * sawtooth of one period in 5 s loses 400 ms of its buffers 1.5 s in; where each played
 * sample came from is its value. */
#define PAUSE_AT_NS (1500 * GST_MSECOND)
#define PAUSE_NS (400 * GST_MSECOND)
typedef struct {
  GstClockTime first;
} pause_maker;
static GstPadProbeReturn make_pause(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)pad;
  pause_maker *p = data;
  GstClockTime pts = GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info));
  if (!GST_CLOCK_TIME_IS_VALID(p->first))
    p->first = pts;
  GstClockTime t = pts - p->first;
  return t >= PAUSE_AT_NS && t < PAUSE_AT_NS + PAUSE_NS ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

static void test_sound_after_a_pause_at_its_time(void) {
  gst_element_register(NULL, "dctestspeaker", GST_RANK_NONE, test_speaker_get_type());
  GstElement *pipe;
  GstPad *in = start_playback("dctestspeaker name=out", false, NULL, &pipe);
  gst_object_unref(in);
  static gpointer declared; /* as the mix's jitter buffer declares its wait */
  g_atomic_pointer_set(&declared, GSIZE_TO_POINTER(100 * GST_MSECOND));
  pause_maker pause = {GST_CLOCK_TIME_NONE};
  GstElement *mix;
  GstPad *join, *out;
  join_sawtooth(pipe, 0.2, &declared, make_pause, &pause, &mix, &join, &out);
  GstElement *speaker = gst_bin_get_by_name(GST_BIN(pipe), "out");
  TestSpeaker *t = (TestSpeaker *)speaker;
  /* 4 s of the stream played, however long a starved speaker takes (15 s at most) */
  for (int i = 0; i < 150 && g_atomic_int_get(&t->played) < 5 * 48000; i++)
    g_usleep(100 * 1000);
  gst_element_set_state(pipe, GST_STATE_NULL);

  /* Every run of silence (exact zeros for 1 ms or more: the sawtooth passes 0 in a sample or
   * two) after the sound began: how long it played, and how far the sound moved across it. A
   * starved speaker's own underruns are short and net nothing (what came late is dropped). */
  const gint16 *x = (const gint16 *)t->heard->data;
  guint len = t->heard->len, i = 0;
  while (i < len && x[i] == 0)
    i++;
  GString *runs = g_string_new("");
  double pause_ms = -1, pause_moved_ms = -1;
  for (guint prev = i; i < len; prev = i++) {
    guint gap = 0;
    while (i + gap < len && x[i + gap] == 0)
      gap++;
    if (gap < 48 || i + gap >= len)
      continue;
    i += gap;
    double moved_ms = (fmod((x[i] - x[prev]) / 32768.0 + 2.5, 1.0) - 0.5) * 5000; /* within half a period */
    g_string_append_printf(runs, " %.0f ms silent, the sound %.0f ms on;", gap / 48.0, moved_ms);
    if (moved_ms > pause_moved_ms)
      pause_ms = gap / 48.0, pause_moved_ms = moved_ms;
  }
  g_test_message("%u samples played; silences:%s the pause's %.0f ms, the sound %.0f ms on across it", len,
                 runs->len ? runs->str : " none", pause_ms, pause_moved_ms);
  g_assert_cmpfloat(pause_moved_ms, >=, 400 - 20);
  g_assert_cmpfloat(pause_moved_ms, <, 400 + 200); /* a second dropped after it: 1400 */
  g_assert_cmpfloat(fabs(pause_ms - pause_moved_ms), <, 40); /* nothing dropped beside it */
  g_string_free(runs, TRUE);
  gst_object_unref(speaker);
  gst_object_unref(join);
  gst_object_unref(out);
  gst_object_unref(mix);
  gst_object_unref(pipe);
}

/* opusdec decoding in-band FEC holds one packet and declares 120 ms; the endpoint makes it
 * declare the frame it holds (20 ms here), so the playback waits 100 ms less. */
static gint64 decoder_latency_ms(bool declared_hold, gint64 *upstream_ms) {
  GstElement *pipe = gst_parse_launch("audiotestsrc is-live=true samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=1 ! "
                                      "opusenc frame-size=20 ! opusdec name=dec use-inband-fec=true ! fakesink sync=true async=false",
                                      NULL);
  g_assert_nonnull(pipe);
  GstElement *dec = gst_bin_get_by_name(GST_BIN(pipe), "dec");
  if (declared_hold)
    dc_media_declare_decoder_hold(dec, 20);
  gst_element_set_state(pipe, GST_STATE_PLAYING);
  GstPad *out = gst_element_get_static_pad(dec, "src"), *in = gst_element_get_static_pad(dec, "sink");
  GstCaps *caps = NULL;
  for (int i = 0; i < 100 && !caps; i++) { /* decoding: at most 10 s */
    g_usleep(100 * 1000);
    caps = gst_pad_get_current_caps(out);
  }
  g_assert_nonnull(caps);
  gst_caps_unref(caps);
  gint64 ms[2] = {-1, -1};
  GstPad *at[2] = {out, in};
  for (int i = 0; i < 2; i++) {
    GstQuery *q = gst_query_new_latency();
    gboolean live = FALSE;
    GstClockTime min = GST_CLOCK_TIME_NONE;
    if (i ? gst_pad_peer_query(at[i], q) : gst_pad_query(at[i], q))
      gst_query_parse_latency(q, &live, &min, NULL);
    gst_query_unref(q);
    if (live && GST_CLOCK_TIME_IS_VALID(min))
      ms[i] = (gint64)(min / GST_MSECOND);
  }
  gst_object_unref(out);
  gst_object_unref(in);
  gst_object_unref(dec);
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
  *upstream_ms = ms[1];
  return ms[0];
}

static void test_decoder_declares_its_hold(void) {
  gint64 up_own, up_declared;
  gint64 own = decoder_latency_ms(false, &up_own), declared = decoder_latency_ms(true, &up_declared);
  g_test_message("opusdec with FEC: %" G_GINT64_FORMAT " ms on its own, %" G_GINT64_FORMAT
                 " ms declared a frame's hold; its input %" G_GINT64_FORMAT " ms",
                 own, declared, up_declared);
  g_assert_cmpint(up_declared, >=, 0);
  g_assert_cmpint(own, >=, up_own + 120);
  g_assert_cmpint(declared, ==, up_declared + 20);
}

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/endpoint-media/audio-profiles", test_audio_profiles);
  g_test_add_func("/endpoint-media/quiet-microphone", test_quiet_microphone);
  g_test_add_func("/endpoint-media/quiet-room-before-the-first-word", test_quiet_room_before_the_first_word);
  g_test_add_func("/endpoint-media/video-profiles", test_video_profiles);
  g_test_add_func("/endpoint-media/hall-offer-simulcast", test_hall_offer_simulcast);
  g_test_add_func("/endpoint-media/uplink-red-follows-loss", test_uplink_red_follows_loss);
  g_test_add_func("/endpoint-media/uplink-video-fec-follows-loss", test_uplink_video_fec_follows_loss);
  g_test_add_func("/endpoint-media/audio-rate-as-asked", test_audio_rate_as_asked);
  g_test_add_func("/endpoint-media/playback-format-fixed", test_playback_format_fixed);
  g_test_add_func("/endpoint-media/playback-latency-follows-the-mix", test_playback_latency_follows_the_mix);
  g_test_add_func("/endpoint-media/decoder-declares-its-hold", test_decoder_declares_its_hold);
  g_test_add_func("/endpoint-media/shorter-wait-skips-at-once", test_shorter_wait_skips_at_once);
  g_test_add_func("/endpoint-media/sound-after-a-pause-at-its-time", test_sound_after_a_pause_at_its_time);
  return g_test_run();
}
