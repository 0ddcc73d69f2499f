/* media_audio.c — the mix's playback in the endpoint (see media.h, media_private.h): its
 * jitter buffer's wait, which follows how the mix's packets are lost and how late they come
 * (profile.h's loss runs, delay spread and lone wait), changed in a pause of the sound; what
 * the decoder played and what the jitter buffer gave up as lost, for the stats; the WAV
 * recording placed on the wall clock where a loudspeaker would play it; frames rebuilt from
 * the bridge's RED copies (RFC 2198) played; each sink given its own inputs' latency; and the
 * microphone's RED offered. */
#include "endpoint/media_private.h"

#include <gst/base/gstbasesink.h>
#include <string.h>

/* A video packet lost on a point's uplink is noticed by the bridge only when the next one
 * comes, up to a frame later at a highland camera's 10 fps, and its repair crosses that
 * uplink's queue; a jitter buffer of 100 ms (the audio's, but on the highland profile) gave
 * up on it first, asked for a key frame, and froze the picture until it came. */
#define VIDEO_LATENCY_MS 300

/* rtpbin's streaming thread: a new stream's jitter buffer, by the kind the SDP gave its SSRC
 * (one the SDP did not name keeps webrtcbin's latency, as the audio does). */
void media_on_new_jitterbuffer(GstElement *rtpbin, GstElement *jitterbuffer, guint session, guint ssrc, gpointer data) {
  (void)rtpbin, (void)session;
  dc_endpoint_media *m = data;
  g_mutex_lock(&m->ssrc_lock);
  int kind = GPOINTER_TO_INT(g_hash_table_lookup(m->ssrc_kind, GUINT_TO_POINTER(ssrc)));
  GstElement *before = NULL;
  if (kind == GST_WEBRTC_KIND_AUDIO) /* the mix: follow_wait_state reaches it from now on */
    before = m->audio_jb, m->audio_jb = gst_object_ref(jitterbuffer);
  g_mutex_unlock(&m->ssrc_lock);
  if (before)
    gst_object_unref(before);
  if (kind == GST_WEBRTC_KIND_AUDIO) /* its wait as it is now */
    g_object_set(jitterbuffer, "latency", (guint)g_atomic_int_get(&m->audio_wait_ms), NULL);
  if (kind == GST_WEBRTC_KIND_VIDEO)
    g_object_set(jitterbuffer, "latency", VIDEO_LATENCY_MS, NULL);
}

/* The owner's thread: the mix's jitter buffer waits as the mix's loss now says (its latency
 * message has the playback's found again: dc_media_latency_changed), and the bridge is told.
 * The state, not the call's order, says which: the two threads that change it may post their
 * calls in either order. */
void media_follow_wait_state(dc_endpoint_media *m, bool in_a_pause) {
  const dc_profile *p = m->cfg.profile;
  int state = g_atomic_int_get(&m->wait_state), told = m->told_state;
  bool lone = state == WAIT_LONE;
  int ms = lone ? g_atomic_int_get(&m->lone_wait_ms) : p->audio_wait_runs_ms;
  int before = g_atomic_int_get(&m->audio_wait_ms);
  if (ms == before && state == told) /* a judgement that leaves the wait as it was is told too */
    return;
  m->told_state = state;
  dc_wait_reason why = !lone             ? DC_WAIT_LOSS_RUNS
                       : told != WAIT_LONE ? DC_WAIT_LONE_LOSS
                       : ms > before       ? DC_WAIT_LATER_PACKETS
                                           : DC_WAIT_EARLIER_PACKETS;
  g_atomic_int_set(&m->audio_wait_ms, ms);
  g_mutex_lock(&m->ssrc_lock);
  GstElement *jb = m->audio_jb ? gst_object_ref(m->audio_jb) : NULL;
  g_mutex_unlock(&m->ssrc_lock);
  if (jb) {
    g_object_set(jb, "latency", (guint)ms, NULL);
    gst_object_unref(jb);
  }
  if (m->ev.audio_wait)
    m->ev.audio_wait(ms, before, why, in_a_pause, m->ev.user);
}

/* A change of the wait moves the playout by the difference: a loudspeaker skips (or, raised,
 * repeats nothing and leaves a gap in) what was then waiting to be played, sound decoded up to
 * the longer wait before the change. So the shorter wait begins in a pause of the mix at
 * least that long (its decoded sound below MIX_QUIET_DBFS for MIX_QUIET_NS: the pause between
 * sentences), or DC_WAIT_PAUSE_AWAITED_US after the loss was known lone if the sound never paused
 * so (the mix of a noisy hall). (The WAV sink skips nothing: it renders late buffers.) */
#define MIX_QUIET_DBFS (-45)
#define MIX_QUIET_MEAN_SQUARE 33977.0 /* (32768 * 10^(MIX_QUIET_DBFS / 20))^2 */
#define MIX_QUIET_NS (300 * GST_MSECOND)

/* Below MIX_QUIET_DBFS (RMS, of full scale) when b is S16 as opusdec makes it. */
static bool quiet(GstPad *pad, GstBuffer *b) {
  GstCaps *caps = gst_pad_get_current_caps(pad);
  const char *format = caps ? gst_structure_get_string(gst_caps_get_structure(caps, 0), "format") : NULL;
  bool s16 = format && !strcmp(format, "S16LE");
  if (caps)
    gst_caps_unref(caps);
  GstMapInfo map;
  if (!s16 || !gst_buffer_map(b, &map, GST_MAP_READ))
    return false;
  const gint16 *x = (const gint16 *)map.data;
  size_t n = map.size / sizeof *x;
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += (double)x[i] * x[i];
  gst_buffer_unmap(b, &map);
  return n && sum / (double)n < MIX_QUIET_MEAN_SQUARE;
}

static GstPadProbeReturn media_count_played(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  dc_endpoint_media *m = data;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!GST_BUFFER_DURATION_IS_VALID(b))
    return GST_PAD_PROBE_OK;
  const dc_profile *p = m->cfg.profile;
  int state = g_atomic_int_get(&m->wait_state);
  bool unsure = state == WAIT_UNSURE, lone = state == WAIT_LONE;
  bool hushed = (unsure || (lone && dc_lone_wait_lowering(&m->lone_wait))) && quiet(pad, b);
  bool lower = false;
  bool in_a_pause = false;
  int spread_ms = -1, follow_to = 0;
  g_mutex_lock(&m->play_lock);
  m->audio_played_ns += GST_BUFFER_DURATION(b);
  m->quiet_ns = hushed ? m->quiet_ns + GST_BUFFER_DURATION(b) : 0;
  if (unsure) {
    gint64 now = g_get_monotonic_time();
    in_a_pause = m->quiet_ns >= MIX_QUIET_NS;
    lower = dc_loss_runs_seen_lone(&m->mix_runs, now) &&
            (in_a_pause || dc_loss_runs_seen_lone(&m->mix_runs, now - DC_WAIT_PAUSE_AWAITED_US));
    if (lower) {
      spread_ms = dc_delay_spread_ms(&m->mix_spread);
      dc_lone_wait_judged(&m->lone_wait, dc_profile_lone_wait_ms(p, spread_ms), g_atomic_int_get(&m->audio_wait_ms));
    }
  } else if (lone) { /* raised at once (late packets are lost), lowered when calm, in a pause */
    in_a_pause = m->quiet_ns >= MIX_QUIET_NS;
    follow_to = dc_lone_wait_follow(&m->lone_wait, p, g_atomic_int_get(&m->lone_wait_ms), &m->mix_spread,
                                    g_get_monotonic_time(), in_a_pause);
  }
  g_mutex_unlock(&m->play_lock);
  if (follow_to) {
    in_a_pause = in_a_pause && follow_to < g_atomic_int_get(&m->lone_wait_ms);
    g_atomic_int_set(&m->lone_wait_ms, follow_to);
    media_post(m, CALL_AUDIO_WAIT, NULL, in_a_pause, NULL);
  }
  if (lower)
    g_atomic_int_set(&m->lone_wait_ms, dc_profile_lone_wait_ms(p, spread_ms));
  if (lower && g_atomic_int_compare_and_exchange(&m->wait_state, WAIT_UNSURE, WAIT_LONE))
    media_post(m, CALL_AUDIO_WAIT, NULL, in_a_pause, NULL);
  return GST_PAD_PROBE_OK;
}

/* Where the recording sits on the wall clock. A loudspeaker plays each buffer when the
 * pipeline's clock reaches the buffer's running time plus the latency its sink was given (the
 * playback's inputs': the jitter buffer's wait, the decoder's hold, the mixer's margin); the
 * WAV's sink, synchronised too, is given the same. So that time, on the wall clock, less the
 * samples before the buffer is the time sample 0 stands for, whenever the buffer happens to
 * reach the sink; it moves only when the latency is found again (the mix joining the
 * playback), and the newest counts. (Timed by the buffer's arrival, as before 2026-12-05, the
 * recording left the playback's latency out: the jitter buffer's wait did not show in the
 * lab's mouth to ear.) */
#define RECORDING_BYTES_PER_S (48000 * 2)
static gint64 loudspeaker_wall_time_us(GstPad *pad, GstBuffer *b, GstElement *sink) {
  GstEvent *ev = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
  GstClock *clock = gst_element_get_clock(sink);
  gint64 at = 0;
  if (ev && clock && GST_BUFFER_PTS_IS_VALID(b)) {
    const GstSegment *seg;
    gst_event_parse_segment(ev, &seg);
    GstClockTime running = gst_segment_to_running_time(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(b));
    if (GST_CLOCK_TIME_IS_VALID(running)) {
      GstClockTime plays = gst_element_get_base_time(sink) + running + gst_base_sink_get_latency(GST_BASE_SINK(sink));
      GstClockTimeDiff ahead = GST_CLOCK_DIFF(gst_clock_get_time(clock), plays);
      at = g_get_real_time() + ahead / 1000;
    }
  }
  if (clock)
    gst_object_unref(clock);
  if (ev)
    gst_event_unref(ev);
  return at;
}

GstPadProbeReturn media_time_recording(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  dc_endpoint_media *m = data;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
  gint64 plays = loudspeaker_wall_time_us(pad, b, m->recorder);
  g_mutex_lock(&m->play_lock);
  guint64 before = m->recorded_bytes;
  m->recorded_bytes += gst_buffer_get_size(b);
  if (plays)
    m->recording_origin_us = plays - (gint64)(before * G_USEC_PER_SEC / RECORDING_BYTES_PER_S);
  g_mutex_unlock(&m->play_lock);
  return GST_PAD_PROBE_OK;
}

/* A packet the jitter buffer gave up on, and no copy brought back, reaches the depayloader as
 * a lost event, and the decoder conceals its time (PLC). Counted here: opusdec's own PLC
 * figure also counts the pauses of a talker's DTX (no packets, nothing lost), and the gap the
 * depayloader makes of it is left out when an ULPFEC decoder before it (active where ULPFEC
 * was negotiated) marks the loss as maybe an FEC packet, which the decoder conceals all the
 * same.
 * One event can stand for seconds: after an outage the jitter buffer declares the whole gap
 * lost at once. opusdec conceals at most MAX_CONCEALED_PER_LOSS of it (libopus's multistream
 * decoder, which it uses, makes no more than one longest Opus packet for one call; the rest
 * is silence), so no more is counted: the count stays a part of what was played, and what was
 * played from packets (played less concealed) grows again as soon as packets do. */
#define MAX_CONCEALED_PER_LOSS (120 * GST_MSECOND) /* RFC 6716 3.2.5: 120 ms at most */
static GstPadProbeReturn media_count_lost(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)pad;
  dc_endpoint_media *m = data;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
  GstClockTime duration = GST_CLOCK_TIME_NONE;
  if (GST_EVENT_TYPE(ev) == GST_EVENT_CUSTOM_DOWNSTREAM && gst_event_has_name(ev, "GstRTPPacketLost")) {
    gst_structure_get_clock_time(gst_event_get_structure(ev), "duration", &duration);
    if (GST_CLOCK_TIME_IS_VALID(duration)) {
      g_mutex_lock(&m->play_lock);
      m->audio_concealed_ns += MIN(duration, MAX_CONCEALED_PER_LOSS);
      g_mutex_unlock(&m->play_lock);
    }
  }
  return GST_PAD_PROBE_OK;
}

/* Every packet of the stream passes rtpreddec, the copies it rebuilt flagged: the others
 * say how the mix's packets are lost and how late they come on the way in. Where lost in
 * runs, the audio waits the profile's longer wait for good, for the copies that then reach
 * further back (profile.c); how late they come sets the shorter wait. */
#define OPUS_RTP_CLOCK 48000 /* RFC 7587 4.1, whatever the rate decoded */
static void count_mix_loss(dc_endpoint_media *m, GstBuffer *buf) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp))
    return;
  guint32 ssrc = gst_rtp_buffer_get_ssrc(&rtp);
  guint16 seq = gst_rtp_buffer_get_seq(&rtp);
  guint32 ts = gst_rtp_buffer_get_timestamp(&rtp);
  gst_rtp_buffer_unmap(&rtp);
  g_mutex_lock(&m->ssrc_lock);
  bool mix = GPOINTER_TO_INT(g_hash_table_lookup(m->ssrc_kind, GUINT_TO_POINTER(ssrc))) == GST_WEBRTC_KIND_AUDIO;
  g_mutex_unlock(&m->ssrc_lock);
  if (!mix)
    return;
  gint64 now = g_get_monotonic_time();
  g_mutex_lock(&m->play_lock);
  dc_loss_runs_packet(&m->mix_runs, seq, now);
  dc_delay_spread_packet(&m->mix_spread, ts, OPUS_RTP_CLOCK, now);
  bool runs = dc_loss_runs_found(&m->mix_runs);
  g_mutex_unlock(&m->play_lock);
  if (!runs || g_atomic_int_get(&m->wait_state) == WAIT_RUNS)
    return;
  if (g_atomic_int_compare_and_exchange(&m->wait_state, WAIT_LONE, WAIT_RUNS))
    media_post(m, CALL_AUDIO_WAIT, NULL, 0, NULL);
  else /* still unsure: it waits the longer already */
    g_atomic_int_compare_and_exchange(&m->wait_state, WAIT_UNSURE, WAIT_RUNS);
}

/* webrtcbin 1.22 takes RED apart (rtpreddec) before the RTP packet store and the jitter
 * buffer, and flags a frame it rebuilt from a copy REDUNDANT; the store keeps such a frame
 * and drops it from the stream, for an ULPFEC decoder after the jitter buffer to fetch when
 * that buffer declares the frame lost, which webrtcbin leaves in passthrough unless ULPFEC is
 * negotiated. So the bridge's copies restored nothing: the frame came 60 ms after its loss,
 * within the jitter buffer's 100 ms, and was thrown away. Unflagged as it leaves rtpreddec,
 * it goes on like any packet, just before the next one, which carried it, and fills its gap
 * before the jitter buffer sees one. (Answering the ulpfec instead made the copies play,
 * through a decoder that renumbers what it sends and drops a loss event of several packets
 * once it restores one of them, and the audio came out worse: README, the link lab.) */
static GstPadProbeReturn unflag_red_copy(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)pad;
  dc_endpoint_media *m = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (GST_BUFFER_FLAG_IS_SET(buf, GST_RTP_BUFFER_FLAG_REDUNDANT)) {
    buf = gst_buffer_make_writable(buf);
    GST_BUFFER_FLAG_UNSET(buf, GST_RTP_BUFFER_FLAG_REDUNDANT);
    GST_PAD_PROBE_INFO_DATA(info) = buf;
  } else {
    count_mix_loss(m, buf);
  }
  return GST_PAD_PROBE_OK;
}

void media_play_red_copies(GstBin *bin, GstBin *sub_bin, GstElement *element, gpointer data) {
  (void)bin, (void)sub_bin;
  dc_endpoint_media *m = data;
  GstElementFactory *f = gst_element_get_factory(element);
  if (!f || g_strcmp0(GST_OBJECT_NAME(f), "rtpreddec"))
    return;
  GstPad *src = gst_element_get_static_pad(element, "src");
  if (src) {
    gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, unflag_red_copy, media_ref(m), (GDestroyNotify)media_unref);
    gst_object_unref(src);
  }
}

/* With DTX, libopus makes a frame of two bytes or less (nothing coded) for each 60 ms of a
 * quiet microphone, and a frame of comfort noise each 420 ms; the payloader sent them all by
 * default: 16 packets a second, ~8 kbit/s with the headers of a highland point's uplink the
 * whole time it listens. Told DTX, it sends only the comfort noise (the bridge, and a page,
 * take a gap for DTX: media/mixer_playout.c) and marks the first packet after a gap (RFC 3551
 * §4.1). The bridge's own mix toward a point does the same (media/mixer.h, dc_dtx_gate). */
char *dc_media_audio_encoder_desc(const dc_profile *p) {
  const char *dtx = p->audio_dtx ? "true" : "false";
  return g_strdup_printf("opusenc name=aenc bitrate=%d frame-size=%d audio-type=voice inband-fec=%s dtx=%s "
                         "packet-loss-percentage=%d ! rtpopuspay pt=111 dtx=%s ! capsfilter caps=\"" OPUS_CAPS "\"",
                         p->audio_bps, p->audio_frame_ms, p->audio_fec ? "true" : "false", dtx, p->audio_loss_percent,
                         dtx);
}

/* Until the microphone first carries sound, its quiet goes to the encoder as digital silence.
 * libopus 1.3.1 takes a frame for silence, and sends DTX, only when it is digital zeros or 25 dB
 * below the loudest frame of voice it has heard; a point that has not spoken has heard none,
 * so any room noise (measured here: white or pink at -80 to -40 dBFS) is sent as full frames,
 * ~15 kbit/s of a highland uplink the whole time a clerk listens, where DTX sends 1.8. Once
 * a buffer's peak reaches DC_SOUND_PEAK the probe goes and libopus judges the rest (after
 * speech, noise up to -50 dBFS is DTX). Only the start of the first word, while it is quieter
 * than that, is lost. */
#define DC_SOUND_PEAK 328 /* -40 dBFS, of S16 */

static GstPadProbeReturn quiet_until_sound(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)pad, (void)data;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
  GstMapInfo map;
  if (!gst_buffer_map(b, &map, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  const gint16 *pcm = (const gint16 *)map.data;
  bool sound = false;
  for (gsize i = 0; i < map.size / sizeof *pcm && !sound; i++)
    sound = pcm[i] >= DC_SOUND_PEAK || pcm[i] <= -DC_SOUND_PEAK;
  gst_buffer_unmap(b, &map);
  if (sound) {
    g_debug("the microphone carried sound: its quiet is the encoder's to judge from now on");
    return GST_PAD_PROBE_REMOVE;
  }
  b = gst_buffer_make_writable(b);
  gst_buffer_memset(b, 0, 0, gst_buffer_get_size(b));
  GST_PAD_PROBE_INFO_DATA(info) = b;
  return GST_PAD_PROBE_OK;
}

void dc_media_quiet_until_sound(GstElement *encoder) {
  GstPad *in = gst_element_get_static_pad(encoder, "sink");
  gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_BUFFER, quiet_until_sound, NULL, NULL);
  gst_object_unref(in);
}

/* The format is fixed after the mixer too: a live aggregator that times out before any input
 * has caps (a busy machine starting the pipeline) fixes its output at GStreamer's defaults,
 * 44.1 kHz stereo, and keeps them; a recording then held the wrong rate and channels. */
char *dc_media_playback_desc(const char *sink_desc, bool echo_probe) {
  return g_strdup_printf("audiotestsrc name=playbase is-live=true wave=silence ! " PLAYBACK_CAPS " ! "
                         "audiomixer name=playmix latency=%" G_GUINT64_FORMAT " ! " PLAYBACK_CAPS " ! %s audioconvert ! audioresample ! %s",
                         (guint64)DC_PLAYBACK_MARGIN_MS * GST_MSECOND, echo_probe ? "webrtcechoprobe name=probe ! " : "", sink_desc);
}

static gint64 playmix_latency_ns(GstBin *bin) {
  GstElement *mix = gst_bin_get_by_name(bin, "playmix");
  GstPad *out = mix ? gst_element_get_static_pad(mix, "src") : NULL;
  GstQuery *q = gst_query_new_latency();
  gboolean live = FALSE;
  GstClockTime min = GST_CLOCK_TIME_NONE;
  if (out && gst_pad_query(out, q))
    gst_query_parse_latency(q, &live, &min, NULL);
  gst_query_unref(q);
  if (out)
    gst_object_unref(out);
  if (mix)
    gst_object_unref(mix);
  return live && GST_CLOCK_TIME_IS_VALID(min) ? (gint64)min : -1;
}

/* A sink's latency that changes moves where its buffers play by the difference. An audio
 * sink (GstAudioBaseSink) takes that for drift and writes on where it was for a second
 * (discont-wait) before it jumps, so the gap or skip came a second after the change, wherever
 * the sound then was; a buffer flagged DISCONT makes it jump at once, where the change was
 * made (in a pause of the sound: MIX_QUIET_NS). Raw audio only: the flag means nothing to a
 * file's or a video's sink. */
static GstPadProbeReturn flag_discont(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)pad, (void)data;
  GstBuffer *buf = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
  GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DISCONT);
  GST_PAD_PROBE_INFO_DATA(info) = buf;
  return GST_PAD_PROBE_REMOVE;
}

static void set_latency(GstElement *sink, GstClockTime latency) {
  static const char *key = "dc-latency";
  GstClockTime *before = g_object_get_data(G_OBJECT(sink), key);
  bool moved = before && *before != latency;
  GstClockTime *now = g_new(GstClockTime, 1);
  *now = latency;
  g_object_set_data_full(G_OBJECT(sink), key, now, g_free);
  gst_element_send_event(sink, gst_event_new_latency(latency)); /* the buffers flagged come after */
  GstPad *in = moved ? gst_element_get_static_pad(sink, "sink") : NULL;
  GstCaps *caps = in ? gst_pad_get_current_caps(in) : NULL;
  if (caps && gst_structure_has_name(gst_caps_get_structure(caps, 0), "audio/x-raw"))
    gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_BUFFER, flag_discont, NULL, NULL);
  if (caps)
    gst_caps_unref(caps);
  if (in)
    gst_object_unref(in);
}

/* GStreamer's own answer gives every sink the largest latency any of them needs, for lip
 * sync within one source's streams. Here the mix and the video slots come from different
 * talkers with nothing to sync, and the loudspeaker would wait out the video's 300 ms jitter
 * buffer and decoder too. A sink whose query fails, or that is not live, keeps what it had. */
static gboolean latency_per_sink(GstBin *bin, gpointer data) {
  gint64 *playback_ns = data;
  GstIterator *it = gst_bin_iterate_sinks(bin);
  GValue v = G_VALUE_INIT;
  for (GstIteratorResult r; (r = gst_iterator_next(it, &v)) != GST_ITERATOR_DONE && r != GST_ITERATOR_ERROR;) {
    if (r == GST_ITERATOR_RESYNC) {
      gst_iterator_resync(it);
      continue;
    }
    GstElement *sink = g_value_get_object(&v);
    GstQuery *q = gst_query_new_latency();
    gboolean live = FALSE;
    GstClockTime min = GST_CLOCK_TIME_NONE;
    if (gst_element_query(sink, q))
      gst_query_parse_latency(q, &live, &min, NULL);
    gst_query_unref(q);
    if (live && GST_CLOCK_TIME_IS_VALID(min))
      set_latency(sink, min);
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  if (playback_ns) /* read by the stats on the owner's thread; found here on whichever one recalculates */
    __atomic_store_n(playback_ns, playmix_latency_ns(bin), __ATOMIC_RELAXED);
  return TRUE;
}

void dc_media_latency_per_sink(GstElement *pipeline, gint64 *playback_ns) {
  g_signal_connect(pipeline, "do-latency", G_CALLBACK(latency_per_sink), playback_ns);
}

bool dc_media_latency_changed(GstElement *pipeline, GstMessage *msg) {
  if (GST_MESSAGE_TYPE(msg) != GST_MESSAGE_LATENCY)
    return false;
  gst_bin_recalculate_latency(GST_BIN(pipeline));
  return true;
}

/* Only then: before the stream's elements have their caps, their latency queries fail, and
 * nothing asks again. */
static GstPadProbeReturn post_latency(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)info, (void)data;
  GstObject *from = gst_pad_get_parent(pad);
  if (GST_IS_ELEMENT(from))
    gst_element_post_message(GST_ELEMENT(from), gst_message_new_latency(from));
  if (from)
    gst_object_unref(from);
  return GST_PAD_PROBE_REMOVE;
}

void dc_media_latency_once_flowing(GstPad *pad) {
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, post_latency, NULL, NULL);
}

/* opusdec, decoding in-band FEC, holds each packet until the next one comes (whose FEC may
 * stand in for it), but declares the longest an Opus packet can be, 120 ms: the playback
 * then waited 120 ms beyond the jitter buffer's wait where 20 was held. Its answer is put
 * back to its input's latency and one frame of the mix. */
static GstPadProbeReturn declare_decoder_hold(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  GstQuery *q = GST_PAD_PROBE_INFO_QUERY(info);
  if (GST_QUERY_TYPE(q) != GST_QUERY_LATENCY)
    return GST_PAD_PROBE_OK;
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency(q, &live, &min, &max);
  GstElement *dec = gst_pad_get_parent_element(pad);
  GstPad *in = dec ? gst_element_get_static_pad(dec, "sink") : NULL;
  GstQuery *up = gst_query_new_latency();
  if (live && in && gst_pad_peer_query(in, up)) {
    gboolean up_live;
    GstClockTime up_min;
    gst_query_parse_latency(up, &up_live, &up_min, NULL);
    GstClockTime held = up_min + (GstClockTime)GPOINTER_TO_UINT(data) * GST_MSECOND;
    if (GST_CLOCK_TIME_IS_VALID(up_min) && held < min)
      gst_query_set_latency(q, live, held, MAX(max, held));
  }
  gst_query_unref(up);
  if (in)
    gst_object_unref(in);
  if (dec)
    gst_object_unref(dec);
  return GST_PAD_PROBE_OK;
}

void dc_media_declare_decoder_hold(GstElement *decoder, int frame_ms) {
  GstPad *out = gst_element_get_static_pad(decoder, "src");
  gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM | GST_PAD_PROBE_TYPE_PULL, declare_decoder_hold,
                    GUINT_TO_POINTER((guint)MAX(frame_ms, 0)), NULL);
  gst_object_unref(out);
}

/* The bridge's audio redundancy (RFC 2198) on a lossy link: the mix with a copy of the frame
 * before. webrtcbin 1.22 offers RED (red/48000, beside an ulpfec of no use to audio) and
 * takes it apart on receipt only through the transceiver's fec-type: codec preferences that
 * name RED are intersected away with the encoder's Opus caps. No ULPFEC of our own
 * (fec-percentage 0): the bridge does not answer it, and Opus packets this small would pay
 * for a repair packet each.
 * A frame rebuilt from a copy reaches the jitter buffer by play_red_copies. */
void media_offer_audio_red(dc_endpoint_media *m) {
  GstPad *pad = gst_element_get_static_pad(m->webrtc, "sink_0");
  GstWebRTCRTPTransceiver *t = NULL;
  if (pad)
    g_object_get(pad, "transceiver", &t, NULL);
  if (t) {
    g_object_set(t, "fec-type", GST_WEBRTC_FEC_TYPE_ULP_RED, "fec-percentage", 0, NULL);
    gst_object_unref(t);
  }
  if (pad)
    gst_object_unref(pad);
}

/* A received stream of the mix: its decoder's branch (to join the playback's mixer), the
 * played and lost counted on it. NULL with err set when GStreamer cannot make it. */
GstElement *media_mix_branch(dc_endpoint_media *m, GError **err) {
  /* The mix carries in-band FEC only at 18 kbit/s and more (libopus 1.3.1, the highland
   * tier's 60 ms frames): below that, decoding it would only hold each packet a frame. */
  const dc_profile *p = m->cfg.profile;
  bool fec = p->audio_bps >= MIX_FEC_MIN_BPS;
  char *desc = g_strdup_printf("rtpopusdepay name=adepay ! opusdec name=adec plc=true use-inband-fec=%s ! audioconvert ! "
                               "audioresample ! audio/x-raw,rate=48000,channels=1 ! queue max-size-time=200000000",
                               fec ? "true" : "false");
  GstElement *bin = gst_parse_bin_from_description(desc, TRUE, err);
  g_free(desc);
  GstElement *dec = bin ? gst_bin_get_by_name(GST_BIN(bin), "adec") : NULL,
             *depay = bin ? gst_bin_get_by_name(GST_BIN(bin), "adepay") : NULL;
  if (dec && depay) {
    if (fec)
      dc_media_declare_decoder_hold(dec, p->audio_frame_ms);
    GstPad *out = gst_element_get_static_pad(dec, "src"), *in = gst_element_get_static_pad(depay, "sink");
    gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_BUFFER, media_count_played, m, NULL);
    gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, media_count_lost, m, NULL);
    gst_object_unref(out);
    gst_object_unref(in);
  }
  if (dec)
    gst_object_unref(dec);
  if (depay)
    gst_object_unref(depay);
  return bin;
}
