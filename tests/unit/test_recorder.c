/* test_recorder.c — bridge/recorder: the mix's Opus frames and forwarded VP8 RTP become an
 * Ogg Opus and a WebM file on one time line, read back by GStreamer's own demuxers and
 * decoders; a full disk ends the recording with its reason; a path that cannot be written
 * refuses to start. The VP8 packets are real: vp8enc and rtpvp8pay make them. */
#include "bridge/recorder.h"

#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <opus.h>
#include <math.h>
#include <string.h>

typedef struct {
  bool done;
  char *error;
} outcome;

static void on_done(gpointer user, const char *error) {
  outcome *o = user;
  o->done = true;
  o->error = g_strdup(error);
}

static void run_until_done(outcome *o, unsigned ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (!o->done && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, FALSE), g_usleep(2000);
}

typedef struct {
  GBytes *bytes;
  uint32_t rtp_ts;
} packet;

static void free_packet(gpointer p) {
  g_bytes_unref(((packet *)p)->bytes);
  g_free(p);
}

/* `frames` frames of a moving test picture at 15 fps, as VP8 RTP packets. */
static GPtrArray *vp8_packets(int frames) {
  char *desc = g_strdup_printf(
      "videotestsrc num-buffers=%d pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! "
      "vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=%d mtu=1100 ! appsink name=sink sync=false",
      frames, DC_RECORDER_VP8_PT);
  GError *err = NULL;
  GstElement *p = gst_parse_launch(desc, &err);
  g_free(desc);
  g_assert_no_error(err);
  GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
  gst_element_set_state(p, GST_STATE_PLAYING);
  GPtrArray *out = g_ptr_array_new_with_free_func(free_packet);
  GstSample *s;
  while ((s = gst_app_sink_pull_sample(GST_APP_SINK(sink)))) {
    GstMapInfo map;
    GstBuffer *b = gst_sample_get_buffer(s);
    gst_buffer_map(b, &map, GST_MAP_READ);
    packet *pk = g_new(packet, 1);
    pk->bytes = g_bytes_new(map.data, map.size);
    pk->rtp_ts = (uint32_t)map.data[4] << 24 | (uint32_t)map.data[5] << 16 | (uint32_t)map.data[6] << 8 | map.data[7];
    gst_buffer_unmap(b, &map);
    gst_sample_unref(s);
    g_ptr_array_add(out, pk);
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(sink);
  gst_object_unref(p);
  return out;
}

/* What a file decodes to: buffers, first time stamp, the end of the last (ns), and for
 * video the picture's size. */
typedef struct {
  unsigned buffers;
  GstClockTime first, end;
  int width, height;
} decoded;

static decoded decode(const char *path, const char *chain) {
  char *desc = g_strdup_printf("filesrc location=\"%s\" ! %s ! appsink name=sink sync=false", path, chain);
  GError *err = NULL;
  GstElement *p = gst_parse_launch(desc, &err);
  g_free(desc);
  g_assert_no_error(err);
  GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
  gst_element_set_state(p, GST_STATE_PLAYING);
  decoded d = {0, GST_CLOCK_TIME_NONE, 0, 0, 0};
  GstSample *s;
  while ((s = gst_app_sink_pull_sample(GST_APP_SINK(sink)))) {
    GstBuffer *b = gst_sample_get_buffer(s);
    if (!d.buffers++) {
      d.first = GST_BUFFER_PTS(b);
      GstStructure *st = gst_caps_get_structure(gst_sample_get_caps(s), 0);
      gst_structure_get_int(st, "width", &d.width);
      gst_structure_get_int(st, "height", &d.height);
    }
    if (GST_BUFFER_PTS_IS_VALID(b))
      d.end = GST_BUFFER_PTS(b) + (GST_BUFFER_DURATION_IS_VALID(b) ? GST_BUFFER_DURATION(b) : 0);
    gst_sample_unref(s);
  }
  GstBus *bus = gst_element_get_bus(p);
  GstMessage *msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  if (msg) {
    GError *e = NULL;
    gst_message_parse_error(msg, &e, NULL);
    g_test_message("decoding %s: %s", path, e->message);
    g_error_free(e);
    gst_message_unref(msg);
    d.buffers = 0;
  }
  gst_object_unref(bus);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(sink);
  gst_object_unref(p);
  return d;
}

/* A test's scratch directory, its files (vpath may be NULL) and its packets, gone. */
static void scratch_free(char *dir, char *apath, char *vpath, GPtrArray *audio, GPtrArray *video) {
  g_unlink(apath);
  if (vpath)
    g_unlink(vpath);
  g_rmdir(dir);
  g_ptr_array_unref(audio);
  g_ptr_array_unref(video);
  g_free(apath);
  g_free(vpath);
  g_free(dir);
}

/* 20 ms Opus frames of a 440 Hz tone, as the mixer's hall tier makes them. */
static GPtrArray *opus_frames(int n) {
  int err;
  OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
  g_assert_cmpint(err, ==, OPUS_OK);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  int16_t pcm[960];
  uint8_t buf[1500];
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < 960; k++)
      pcm[k] = (int16_t)(8000 * sin(2 * G_PI * 440 * (i * 960 + k) / 48000.0));
    int len = opus_encode(enc, pcm, 960, buf, sizeof buf);
    g_assert_cmpint(len, >, 0);
    g_ptr_array_add(out, g_bytes_new(buf, (size_t)len));
  }
  opus_encoder_destroy(enc);
  return out;
}

/* Pushes `seconds` of audio from the start and the video from video_at_s on, each at its own
 * time on the recording's clock, interleaved as the bridge's threads would. */
static void push_meeting(dc_recorder *r, uint64_t start_us, double seconds, double video_at_s,
                         GPtrArray *audio, GPtrArray *video) {
  unsigned a = 0, v = 0;
  uint32_t ts0 = video->len ? ((packet *)g_ptr_array_index(video, 0))->rtp_ts : 0;
  for (;;) {
    uint64_t at_a = start_us + (uint64_t)a * 20000;
    bool more_a = a < audio->len && a * 0.02 < seconds;
    uint64_t at_v = 0;
    bool more_v = v < video->len;
    if (more_v) {
      packet *pk = g_ptr_array_index(video, v);
      at_v = start_us + (uint64_t)(video_at_s * 1e6) + (uint64_t)(pk->rtp_ts - ts0) * 100 / 9;
      more_v = at_v < start_us + (uint64_t)(seconds * 1e6);
    }
    if (!more_a && !more_v)
      return;
    if (more_a && (!more_v || at_a <= at_v)) {
      gsize len;
      const uint8_t *data = g_bytes_get_data(g_ptr_array_index(audio, a++), &len);
      dc_recorder_push_audio(r, data, len, 960, at_a);
    } else {
      gsize len;
      const uint8_t *data = g_bytes_get_data(((packet *)g_ptr_array_index(video, v++))->bytes, &len);
      dc_recorder_push_video(r, data, len, at_v);
    }
  }
}

/* A whole recording: begun, the meeting pushed from late_s on (push_meeting; before the
 * zero where negative), stopped, and finished without an error. */
static void record_meeting(const char *apath, const char *vpath, double late_s, double seconds, double video_at_s,
                           GPtrArray *audio, GPtrArray *video) {
  outcome o = {0};
  GError *err = NULL;
  uint64_t start = 5000000;
  dc_recorder *r = dc_recorder_start(apath, vpath, NULL, on_done, &o, &err);
  g_assert_no_error(err);
  dc_recorder_begin(r, start);
  push_meeting(r, (uint64_t)((double)start + late_s * 1e6), seconds, video_at_s, audio, video);
  dc_recorder_stop(r);
  run_until_done(&o, 10000);
  g_assert_true(o.done);
  g_assert_null(o.error);
}

static void test_one_time_line(void) {
  char *dir = g_dir_make_tmp("diemcau-rec-XXXXXX", NULL);
  char *apath = g_build_filename(dir, "mix.opus", NULL), *vpath = g_build_filename(dir, "main.webm", NULL);
  GPtrArray *audio = opus_frames(150), *video = vp8_packets(30); /* 3 s of audio, 2 s of video */
  record_meeting(apath, vpath, 0, 3.0, 1.0, audio, video);
  decoded da = decode(apath, "oggdemux ! opusdec");
  decoded dv = decode(vpath, "matroskademux ! vp8dec");
  g_test_message("audio: %u buffers, %.3f..%.3f s; video: %u frames %dx%d, %.3f..%.3f s", da.buffers,
                 da.first / 1e9, da.end / 1e9, dv.buffers, dv.width, dv.height, dv.first / 1e9, dv.end / 1e9);
  g_assert_cmpuint(da.buffers, >=, 140);
  g_assert_cmpfloat(fabs(da.end / 1e9 - 3.0), <, 0.1); /* the whole three seconds, no gaps */
  g_assert_cmpuint(dv.buffers, ==, 30);              /* every frame, from the key frame on */
  g_assert_cmpint(dv.width, ==, 320);
  g_assert_cmpint(dv.height, ==, 240);
  /* one time line: the picture starts where it started on the recording's clock */
  g_assert_cmpfloat(fabs(dv.first / 1e9 - 1.0), <, 0.05);
  scratch_free(dir, apath, vpath, audio, video);
}

/* A recording of the mix alone, made from from_s (on the recording's clock; before its zero
 * where negative) for `seconds`, read back. */
static decoded record_mix_alone(double from_s, double seconds) {
  char *dir = g_dir_make_tmp("diemcau-rec-XXXXXX", NULL);
  char *apath = g_build_filename(dir, "mix.opus", NULL), *vpath = g_build_filename(dir, "main.webm", NULL);
  GPtrArray *audio = opus_frames((int)(seconds / 0.02 + 0.5)), *video = g_ptr_array_new();
  record_meeting(apath, vpath, from_s, seconds, 0, audio, video);
  decoded da = decode(apath, "oggdemux ! opusdec");
  g_test_message("audio: %u buffers, %.3f..%.3f s (the mix made from %.1f s for %.1f s)", da.buffers, da.first / 1e9,
                 da.end / 1e9, from_s, seconds);
  scratch_free(dir, apath, vpath, audio, video);
  return da;
}

/* The mix starts after the recording did (nobody spoke yet, or the first tick came late):
 * the Ogg begins with silence up to it, so that its time is the recording's, as the WebM's is,
 * and a player lines the two up. */
static void test_audio_starts_late(void) {
  decoded da = record_mix_alone(1.5, 1.5);
  g_assert_cmpfloat(da.first / 1e9, <, 0.05);
  g_assert_cmpfloat(fabs(da.end / 1e9 - 3.0), <, 0.1);
}

/* The mix clock fell behind as the recording began (a busy machine), and catches up with the
 * ticks it missed: the frames made for ticks before the zero come after it. They are not the
 * recording's: taken, they put the whole mix that much late against the picture (the chair's
 * browser test read every change 240 and 400 ms late so). */
static void test_mix_made_before_the_start(void) {
  decoded da = record_mix_alone(-0.3, 2.3); /* to 2.0 s */
  g_assert_cmpfloat(da.first / 1e9, <, 0.05);
  g_assert_cmpfloat(fabs(da.end / 1e9 - 2.0), <, 0.05);
}

static void test_full_disk(void) {
  /* /dev/full takes the open and refuses every write with ENOSPC, as a full disk does */
  char *dir = g_dir_make_tmp("diemcau-rec-XXXXXX", NULL);
  char *apath = g_build_filename(dir, "mix.opus", NULL);
  GPtrArray *audio = opus_frames(150), *video = vp8_packets(60);
  outcome o = {0};
  GError *err = NULL;
  dc_recorder *r = dc_recorder_start(apath, "/dev/full", NULL, on_done, &o, &err);
  g_assert_no_error(err);
  push_meeting(r, 0, 3.0, 0.0, audio, video);
  run_until_done(&o, 10000); /* no stop: the error alone ends it */
  g_assert_true(o.done);
  g_test_message("error: %s", o.error ? o.error : "(none)");
  g_assert_cmpstr(o.error, ==, "the disk is full");
  scratch_free(dir, apath, NULL, audio, video);
  g_free(o.error);
}

static void test_bad_path(void) {
  outcome o = {0};
  GError *err = NULL;
  dc_recorder *r = dc_recorder_start("/nonexistent/dir/mix.opus", "/nonexistent/dir/main.webm", NULL, on_done,
                                     &o, &err);
  g_assert_null(r);
  g_assert_nonnull(err);
  g_test_message("%s", err->message);
  g_assert_true(g_str_has_prefix(err->message, "cannot record: "));
  g_assert_nonnull(strstr(err->message, "/nonexistent/dir/"));
  g_assert_false(o.done); /* nothing started, nothing to report later */
  g_error_free(err);
}

static void test_audio_only(void) {
  /* points without cameras: no picture ever comes, the mix is written all the same */
  char *dir = g_dir_make_tmp("diemcau-rec-XXXXXX", NULL);
  char *apath = g_build_filename(dir, "mix.opus", NULL), *vpath = g_build_filename(dir, "main.webm", NULL);
  GPtrArray *audio = opus_frames(100), *video = g_ptr_array_new();
  outcome o = {0};
  dc_recorder *r = dc_recorder_start(apath, vpath, NULL, on_done, &o, NULL);
  g_assert_nonnull(r);
  dc_recorder_begin(r, 0);
  /* pushed as the mix clock does, in real time: a stalled pipeline would hold them */
  for (guint i = 0; i < audio->len; i++) {
    gsize len;
    const uint8_t *data = g_bytes_get_data(g_ptr_array_index(audio, i), &len);
    dc_recorder_push_audio(r, data, len, 960, (uint64_t)i * 20000);
  }
  GStatBuf st;
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC; /* its 8 KiB reach the file while it runs */
  while ((g_stat(apath, &st) != 0 || st.st_size == 0) && g_get_monotonic_time() < end)
    g_usleep(10000);
  g_test_message("the mix file holds %ld bytes before the stop", (long)st.st_size);
  g_assert_cmpint(st.st_size, >, 0);
  dc_recorder_stop(r);
  run_until_done(&o, 10000);
  g_assert_true(o.done);
  g_assert_null(o.error);
  decoded da = decode(apath, "oggdemux ! opusdec");
  g_assert_cmpfloat(fabs(da.end / 1e9 - 2.0), <, 0.1);
  scratch_free(dir, apath, vpath, audio, video);
  g_free(o.error);
}

static void test_stop_wait(void) {
  /* at shutdown no main loop runs: the files are finished before it returns */
  char *dir = g_dir_make_tmp("diemcau-rec-XXXXXX", NULL);
  char *apath = g_build_filename(dir, "mix.opus", NULL), *vpath = g_build_filename(dir, "main.webm", NULL);
  GPtrArray *audio = opus_frames(50), *video = vp8_packets(15);
  outcome o = {0};
  dc_recorder *r = dc_recorder_start(apath, vpath, NULL, on_done, &o, NULL);
  g_assert_nonnull(r);
  push_meeting(r, 0, 1.0, 0.0, audio, video);
  dc_recorder_stop_wait(r, 5000);
  g_assert_true(o.done);
  g_assert_null(o.error);
  decoded da = decode(apath, "oggdemux ! opusdec");
  g_assert_cmpfloat(fabs(da.end / 1e9 - 1.0), <, 0.1);
  scratch_free(dir, apath, vpath, audio, video);
}

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/recorder/one-time-line", test_one_time_line);
  g_test_add_func("/recorder/audio-starts-late", test_audio_starts_late);
  g_test_add_func("/recorder/mix-made-before-the-start", test_mix_made_before_the_start);
  g_test_add_func("/recorder/full-disk", test_full_disk);
  g_test_add_func("/recorder/bad-path", test_bad_path);
  g_test_add_func("/recorder/audio-only", test_audio_only);
  g_test_add_func("/recorder/stop-at-shutdown", test_stop_wait);
  int rc = g_test_run();
  gst_deinit();
  return rc;
}
