/* recorder.c — a meeting's recording through one GStreamer pipeline. See recorder.h. */
#include "bridge/recorder.h"

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <opus.h>

#define STOP_TIMEOUT_MS 5000 /* finishing both files takes milliseconds; a stuck one is cut */
#define QUEUE_BYTES (8u << 20) /* seconds of a slow disk; beyond it pushes are dropped */

#define FRAME_SAMPLES 960                  /* 20 ms at 48 kHz */
#define FILL_MAX_NS (60 * GST_SECOND)       /* silence put before a late first frame, at most */
#define FEED_GAP_US (1000 * 1000)           /* a pause in what the recording is fed worth a line */

struct dc_recorder {
  GstElement *pipeline;
  GstAppSrc *audio, *video;
  uint64_t start_us;
  /* audio: stamped by samples from its first frame (one writer: the mix clock) */
  bool audio_started;
  uint64_t audio_first_ns, audio_samples;
  /* what the recording was fed, for the log: a stall upstream shows here, not in the files */
  uint64_t audio_last_us, video_last_us, video_last_ns, video_packets;
  gint failed; /* an error came: pushes are dropped */
  GSource *bus_watch, *stop_timer;
  dc_recorder_done_fn done;
  gpointer user;
  bool finished;
};

static void finish(dc_recorder *r, const char *error) {
  if (r->finished)
    return;
  r->finished = true;
  gst_element_set_state(r->pipeline, GST_STATE_NULL);
  if (r->stop_timer) {
    g_source_destroy(r->stop_timer);
    g_source_unref(r->stop_timer);
  }
  if (r->done)
    r->done(r->user, error);
  if (r->bus_watch) {
    g_source_destroy(r->bus_watch);
    g_source_unref(r->bus_watch);
  }
  gst_object_unref(r->audio);
  gst_object_unref(r->video);
  gst_object_unref(r->pipeline);
  g_free(r);
}

/* A GStreamer error, in words for an operator: "the disk is full" first, as it is the one
 * that happens. */
static char *describe(GstMessage *msg) {
  GError *err = NULL;
  gst_message_parse_error(msg, &err, NULL);
  char *what;
  if (g_error_matches(err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT))
    what = g_strdup("the disk is full");
  else
    what = g_strdup_printf("%s (%s)", err->message, GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)));
  g_error_free(err);
  return what;
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data) {
  (void)bus;
  dc_recorder *r = data;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
    finish(r, NULL);
    return G_SOURCE_REMOVE; /* finish destroyed this source; its callback may still return */
  }
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    g_atomic_int_set(&r->failed, 1);
    char *what = describe(msg);
    finish(r, what);
    g_free(what);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean stop_timeout(gpointer data) {
  dc_recorder *r = data;
  g_source_unref(r->stop_timer); /* finish must not destroy it twice */
  r->stop_timer = NULL;
  finish(r, "the files were not finished in time; they may be cut short");
  return G_SOURCE_REMOVE;
}

static GstAppSrc *app_source(GstElement *pipeline, const char *name, const char *caps) {
  GstElement *e = gst_bin_get_by_name(GST_BIN(pipeline), name);
  GstCaps *c = gst_caps_from_string(caps);
  g_object_set(e, "format", GST_FORMAT_TIME, "caps", c, "max-bytes", (guint64)QUEUE_BYTES,
               "leaky-type", GST_APP_LEAKY_TYPE_DOWNSTREAM, NULL);
  gst_caps_unref(c);
  return GST_APP_SRC(e);
}

dc_recorder *dc_recorder_start(const char *audio_path, const char *video_path, GMainContext *ctx,
                               dc_recorder_done_fn done, gpointer user, GError **error) {
  if (!gst_init_check(NULL, NULL, error))
    return NULL;
  /* wait-for-keyframe: a recording starts on the key frame asked for at the start, never on
   * the grey blocks of a partial picture */
  GstElement *pipeline = gst_parse_launch(
      "appsrc name=audio ! opusparse ! oggmux ! filesink name=audio_file "
      "appsrc name=video ! rtpvp8depay wait-for-keyframe=true request-keyframe=false ! "
      "webmmux ! filesink name=video_file",
      error);
  if (!pipeline)
    return NULL;
  GstElement *afile = gst_bin_get_by_name(GST_BIN(pipeline), "audio_file");
  GstElement *vfile = gst_bin_get_by_name(GST_BIN(pipeline), "video_file");
  /* 8 KiB written at a time, not filesink's 64: a power cut loses less, and a full disk is
   * found within seconds of the mix (about 3 KiB a second), not a minute */
  g_object_set(afile, "location", audio_path, "buffer-mode", 0 /* full */, "buffer-size", 8192u, NULL);
  g_object_set(vfile, "location", video_path, "buffer-mode", 0, "buffer-size", 8192u, NULL);
  /* Neither file waits for the other to start: a meeting of audio-only points has no picture,
   * and with both sinks prerolling the mix stalled behind the empty video branch for good. */
  g_object_set(afile, "async", FALSE, NULL);
  g_object_set(vfile, "async", FALSE, NULL);
  gst_object_unref(afile);
  gst_object_unref(vfile);
  dc_recorder *r = g_new0(dc_recorder, 1);
  r->pipeline = pipeline;
  r->done = done;
  r->user = user;
  r->audio = app_source(pipeline, "audio", "audio/x-opus, rate=(int)48000, channels=(int)1, "
                                           "channel-mapping-family=(int)0");
  r->video = app_source(pipeline, "video", "application/x-rtp, media=(string)video, "
                                           "clock-rate=(int)90000, encoding-name=(string)VP8, "
                                           "payload=(int)" G_STRINGIFY(DC_RECORDER_VP8_PT));
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* the files are opened on the way to PLAYING: the bus says which and why */
    GstBus *bus = gst_element_get_bus(pipeline);
    GstMessage *msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    char *what = msg ? describe(msg) : g_strdup("the recording pipeline did not start");
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot record: %s", what);
    g_free(what);
    if (msg)
      gst_message_unref(msg);
    gst_object_unref(bus);
    r->done = NULL;
    finish(r, NULL);
    return NULL;
  }
  GstBus *bus = gst_element_get_bus(pipeline);
  r->bus_watch = gst_bus_create_watch(bus);
  g_source_set_callback(r->bus_watch, (GSourceFunc)(void (*)(void))on_bus, r, NULL);
  g_source_attach(r->bus_watch, ctx);
  gst_object_unref(bus);
  return r;
}

void dc_recorder_begin(dc_recorder *r, uint64_t zero_us) { r->start_us = zero_us; }

static GstClockTime since_start(const dc_recorder *r, uint64_t now_us) {
  return now_us > r->start_us ? (now_us - r->start_us) * GST_USECOND : 0;
}

/* 20 ms of silence in the mix's format (mono, 48 kHz), or 0 bytes when libopus made none. */
static size_t silence_frame(uint8_t *out, size_t cap) {
  int err;
  OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
  if (!enc)
    return 0;
  int16_t zeros[FRAME_SAMPLES] = {0};
  int n = opus_encode(enc, zeros, FRAME_SAMPLES, out, (opus_int32)cap);
  opus_encoder_destroy(enc);
  return n > 0 ? (size_t)n : 0;
}

/* The mix began after the recording did (its first tick, or a meeting opened before anyone
 * spoke): silence up to it, so that the Ogg starts at the recording's start as the WebM does.
 * A start offset alone (Ogg's first granule position) is honoured by GStreamer but not by
 * every player, which then shifts the sound against the picture by the gap. To the nearest
 * frame (10 ms at most) and for at most FILL_MAX_NS; a longer gap keeps the offset. */
static void fill_start(dc_recorder *r) {
  uint8_t frame[64];
  size_t len = r->audio_first_ns <= FILL_MAX_NS ? silence_frame(frame, sizeof frame) : 0;
  if (!len)
    return;
  GstClockTime frame_ns = gst_util_uint64_scale(FRAME_SAMPLES, GST_SECOND, 48000);
  uint64_t frames = (r->audio_first_ns + frame_ns / 2) / frame_ns;
  for (uint64_t i = 0; i < frames; i++) {
    GstBuffer *buf = gst_buffer_new_memdup(frame, len);
    GST_BUFFER_PTS(buf) = i * frame_ns;
    GST_BUFFER_DURATION(buf) = frame_ns;
    gst_app_src_push_buffer(r->audio, buf);
  }
  r->audio_first_ns = 0;
  r->audio_samples = frames * FRAME_SAMPLES;
}

void dc_recorder_push_audio(dc_recorder *r, const uint8_t *opus, size_t len, uint32_t samples,
                            uint64_t now_us) {
  if (g_atomic_int_get(&r->failed) || !len)
    return;
  /* Made for a tick before the recording began: a mix clock that fell behind (a busy
   * machine) catches up with its missed ticks, and these come after the zero. Taken, they
   * put the whole mix that much late against the picture: 240 ms once, 400 another time. */
  if (now_us < r->start_us)
    return;
  if (!r->audio_started) {
    r->audio_started = true;
    r->audio_first_ns = since_start(r, now_us);
    fill_start(r);
  } else if (now_us > r->audio_last_us + FEED_GAP_US) {
    g_message("the recording's mix paused %.1f s (at %.1f s)", (double)(now_us - r->audio_last_us) / 1e6,
              (double)since_start(r, r->audio_last_us) / GST_SECOND);
  }
  r->audio_last_us = now_us;
  GstBuffer *buf = gst_buffer_new_memdup(opus, len);
  GST_BUFFER_PTS(buf) = r->audio_first_ns + gst_util_uint64_scale(r->audio_samples, GST_SECOND, 48000);
  GST_BUFFER_DURATION(buf) = gst_util_uint64_scale(samples, GST_SECOND, 48000);
  r->audio_samples += samples;
  gst_app_src_push_buffer(r->audio, buf); /* takes the buffer */
}

void dc_recorder_push_video(dc_recorder *r, const uint8_t *rtp, size_t len, uint64_t now_us) {
  if (g_atomic_int_get(&r->failed) || !len)
    return;
  if (r->video_packets && now_us > r->video_last_us + FEED_GAP_US)
    g_message("the recording's picture paused %.1f s (at %.1f s)", (double)(now_us - r->video_last_us) / 1e6,
            (double)since_start(r, r->video_last_us) / GST_SECOND);
  r->video_last_us = now_us;
  r->video_packets++;
  GstBuffer *buf = gst_buffer_new_memdup(rtp, len);
  GST_BUFFER_PTS(buf) = r->video_last_ns = since_start(r, now_us);
  gst_app_src_push_buffer(r->video, buf);
}

/* What went in, for the log, as the streams end: set against the files' lengths, it tells a
 * feed that stopped from a file that lost what it was given. */
static void log_fed(dc_recorder *r) {
  guint64 audio_queued = 0, video_queued = 0;
  g_object_get(r->audio, "current-level-bytes", &audio_queued, NULL);
  g_object_get(r->video, "current-level-bytes", &video_queued, NULL);
  g_message("the recording was fed %.1f s of mix and %" G_GUINT64_FORMAT " packets of picture up to %.1f s; "
            "%" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT " bytes still to write",
            (double)(r->audio_first_ns + gst_util_uint64_scale(r->audio_samples, GST_SECOND, 48000)) / GST_SECOND,
            r->video_packets, (double)r->video_last_ns / GST_SECOND, audio_queued, video_queued);
}

void dc_recorder_stop(dc_recorder *r) {
  log_fed(r);
  gst_app_src_end_of_stream(r->audio);
  gst_app_src_end_of_stream(r->video);
  r->stop_timer = g_timeout_source_new(STOP_TIMEOUT_MS);
  g_source_set_callback(r->stop_timer, stop_timeout, r, NULL);
  g_source_attach(r->stop_timer, g_source_get_context(r->bus_watch));
}

void dc_recorder_shutdown(void) {
  if (gst_is_initialized())
    gst_deinit();
}

void dc_recorder_stop_wait(dc_recorder *r, unsigned timeout_ms) {
  /* no main loop may be running: take the bus's messages here */
  g_source_destroy(r->bus_watch);
  g_source_unref(r->bus_watch);
  r->bus_watch = NULL;
  log_fed(r);
  gst_app_src_end_of_stream(r->audio);
  gst_app_src_end_of_stream(r->video);
  GstBus *bus = gst_element_get_bus(r->pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered(bus, (GstClockTime)timeout_ms * GST_MSECOND,
                                               GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_object_unref(bus);
  if (!msg) {
    finish(r, "the files were not finished in time; they may be cut short");
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    char *what = describe(msg);
    finish(r, what);
    g_free(what);
  } else {
    finish(r, NULL);
  }
  if (msg)
    gst_message_unref(msg);
}
