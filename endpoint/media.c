/* media.c — the endpoint's GStreamer pipeline around webrtcbin; see media.h. */
#include "endpoint/media.h"

#define GST_USE_UNSTABLE_API /* webrtcbin's library says so of itself in 1.22 */
#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/sdp/sdp.h>
#include <gst/rtp/gstrtcpbuffer.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <nice/agent.h>
#include <string.h>

#define MAX_SLOTS 9
#define VP8_CAPS "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
/* Nothing goes into webrtcbin before ICE is up: in GStreamer 1.22 a buffer that reaches the
 * transport before it is ready blocks its streaming thread while holding the RTP session's
 * lock, and ICE gathering (which needs that lock) never starts: an endpoint whose answer
 * came late (a highland link's 400 ms queue) never connected and hung on SIGTERM. Caps go
 * through (webrtcbin makes no offer before it has them); the first video frames through the
 * gate are not a key frame, and the bridge asks for one (PLI) as for any new source. */
#define GATE(name) "valve name=" name " drop=true drop-mode=forward-sticky-events"
#define OPUS_CAPS "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000"
#define PLAYBACK_CAPS "audio/x-raw,rate=48000,channels=1"
#define MIX_FEC_MIN_BPS 18000

struct dc_endpoint_media {
  dc_media_config cfg;
  dc_media_events ev;
  GMainContext *ctx;
  GstElement *pipe, *webrtc, *mute, *grid, *status_overlay;
  GstElement *labels[MAX_SLOTS];
  GMutex label_lock; /* labels and their texts: set here, tiles made on streaming threads */
  GMutex ssrc_lock;  /* ssrc_kind's writes, and its reads off this thread */
  char *label_text[MAX_SLOTS];
  int n_slots;
  gint frames[MAX_SLOTS]; /* atomic: counted on streaming threads */
  int tile_w[MAX_SLOTS], tile_h[MAX_SLOTS], tile_x[MAX_SLOTS], tile_y[MAX_SLOTS];
  guint bus_watch, stats_timer;
  bool closing, connected;
  unsigned tcp_candidates; /* of ours, sent to the bridge (the owner's thread): ICE-TCP, RFC 6544 */
  char *status;
  /* the previous stats, for rates */
  gint64 last_stats_us;
  guint64 last_bytes[4]; /* audio up, video up, audio down, video down */
  long last_frames[MAX_SLOTS];
  /* SSRC -> GstWebRTCKind, from the offer and the answer: webrtcbin 1.22's stats name every
   * bundled stream "video", so the SDP says which is which */
  GHashTable *ssrc_kind;
  /* our audio's RED encoder inside webrtcbin (found once it exists) and what it sends */
  GstElement *red_enc;
  int audio_red_pt; /* from our offer; -1: none */
  unsigned red_distance;
  gint64 audio_loss_us;
  /* the camera's parity encoder inside webrtcbin (found once it exists) and what it spends */
  GstElement *video_fec_enc;
  int video_ulpfec_pt; /* in the camera's section of the last SDP; -1: none (not answered) */
  unsigned video_fec_percent;
  gint64 video_loss_us;
  guint64 last_video_nacks, last_video_sent;
  /* the round trip last measured: the bridge's latest report block may answer no sender
   * report of ours (LSR 0: nothing measured), which must not make it unknown again */
  double rtt_s;
  bool have_rtt;
  guint32 layer_ssrc[DC_MAX_LAYERS]; /* simulcast layers' SSRCs, lowest first */
  GstElement *layer_enc[DC_MAX_LAYERS]; /* and their encoders */
  int n_layers;
  bool feedback_routed;
  /* what the mix's decoder played and what it concealed for packets that never came, for the
   * stats line; and where the recording sits on the wall clock (a WAV sink only) */
  GMutex play_lock;
  guint64 audio_played_ns;      /* the decoders' output, concealment included */
  guint64 audio_concealed_ns;   /* what the jitter buffer declared lost and no copy restored */
  guint64 recorded_bytes;       /* into the WAV so far (48 kHz mono S16) */
  gint64 recording_origin_us;   /* wall clock of the WAV's sample 0 as the mix now plays; 0: not yet */
  GstElement *recorder;         /* the WAV's sink: synchronised, so given a loudspeaker's latency */
  gint64 playback_latency_ns;   /* what the mix's playback last found it must wait (atomic) */
  /* the mix's jitter buffer (ssrc_lock), how long it waits now (atomic, the owner's to set),
   * what the mix's loss has shown so far (atomic, wait_state) and the wait chosen for lone
   * loss once it did (atomic, set before wait_state says so), how its packets are lost and
   * how late they come on their way in, and how long the sound has been quiet (play_lock);
   * the lone wait following their lateness (the playback's streaming thread's); what the
   * owner last told of the loss (its thread's: a wait_state) */
  GstElement *audio_jb;
  gint audio_wait_ms;
  gint wait_state;
  gint lone_wait_ms;
  dc_loss_runs mix_runs;
  dc_delay_spread mix_spread;
  guint64 quiet_ns;
  dc_lone_wait lone_wait;
  int told_state;
};

/* The mix's loss, as its packets show it: the audio waits the profile's longer wait until it
 * is known, what the packets' lateness asks (up to the profile's shorter wait) once it is
 * seen lone or absent, more if they come later since and less again once they have come
 * sooner for a while, the longer for good once in runs. Each change is a short gap or skip in
 * the sound: up by DC_WAIT_RAISE_MS or more at once, down in a pause of the sound or, without
 * one, DC_WAIT_PAUSE_AWAITED_US later (profile.h, dc_lone_wait_follow, dc_lone_wait_judged). */
enum { WAIT_UNSURE, WAIT_LONE, WAIT_RUNS };

/* Simulcast by SSRC (what the bridge reads from webrtcbin, RFC 5576 ssrc-group SIM): the
 * camera's section names each layer's SSRC, lowest first, instead of webrtcbin's one. */
static void name_layers(dc_endpoint_media *m, GstSDPMessage *sdp) {
  if (m->n_layers < 2 || gst_sdp_message_medias_len(sdp) < 2)
    return;
  GstSDPMedia *video = (GstSDPMedia *)gst_sdp_message_get_media(sdp, 1);
  char *cname = NULL;
  for (guint i = gst_sdp_media_attributes_len(video); i-- > 0;) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute(video, i);
    if (!cname && !g_strcmp0(a->key, "ssrc") && a->value && strstr(a->value, " cname:"))
      cname = g_strdup(strstr(a->value, " cname:") + 7);
    if (!g_strcmp0(a->key, "ssrc") || !g_strcmp0(a->key, "ssrc-group"))
      gst_sdp_media_remove_attribute(video, i);
  }
  GString *group = g_string_new("SIM");
  for (int i = 0; i < m->n_layers; i++) {
    char *v = g_strdup_printf("%u cname:%s", m->layer_ssrc[i], cname ? cname : "diemcau-endpoint");
    gst_sdp_media_add_attribute(video, "ssrc", v);
    g_free(v);
    g_string_append_printf(group, " %u", m->layer_ssrc[i]);
  }
  gst_sdp_media_add_attribute(video, "ssrc-group", group->str);
  g_string_free(group, TRUE);
  g_free(cname);
}

/* The payload type an rtpmap of the section gives `encoding` ("red/", "ulpfec/"), -1: none. */
static int section_pt(const GstSDPMedia *media, const char *encoding) {
  const char *val;
  for (guint k = 0; (val = gst_sdp_media_get_attribute_val_n(media, "rtpmap", k)); k++) {
    char *end = NULL;
    guint64 pt = g_ascii_strtoull(val, &end, 10);
    if (end && *end == ' ' && g_str_has_prefix(end + 1, encoding) && pt < 128)
      return (int)pt;
  }
  return -1;
}

static void learn_ssrcs(dc_endpoint_media *m, const GstSDPMessage *sdp) {
  bool camera_seen = false;
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media(sdp, i);
    GstWebRTCKind kind = !g_strcmp0(gst_sdp_media_get_media(media), "audio") ? GST_WEBRTC_KIND_AUDIO : GST_WEBRTC_KIND_VIDEO;
    const char *val;
    int red = kind == GST_WEBRTC_KIND_AUDIO ? section_pt(media, "red/") : -1;
    if (red >= 0)
      m->audio_red_pt = red; /* the PT webrtcbin gives our audio's RED encoder */
    if (kind == GST_WEBRTC_KIND_VIDEO && !camera_seen) {
      /* our camera's section, the first video one: its parity only if the bridge answered it */
      m->video_ulpfec_pt = section_pt(media, "ulpfec/");
      camera_seen = true;
    }
    for (guint k = 0; (val = gst_sdp_media_get_attribute_val_n(media, "ssrc", k)); k++) {
      guint64 ssrc = g_ascii_strtoull(val, NULL, 10);
      if (!ssrc || ssrc > G_MAXUINT32)
        continue;
      g_mutex_lock(&m->ssrc_lock);
      g_hash_table_insert(m->ssrc_kind, GUINT_TO_POINTER((guint)ssrc), GINT_TO_POINTER(kind));
      g_mutex_unlock(&m->ssrc_lock);
    }
  }
}

/* ---- getting back to the owner's thread ---- */

static void clear_media(gpointer data);
static dc_endpoint_media *media_ref(dc_endpoint_media *m) { return g_atomic_rc_box_acquire(m); }
static void media_unref(dc_endpoint_media *m) { g_atomic_rc_box_release_full(m, clear_media); }

static bool has_element(const char *name) {
  GstElementFactory *f = gst_element_factory_find(name);
  if (f)
    gst_object_unref(f);
  return f != NULL;
}

typedef enum { CALL_OFFER, CALL_CANDIDATE, CALL_ICE_STATE, CALL_STATS, CALL_AUDIO_WAIT } call_kind;

typedef struct {
  dc_endpoint_media *m;
  call_kind kind;
  char *text;
  int state;
  GstStructure *stats;
} call;

static void on_stats_reply(dc_endpoint_media *m, const GstStructure *stats);

/* A key-frame request (RTCP PLI or FIR, RFC 4585 6.3.1, RFC 5104 4.3.1) for one simulcast
 * layer, from the RTP session's thread: straight to that layer's encoder. GStreamer 1.22's
 * webrtcbin loses it otherwise: its BUNDLE rtpfunnel does not know the SSRCs our own layer
 * funnel added, and drops the request (fixed upstream in 2024, after Debian 12's 1.22). */
static void on_feedback(GObject *session, guint type, guint fbtype, guint sender_ssrc, guint media_ssrc,
                        GstBuffer *fci, gpointer data) {
  (void)session, (void)sender_ssrc;
  dc_endpoint_media *m = data;
  if (type != GST_RTCP_TYPE_PSFB)
    return;
  guint32 ssrc = media_ssrc;
  if (fbtype == GST_RTCP_PSFB_TYPE_FIR) { /* the SSRC is in each FCI entry; the first will do */
    GstMapInfo map;
    if (!fci || !gst_buffer_map(fci, &map, GST_MAP_READ))
      return;
    ssrc = map.size >= 4 ? GST_READ_UINT32_BE(map.data) : 0;
    gst_buffer_unmap(fci, &map);
  } else if (fbtype != GST_RTCP_PSFB_TYPE_PLI) {
    return;
  }
  for (int i = 0; i < m->n_layers; i++)
    if (m->layer_ssrc[i] == ssrc && m->layer_enc[i])
      gst_element_send_event(m->layer_enc[i], gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
}

/* A video packet lost on a point's uplink is noticed by the bridge only when the next one
 * comes, up to a frame later at a highland camera's 10 fps, and its repair crosses that
 * uplink's queue; a jitter buffer of 100 ms (the audio's, but on the highland profile) gave
 * up on it first, asked for a key frame, and froze the picture until it came. */
#define VIDEO_LATENCY_MS 300

/* rtpbin's streaming thread: a new stream's jitter buffer, by the kind the SDP gave its SSRC
 * (one the SDP did not name keeps webrtcbin's latency, as the audio does). */
static void on_new_jitterbuffer(GstElement *rtpbin, GstElement *jitterbuffer, guint session, guint ssrc, gpointer data) {
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
static void follow_wait_state(dc_endpoint_media *m, bool in_a_pause) {
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

/* Once the RTP session exists (the media is up): key-frame requests for the layers. */
static void route_keyframe_requests(dc_endpoint_media *m) {
  if (m->n_layers < 2 || m->feedback_routed)
    return;
  GstElement *rtpbin = gst_bin_get_by_name(GST_BIN(m->webrtc), "rtpbin");
  GObject *session = NULL;
  if (rtpbin)
    g_signal_emit_by_name(rtpbin, "get-internal-session", 0, &session);
  if (session) {
    g_signal_connect_data(session, "on-feedback-rtcp", G_CALLBACK(on_feedback), media_ref(m),
                          (GClosureNotify)(void (*)(void))media_unref, 0);
    m->feedback_routed = true;
    g_object_unref(session);
  } else {
    g_warning("media: no RTP session to take key-frame requests for the simulcast layers from");
  }
  if (rtpbin)
    gst_object_unref(rtpbin);
}

static void open_gates(dc_endpoint_media *m) {
  route_keyframe_requests(m);
  const char *gates[] = {"agate", "vgate"};
  for (size_t i = 0; i < G_N_ELEMENTS(gates); i++) {
    GstElement *gate = gst_bin_get_by_name(GST_BIN(m->pipe), gates[i]);
    if (gate) {
      g_object_set(gate, "drop", FALSE, NULL);
      gst_object_unref(gate);
    }
  }
}

static gboolean run_call(gpointer data) {
  call *c = data;
  dc_endpoint_media *m = c->m;
  if (m->closing)
    return G_SOURCE_REMOVE;
  switch (c->kind) {
  case CALL_OFFER: {
    GstSDPMessage *sdp = NULL;
    if (gst_sdp_message_new_from_text(c->text, &sdp) == GST_SDP_OK) {
      learn_ssrcs(m, sdp);
      gst_sdp_message_free(sdp);
    }
    m->ev.offer(c->text, m->ev.user);
  }
    break;
  case CALL_CANDIDATE: {
    gchar **f = g_strsplit(c->text, " ", 4); /* candidate:FOUNDATION COMPONENT TRANSPORT ... */
    if (g_strv_length(f) >= 3 && !g_ascii_strcasecmp(f[2], "tcp"))
      m->tcp_candidates++;
    g_strfreev(f);
    m->ev.candidate(c->text, m->ev.user);
    break;
  }
  case CALL_ICE_STATE: {
    bool up = c->state == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED ||
              c->state == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED;
    bool down = c->state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED ||
                c->state == GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED;
    if (up)
      open_gates(m);
    if ((up && !m->connected) || (down && m->connected) ||
        c->state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED) {
      m->connected = up;
      m->ev.connected(up, m->ev.user);
    }
    break;
  }
  case CALL_STATS:
    on_stats_reply(m, c->stats);
    break;
  case CALL_AUDIO_WAIT:
    follow_wait_state(m, c->state);
    break;
  }
  return G_SOURCE_REMOVE;
}

static void free_call(gpointer data) {
  call *c = data;
  g_free(c->text);
  if (c->stats)
    gst_structure_free(c->stats);
  media_unref(c->m);
  g_free(c);
}

static void post(dc_endpoint_media *m, call_kind kind, char *text, int state, GstStructure *stats) {
  call *c = g_new0(call, 1);
  c->m = media_ref(m);
  c->kind = kind;
  c->text = text;
  c->state = state;
  c->stats = stats;
  GSource *s = g_idle_source_new();
  g_source_set_callback(s, run_call, c, free_call);
  g_source_attach(s, m->ctx);
  g_source_unref(s);
}

/* ---- webrtcbin's signals (its threads) ---- */

static void on_offer_created(GstPromise *promise, gpointer data) {
  dc_endpoint_media *m = data;
  const GstStructure *reply = gst_promise_get_reply(promise);
  GstWebRTCSessionDescription *offer = NULL;
  if (reply)
    gst_structure_get(reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, NULL);
  gst_promise_unref(promise);
  if (!offer) {
    GST_ERROR("webrtcbin made no offer");
    return;
  }
  name_layers(m, offer->sdp);
  g_signal_emit_by_name(m->webrtc, "set-local-description", offer, NULL);
  post(m, CALL_OFFER, gst_sdp_message_as_text(offer->sdp), 0, NULL);
  gst_webrtc_session_description_free(offer);
}

static void on_negotiation_needed(GstElement *webrtc, gpointer data) {
  dc_endpoint_media *m = data;
  /* once: the bridge takes one offer per session; the promise keeps m alive */
  if (g_object_get_data(G_OBJECT(webrtc), "dc-offered"))
    return;
  g_object_set_data(G_OBJECT(webrtc), "dc-offered", GINT_TO_POINTER(1));
  GstPromise *p = gst_promise_new_with_change_func(on_offer_created, media_ref(m), (GDestroyNotify)media_unref);
  g_signal_emit_by_name(webrtc, "create-offer", NULL, p);
}

static void on_ice_candidate(GstElement *webrtc, guint mline, gchar *candidate, gpointer data) {
  (void)webrtc, (void)mline; /* bundled: every candidate is the one transport's */
  post(data, CALL_CANDIDATE, g_strdup(candidate), 0, NULL);
}

static void on_ice_state(GObject *webrtc, GParamSpec *pspec, gpointer data) {
  (void)pspec;
  GstWebRTCICEConnectionState state;
  g_object_get(webrtc, "ice-connection-state", &state, NULL);
  post(data, CALL_ICE_STATE, NULL, (int)state, NULL);
}

static GstPadProbeReturn count_frame(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)pad, (void)info;
  g_atomic_int_inc((gint *)data);
  return GST_PAD_PROBE_OK;
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

static GstPadProbeReturn count_played(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
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
    post(m, CALL_AUDIO_WAIT, NULL, in_a_pause, NULL);
  }
  if (lower)
    g_atomic_int_set(&m->lone_wait_ms, dc_profile_lone_wait_ms(p, spread_ms));
  if (lower && g_atomic_int_compare_and_exchange(&m->wait_state, WAIT_UNSURE, WAIT_LONE))
    post(m, CALL_AUDIO_WAIT, NULL, in_a_pause, NULL);
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

static GstPadProbeReturn time_recording(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
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
static GstPadProbeReturn count_lost(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
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
    post(m, CALL_AUDIO_WAIT, NULL, 0, NULL);
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

static void play_red_copies(GstBin *bin, GstBin *sub_bin, GstElement *element, gpointer data) {
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

/* libnice sends a connectivity check (RFC 8445 7.2.5) 3 times, 500 ms after the first and
 * then doubling, and gives it up 3.5 s after the first. A highland link's round trip is
 * 600 ms, up to 1.7 s while the join's signaling fills its queue, and it loses one packet in
 * ten each way or more: the first join failed ICE in about half the lab runs on audio-32k
 * (the check, the nominating check of webrtcbin's regular nomination, or the bridge's own
 * check on the nominated pair went unanswered), and the next, 15-25 s later, got through.
 * DC_ICE_CHECK_SENDS (the bridge's agents have the same) sends each check 5 times, over
 * 7.5 s, and waits 15.5 s in all. webrtcbin 1.22 has no property for it; its ICE object
 * hands out its libnice agent. */
#define DC_ICE_CHECK_SENDS 5

/* And TCP candidates (RFC 6544) only when asked (dc_media_config.ice_tcp): with them, on a
 * lossy link the controlling agent (ours: webrtcbin offers) nominated the TCP pair in about
 * one join of ten, its checks having got through by retransmission where UDP's were lost. */
static void tune_ice(GstElement *webrtc, bool tcp) {
  GObject *ice = NULL, *agent = NULL;
  g_object_get(webrtc, "ice-agent", &ice, NULL);
  if (ice && g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "ice-tcp"))
    g_object_set(ice, "ice-tcp", (gboolean)tcp, NULL);
  if (ice && g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent"))
    g_object_get(ice, "agent", &agent, NULL);
  if (agent && g_object_class_find_property(G_OBJECT_GET_CLASS(agent), "stun-max-retransmissions"))
    g_object_set(agent, "stun-max-retransmissions", (guint)DC_ICE_CHECK_SENDS, NULL);
  else
    GST_WARNING("webrtcbin's ICE agent is not libnice's: connectivity checks keep its own retransmissions");
  g_clear_object(&agent);
  g_clear_object(&ice);
}

static GstElement *bin_from(const char *desc, GError **error) {
  return gst_parse_bin_from_description(desc, TRUE, error);
}

/* A received stream: audio joins the playback mix, video slot k its tile (or a fake sink). */
static void on_pad_added(GstElement *webrtc, GstPad *pad, gpointer data) {
  dc_endpoint_media *m = data;
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
    return;
  GstWebRTCRTPTransceiver *t = NULL;
  g_object_get(pad, "transceiver", &t, NULL);
  if (!t)
    return;
  GstWebRTCKind kind;
  guint mline;
  g_object_get(t, "kind", &kind, "mlineindex", &mline, NULL);
  gst_object_unref(t);
  GError *err = NULL;
  GstElement *bin = NULL, *to = NULL;
  if (kind == GST_WEBRTC_KIND_AUDIO) {
    /* The mix carries in-band FEC only at 18 kbit/s and more (libopus 1.3.1, the highland
     * tier's 60 ms frames): below that, decoding it would only hold each packet a frame. */
    const dc_profile *p = m->cfg.profile;
    bool fec = p->audio_bps >= MIX_FEC_MIN_BPS;
    char *desc = g_strdup_printf("rtpopusdepay name=adepay ! opusdec name=adec plc=true use-inband-fec=%s ! audioconvert ! "
                                 "audioresample ! audio/x-raw,rate=48000,channels=1 ! queue max-size-time=200000000",
                                 fec ? "true" : "false");
    bin = bin_from(desc, &err);
    g_free(desc);
    to = gst_bin_get_by_name(GST_BIN(m->pipe), "playmix");
    GstElement *dec = bin ? gst_bin_get_by_name(GST_BIN(bin), "adec") : NULL,
               *depay = bin ? gst_bin_get_by_name(GST_BIN(bin), "adepay") : NULL;
    if (dec && depay) {
      if (fec)
        dc_media_declare_decoder_hold(dec, p->audio_frame_ms);
      GstPad *out = gst_element_get_static_pad(dec, "src"), *in = gst_element_get_static_pad(depay, "sink");
      gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_BUFFER, count_played, m, NULL);
      gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, count_lost, m, NULL);
      gst_object_unref(out);
      gst_object_unref(in);
    }
    if (dec)
      gst_object_unref(dec);
    if (depay)
      gst_object_unref(depay);
  } else {
    int slot = (int)mline - 1; /* m-line 0 is audio, 1 the main slot, then thumbnails */
    if (slot < 0 || slot >= m->n_slots)
      return;
    char *desc;
    if (m->grid)
      desc = g_strdup_printf("rtpvp8depay request-keyframe=true wait-for-keyframe=true ! vp8dec name=dec ! videoconvert ! videoscale ! "
                             "video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1 ! %s ! queue",
                             m->tile_w[slot], m->tile_h[slot],
                             has_element("textoverlay")
                                 ? "textoverlay name=label valignment=bottom halignment=left font-desc=\"Sans 14\""
                                 : "identity");
    else
      desc = g_strdup("rtpvp8depay request-keyframe=true wait-for-keyframe=true ! vp8dec name=dec ! fakesink sync=false async=false");
    bin = bin_from(desc, &err);
    g_free(desc);
    if (bin) {
      GstElement *dec = gst_bin_get_by_name(GST_BIN(bin), "dec");
      GstPad *src = gst_element_get_static_pad(dec, "src");
      gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, count_frame, &m->frames[slot], NULL);
      gst_object_unref(src);
      gst_object_unref(dec);
      GstElement *label = gst_bin_get_by_name(GST_BIN(bin), "label");
      if (label) {
        g_mutex_lock(&m->label_lock);
        g_object_set(label, "text", m->label_text[slot] ? m->label_text[slot] : "", NULL);
        m->labels[slot] = label; /* owned: unreffed in dc_media_free */
        g_mutex_unlock(&m->label_lock);
      }
    }
    if (m->grid)
      to = gst_object_ref(m->grid);
  }
  if (!bin) {
    GST_ERROR("cannot play a received stream: %s", err ? err->message : "?");
    g_clear_error(&err);
    return;
  }
  gst_bin_add(GST_BIN(m->pipe), bin);
  gst_element_sync_state_with_parent(bin);
  GstPad *sink = gst_element_get_static_pad(bin, "sink");
  GstPadLinkReturn linked = gst_pad_link(pad, sink);
  gst_object_unref(sink);
  if (linked != GST_PAD_LINK_OK)
    GST_ERROR("cannot link the received %s of m-line %u: %s", kind == GST_WEBRTC_KIND_AUDIO ? "audio" : "video",
              mline, gst_pad_link_get_name(linked));
  if (to) {
    GstPad *out = gst_element_get_static_pad(bin, "src");
    GstPad *in = gst_element_request_pad_simple(to, "sink_%u");
    if (kind == GST_WEBRTC_KIND_VIDEO) {
      int slot = (int)mline - 1;
      g_object_set(in, "xpos", m->tile_x[slot], "ypos", m->tile_y[slot], NULL);
    }
    /* the mixer lives inside its chain's bin: reach it through a ghost pad on that bin */
    GstElement *parent = GST_ELEMENT(gst_object_get_parent(GST_OBJECT(to)));
    GstPad *ghost = gst_ghost_pad_new(NULL, in);
    gst_pad_set_active(ghost, TRUE);
    gst_element_add_pad(parent, ghost);
    gst_object_unref(parent);
    GstPadLinkReturn joined = gst_pad_link(out, ghost);
    if (joined != GST_PAD_LINK_OK)
      GST_ERROR("cannot join a received stream to %s: %s", GST_OBJECT_NAME(to), gst_pad_link_get_name(joined));
    gst_object_unref(in);
    gst_object_unref(out);
    gst_object_unref(to);
  }
  /* its sink's latency found again with the stream's (dc_media_playback_desc) */
  GstPad *flowing = gst_element_get_static_pad(bin, "src");
  if (flowing) {
    dc_media_latency_once_flowing(flowing);
    gst_object_unref(flowing);
  }
}

/* ---- the bus and the stats (the owner's thread) ---- */

/* A clerk whose machine has no working microphone saw "autoaudiosrc0-actual-src-opena: Could
 * not open device." What failed, in words, and the option that does without it: for the
 * device element itself (exact) or anything inside it. */
typedef struct {
  const char *name, *what, *help;
} device_words;
static const device_words *failed_device(GstObject *src, bool exact) {
  static const device_words devices[] = {
      {"microphone", "no microphone could be opened",
       "plug one in or check the sound settings, or send a tone or a WAV file: --audio-source test:440 or FILE"},
      {"loudspeaker", "no loudspeaker could be opened",
       "plug one in or check the sound settings, or record the meeting's sound: --audio-sink FILE.wav"},
      {"camera", "no camera could be opened", "plug one in, or join with --audio-only (or --video-source test)"},
      {"screen", "no screen to show the video on", "record it instead: --video-sink FILE"},
  };
  for (GstObject *o = src; o; o = exact ? NULL : GST_OBJECT_PARENT(o))
    for (size_t i = 0; i < G_N_ELEMENTS(devices); i++)
      if (GST_IS_ELEMENT(o) && !strcmp(GST_OBJECT_NAME(o), devices[i].name))
        return &devices[i];
  return NULL;
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data) {
  (void)bus;
  dc_endpoint_media *m = data;
  if (dc_media_latency_changed(m->pipe, msg))
    return G_SOURCE_CONTINUE;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR && !m->closing) {
    GError *err = NULL;
    gst_message_parse_error(msg, &err, NULL);
    const device_words *device = failed_device(GST_MESSAGE_SRC(msg), false);
    char *why = device ? g_strdup_printf("%s (%s): %s", device->what, err->message, device->help)
                       : g_strdup_printf("%s: %s", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), err->message);
    g_error_free(err);
    m->ev.failed(why, m->ev.user);
    g_free(why);
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_WARNING) {
    GError *err = NULL;
    gst_message_parse_warning(msg, &err, NULL);
    /* autoaudiosrc and its kin warn, and put a fake device in its place, when none works (a
     * device inside one that warns and then fails posts an error after) */
    const device_words *device = failed_device(GST_MESSAGE_SRC(msg), true);
    if (device && m->ev.missing) {
      char *words = g_strdup_printf("%s (%s); the meeting goes on without it: %s", device->what, err->message,
                                    device->help);
      m->ev.missing(words, m->ev.user);
      g_free(words);
    } else {
      g_warning("media: %s: %s", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), err->message);
    }
    g_error_free(err);
  }
  return G_SOURCE_CONTINUE;
}

static void on_stats_promise(GstPromise *promise, gpointer data) {
  dc_endpoint_media *m = data;
  const GstStructure *reply = gst_promise_get_reply(promise);
  if (reply)
    post(m, CALL_STATS, NULL, 0, gst_structure_copy(reply));
  gst_promise_unref(promise);
}

static gboolean ask_stats(gpointer data) {
  dc_endpoint_media *m = data;
  GstPromise *p = gst_promise_new_with_change_func(on_stats_promise, media_ref(m), (GDestroyNotify)media_unref);
  g_signal_emit_by_name(m->webrtc, "get-stats", NULL, p);
  return G_SOURCE_CONTINUE;
}

typedef struct {
  guint64 bytes[4];
  double rtt_s, jitter_s[2];
  int remote_loss_permille, remote_audio_loss_permille, remote_video_loss_permille;
  gint64 lost[2]; /* audio, video packets lost on the way to us */
  guint64 video_nacks, video_sent; /* the bridge's resend requests for our camera, its packets */
  bool have_rtt;
} link_stats;

typedef struct {
  link_stats *l;
  GHashTable *ssrc_kind;
} stats_walk;

static bool is_video(GHashTable *ssrc_kind, const GstStructure *s) {
  guint ssrc = 0;
  gst_structure_get_uint(s, "ssrc", &ssrc);
  return GPOINTER_TO_INT(g_hash_table_lookup(ssrc_kind, GUINT_TO_POINTER(ssrc))) != GST_WEBRTC_KIND_AUDIO;
}

static gboolean add_stat(GQuark field, const GValue *value, gpointer data) {
  (void)field;
  stats_walk *w = data;
  link_stats *l = w->l;
  if (!GST_VALUE_HOLDS_STRUCTURE(value))
    return TRUE;
  const GstStructure *s = gst_value_get_structure(value);
  GstWebRTCStatsType type;
  if (!gst_structure_get(s, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type, NULL))
    return TRUE;
  bool video = is_video(w->ssrc_kind, s);
  guint64 bytes = 0;
  if (type == GST_WEBRTC_STATS_OUTBOUND_RTP && gst_structure_get_uint64(s, "bytes-sent", &bytes))
    l->bytes[video ? 1 : 0] += bytes;
  guint nacks = 0;
  guint64 sent = 0;
  if (type == GST_WEBRTC_STATS_OUTBOUND_RTP && video && gst_structure_get_uint(s, "nack-count", &nacks) &&
      gst_structure_get_uint64(s, "packets-sent", &sent))
    l->video_nacks += nacks, l->video_sent += sent;
  if (type == GST_WEBRTC_STATS_INBOUND_RTP) {
    if (gst_structure_get_uint64(s, "bytes-received", &bytes))
      l->bytes[video ? 3 : 2] += bytes;
    /* lost on the way, as RFC 3550 6.4.1 counts it (expected less received): the RTP
     * session's count. webrtcbin 1.22's own packets-lost is the jitter buffer's, and it finds
     * that jitter buffer by SSRC among BUNDLE's streams, often another's or none (0). */
    const GstStructure *source = NULL;
    const GValue *nested = gst_structure_get_value(s, "gst-rtpsource-stats");
    if (nested && GST_VALUE_HOLDS_STRUCTURE(nested))
      source = gst_value_get_structure(nested);
    int lost = 0;
    if (source && gst_structure_get_int(source, "packets-lost", &lost))
      l->lost[video ? 1 : 0] += MAX(lost, 0);
    /* a source that never sent reads -0.0, which MAX would keep and print as "-0.0" */
    double jitter;
    if (gst_structure_get_double(s, "jitter", &jitter) && jitter > 0)
      l->jitter_s[video ? 1 : 0] = MAX(l->jitter_s[video ? 1 : 0], jitter);
  }
  if (type == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP) {
    double rtt, fraction;
    /* A report block answering one of our sender reports (its LSR set) measures the round
     * trip even when that reads 0: GStreamer clamps a round trip it computes at or below 0
     * to 0, as a path of a millisecond or less may give. Without an LSR it is 0 too: no
     * measure at all. */
    guint lsr = 0;
    const GValue *nested = gst_structure_get_value(s, "gst-rtpsource-stats");
    if (nested && GST_VALUE_HOLDS_STRUCTURE(nested))
      gst_structure_get_uint(gst_value_get_structure(nested), "rb-lsr", &lsr);
    if (gst_structure_get_double(s, "round-trip-time", &rtt) && rtt >= 0 && (rtt > 0 || lsr))
      l->rtt_s = MAX(l->rtt_s, rtt), l->have_rtt = true;
    if (gst_structure_get_double(s, "fraction-lost", &fraction)) {
      l->remote_loss_permille = MAX(l->remote_loss_permille, (int)(fraction * 1000));
      int *side = video ? &l->remote_video_loss_permille : &l->remote_audio_loss_permille;
      *side = MAX(*side, (int)(fraction * 1000));
    }
  }
  return TRUE;
}

/* Names come from the bridge: quotes, backslashes and control characters are escaped. */
static void append_json_string(GString *j, const char *text) {
  g_string_append_c(j, '"');
  for (const char *c = text ? text : ""; *c; c++)
    if (*c == '"' || *c == '\\')
      g_string_append_printf(j, "\\%c", *c);
    else if ((unsigned char)*c < 0x20)
      g_string_append_printf(j, "\\u%04x", (unsigned)*c);
    else
      g_string_append_c(j, *c);
  g_string_append_c(j, '"');
}

unsigned dc_media_uplink_red_distance(int audio_loss_permille, gint64 now_us, gint64 *last_loss_us) {
  if (audio_loss_permille >= 10)
    *last_loss_us = now_us;
  return *last_loss_us && now_us - *last_loss_us <= DC_MEDIA_RED_HOLD_US ? 1 : 0;
}

unsigned dc_media_uplink_video_fec_percent(const dc_profile *p, int video_loss_permille, gint64 now_us,
                                           gint64 *last_loss_us) {
  /* the audio copies' policy: on from 1 % loss, held DC_MEDIA_RED_HOLD_US */
  bool lossy = dc_media_uplink_red_distance(video_loss_permille, now_us, last_loss_us) > 0;
  return lossy && p->video_fec_percent > 0 ? (unsigned)MIN(p->video_fec_percent, 100) : 0;
}

int dc_media_video_target_bps(const dc_profile *p, unsigned fec_percent) {
  dc_layer top = dc_profile_layer(p, p->layers - 1);
  return (int)((gint64)top.bps * 100 / (100 + MIN(fec_percent, 100)));
}

/* webrtcbin makes a RED and an FEC encoder for each transceiver when its RTP session asks for
 * them, after the answer; each is told the payload type it writes. Ours is the one of the
 * given factory ("rtpredenc", "rtpulpfecenc") with the payload type our SDP gave it (the
 * others pass their packets through untouched: a RED encoder set to send copies would wrap
 * the camera's packets in RED, the camera's FEC encoder is not the audio's). */
static GstElement *find_encoder(dc_endpoint_media *m, const char *factory, int want_pt) {
  if (want_pt < 0)
    return NULL;
  GstIterator *it = gst_bin_iterate_recurse(GST_BIN(m->webrtc));
  GValue v = G_VALUE_INIT;
  GstElement *found = NULL;
  while (!found && gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object(&v);
    GstElementFactory *f = gst_element_get_factory(e);
    if (f && !g_strcmp0(GST_OBJECT_NAME(f), factory)) {
      guint pt = G_MAXUINT; /* rtpredenc's is an int, rtpulpfecenc's a uint */
      GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "pt");
      if (spec && spec->value_type == G_TYPE_INT) {
        gint ipt = -1;
        g_object_get(e, "pt", &ipt, NULL);
        pt = (guint)ipt;
      } else if (spec && spec->value_type == G_TYPE_UINT) {
        g_object_get(e, "pt", &pt, NULL);
      }
      if (pt == (guint)want_pt)
        found = gst_object_ref(e);
    }
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  return found;
}

/* The camera's parity follows the video loss the bridge reports; the encoder gives up the
 * same share of its rate. */
static void follow_camera_loss(dc_endpoint_media *m, int video_loss_permille, gint64 now) {
  const dc_profile *p = m->cfg.profile;
  unsigned percent = dc_media_uplink_video_fec_percent(p, video_loss_permille, now, &m->video_loss_us);
  if (percent == m->video_fec_percent || m->n_layers > 1)
    return;
  if (!m->video_fec_enc && !(m->video_fec_enc = find_encoder(m, "rtpulpfecenc", m->video_ulpfec_pt)))
    return; /* not answered (or not made yet) */
  GstElement *venc = gst_bin_get_by_name(GST_BIN(m->pipe), "venc0");
  g_object_set(m->video_fec_enc, "percentage", percent, NULL);
  int target = dc_media_video_target_bps(p, percent);
  if (venc) {
    g_object_set(venc, "target-bitrate", target, NULL);
    gst_object_unref(venc);
  }
  m->video_fec_percent = percent;
  if (percent)
    g_message("media: the bridge lost %.1f %% of our video: %u %% of the camera's packets are now parity (RFC 5109), "
              "the picture at %d kbit/s",
              video_loss_permille / 10.0, percent, target / 1000);
  else
    g_message("media: no video lost for %d s: parity off, the picture at %d kbit/s",
              (int)(DC_MEDIA_RED_HOLD_US / G_USEC_PER_SEC), target / 1000);
}

static void follow_uplink_loss(dc_endpoint_media *m, int audio_loss_permille, gint64 now) {
  unsigned distance = dc_media_uplink_red_distance(audio_loss_permille, now, &m->audio_loss_us);
  if (distance == m->red_distance)
    return;
  if (!m->red_enc && !(m->red_enc = find_encoder(m, "rtpredenc", m->audio_red_pt)))
    return; /* not negotiated (yet) */
  g_object_set(m->red_enc, "distance", distance, NULL);
  m->red_distance = distance;
  if (distance)
    g_message("media: the bridge lost %.1f %% of our audio: each packet now carries a copy of the one before",
              audio_loss_permille / 10.0);
  else
    g_message("media: no audio lost for %d s: copies off", (int)(DC_MEDIA_RED_HOLD_US / G_USEC_PER_SEC));
}

static void on_stats_reply(dc_endpoint_media *m, const GstStructure *stats) {
  link_stats l = {0};
  stats_walk w = {&l, m->ssrc_kind};
  gst_structure_foreach(stats, add_stat, &w);
  gint64 now = g_get_monotonic_time();
  follow_uplink_loss(m, l.remote_audio_loss_permille, now);
  /* The bridge's reports count a packet its resend brought back as received, so a camera
   * whose losses are all repaired reports none; each loss cost a round trip all the same
   * (600 ms on a radio link), and asked for it once at least: NACKs a packet sent. */
  guint64 nacks = l.video_nacks - MIN(l.video_nacks, m->last_video_nacks),
          sent = l.video_sent - MIN(l.video_sent, m->last_video_sent);
  m->last_video_nacks = l.video_nacks, m->last_video_sent = l.video_sent;
  int asked_permille = sent ? (int)MIN(nacks * 1000 / sent, 1000) : 0;
  follow_camera_loss(m, MAX(l.remote_video_loss_permille, asked_permille), now);
  if (!m->cfg.stats)
    return;
  double secs = m->last_stats_us ? (double)(now - m->last_stats_us) / G_USEC_PER_SEC : 1.0;
  m->last_stats_us = now;
  GString *j = g_string_new(NULL);
  g_string_append_printf(j, "{\"connected\":%s,\"status\":", m->connected ? "true" : "false");
  append_json_string(j, m->status);
  g_string_append(j, ",\"labels\":[");
  g_mutex_lock(&m->label_lock);
  for (int i = 0; i < m->n_slots; i++) {
    g_string_append(j, i ? "," : "");
    append_json_string(j, m->label_text[i]);
  }
  g_mutex_unlock(&m->label_lock);
  g_string_append(j, "]");
  if (l.have_rtt)
    m->rtt_s = l.rtt_s, m->have_rtt = true;
  if (m->have_rtt)
    g_string_append_printf(j, ",\"rtt_ms\":%.0f", m->rtt_s * 1000);
  else
    g_string_append(j, ",\"rtt_ms\":null");
  g_string_append_printf(j, ",\"ice_tcp_candidates\":%u", m->tcp_candidates);
  g_string_append_printf(j, ",\"loss_up_permille\":%d,\"audio_lost\":%" G_GINT64_FORMAT ",\"video_lost\":%" G_GINT64_FORMAT
                         ",\"jitter_ms\":{\"audio\":%.1f,\"video\":%.1f}",
                         l.remote_loss_permille, l.lost[0], l.lost[1], l.jitter_s[0] * 1000, l.jitter_s[1] * 1000);
  /* the mix as played: all of it, and what the decoder made up for packets that never came
   * (RED's copies and in-band FEC stand in before that: play_red_copies) */
  g_mutex_lock(&m->play_lock);
  guint64 played_ns = m->audio_played_ns, concealed_ns = m->audio_concealed_ns;
  gint64 recording_us = m->recording_origin_us;
  int spread_ms = dc_delay_spread_ms(&m->mix_spread);
  unsigned gaps = m->mix_runs.gaps, gap_packets = m->mix_runs.gap_packets;
  g_mutex_unlock(&m->play_lock);
  g_string_append_printf(j, ",\"audio_played_ms\":%" G_GUINT64_FORMAT ",\"audio_concealed_ms\":%" G_GUINT64_FORMAT,
                         played_ns / GST_MSECOND, concealed_ns / GST_MSECOND);
  /* how the mix's packets are lost, as its wait follows: the gaps counted and the packets in
   * them (halved together now and then), and what the endpoint took that for */
  static const char *const loss_seen[] = {[WAIT_UNSURE] = "unsure", [WAIT_LONE] = "lone", [WAIT_RUNS] = "runs"};
  g_string_append_printf(j, ",\"audio_loss\":{\"seen\":\"%s\",\"gaps\":%u,\"packets\":%u}",
                         loss_seen[g_atomic_int_get(&m->wait_state)], gaps, gap_packets);
  if (recording_us)
    g_string_append_printf(j, ",\"recording_origin_ms\":%" G_GINT64_FORMAT, recording_us / 1000);
  g_string_append_printf(j, ",\"audio_wait_ms\":%d", g_atomic_int_get(&m->audio_wait_ms));
  if (spread_ms >= 0) /* how much later than the earliest its packets come (the shorter wait's) */
    g_string_append_printf(j, ",\"audio_delay_spread_ms\":%d", spread_ms);
  gint64 playback_ns = __atomic_load_n(&m->playback_latency_ns, __ATOMIC_RELAXED);
  if (playback_ns >= 0) /* how long after its time the mix plays: its wait, hold and margin */
    g_string_append_printf(j, ",\"playback_latency_ms\":%" G_GINT64_FORMAT, playback_ns / (gint64)GST_MSECOND);
  const char *names[4] = {"audio_up", "video_up", "audio_down", "video_down"};
  g_string_append(j, ",\"kbps\":{");
  for (int i = 0; i < 4; i++) {
    guint64 d = l.bytes[i] >= m->last_bytes[i] ? l.bytes[i] - m->last_bytes[i] : 0;
    g_string_append_printf(j, "%s\"%s\":%.1f", i ? "," : "", names[i], (double)d * 8 / 1000 / secs);
    m->last_bytes[i] = l.bytes[i];
  }
  g_string_append_printf(j, "},\"bytes\":{\"up\":%" G_GUINT64_FORMAT ",\"down\":%" G_GUINT64_FORMAT "}",
                         l.bytes[0] + l.bytes[1], l.bytes[2] + l.bytes[3]);
  g_string_append(j, ",\"frames\":[");
  for (int i = 0; i < m->n_slots; i++)
    g_string_append_printf(j, "%s%d", i ? "," : "", g_atomic_int_get(&m->frames[i]));
  g_string_append(j, "],\"fps\":[");
  for (int i = 0; i < m->n_slots; i++) {
    long f = g_atomic_int_get(&m->frames[i]);
    g_string_append_printf(j, "%s%.1f", i ? "," : "", (double)(f - m->last_frames[i]) / secs);
    m->last_frames[i] = f;
  }
  g_string_append(j, "]}");
  m->ev.stats(j->str, m->ev.user);
  g_string_free(j, TRUE);
}

/* ---- building ---- */

static char *audio_source_desc(const dc_media_config *c, bool *uses_dsp) {
  const char *src = c->audio_source;
  *uses_dsp = false;
  if (src && g_str_has_prefix(src, "test:"))
    return g_strdup_printf("audiotestsrc is-live=true wave=sine volume=0.3 freq=%g", g_ascii_strtod(src + 5, NULL));
  if (src)
    return g_strdup("filesrc name=afile ! wavparse ! identity sync=true");
  *uses_dsp = true;
  /* webrtcdsp: echo cancellation (against the probe in the playback path), noise
   * suppression, automatic gain control; it wants 10 ms of S16 at a rate it knows */
  return g_strdup("autoaudiosrc name=microphone ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! "
                  "webrtcdsp probe=probe noise-suppression-level=high gain-control=true");
}

static char *video_source_desc(const dc_media_config *c) {
  const char *src = c->video_source;
  if (src && !strcmp(src, "test"))
    return g_strdup("videotestsrc is-live=true pattern=ball");
  if (src)
    return g_strdup("filesrc name=vfile ! decodebin ! videoconvert ! identity sync=true");
  return g_strdup("autovideosrc name=camera");
}

static bool add_linked(dc_endpoint_media *m, const char *desc, const char *file_elem, const char *file,
                       GstElement *to, GError **error) {
  GstElement *bin = bin_from(desc, error);
  if (!bin)
    return false;
  if (file_elem) {
    GstElement *f = gst_bin_get_by_name(GST_BIN(bin), file_elem);
    if (f) {
      g_object_set(f, "location", file, NULL);
      gst_object_unref(f);
    }
  }
  gst_bin_add(GST_BIN(m->pipe), bin);
  if (to && !gst_element_link(bin, to)) {
    g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION, "could not link %s", desc);
    return false;
  }
  return true;
}

char *dc_media_audio_encoder_desc(const dc_profile *p) {
  return g_strdup_printf("opusenc name=aenc bitrate=%d frame-size=%d audio-type=voice inband-fec=%s dtx=%s "
                         "packet-loss-percentage=%d ! rtpopuspay pt=111 ! capsfilter caps=\"" OPUS_CAPS "\"",
                         p->audio_bps, p->audio_frame_ms, p->audio_fec ? "true" : "false", p->audio_dtx ? "true" : "false",
                         p->audio_loss_percent);
}

/* The camera as VP8: real time, constant rate, partitions resilient to a loss, a key frame
 * at least every 3 s so a lost one heals without a request. ssrc 0: the payloader's own. */
static char *layer_encoder_desc(const dc_layer *l, guint32 ssrc, int index) {
  char ssrc_prop[32] = "", name[32] = "";
  if (ssrc)
    g_snprintf(ssrc_prop, sizeof ssrc_prop, " ssrc=%u", ssrc);
  if (index >= 0)
    g_snprintf(name, sizeof name, " name=venc%d", index);
  return g_strdup_printf("videoconvert ! videoscale ! videorate ! "
                         "video/x-raw,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1 ! "
                         "vp8enc%s deadline=1 cpu-used=8 end-usage=cbr target-bitrate=%d "
                         "keyframe-max-dist=%d error-resilient=partitions lag-in-frames=0 threads=2 ! "
                         "rtpvp8pay pt=96 picture-id-mode=15-bit mtu=1200%s ! capsfilter caps=\"" VP8_CAPS "\"",
                         l->width, l->height, l->fps, name, l->bps, l->fps * 3, ssrc_prop);
}


char *dc_media_video_encoder_desc(const dc_profile *p) {
  dc_layer top = dc_profile_layer(p, p->layers - 1);
  return layer_encoder_desc(&top, 0, 0);
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
static void offer_audio_red(dc_endpoint_media *m) {
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

static const char *file_or_null(const char *s) { return s && strcmp(s, "fake") ? s : NULL; }

dc_endpoint_media *dc_media_new(const dc_media_config *cfg, const dc_media_events *events, GError **error) {
  dc_endpoint_media *m = g_atomic_rc_box_new0(dc_endpoint_media);
  m->cfg = *cfg;
  m->cfg.ice_uris = NULL; /* the caller's: used here only */
  m->ev = *events;
  m->ctx = g_main_context_ref_thread_default();
  g_mutex_init(&m->label_lock);
  g_mutex_init(&m->play_lock);
  g_mutex_init(&m->ssrc_lock);
  m->ssrc_kind = g_hash_table_new(NULL, NULL);
  m->audio_wait_ms = cfg->profile->audio_wait_runs_ms;
  m->lone_wait_ms = cfg->profile->audio_wait_ms;
  m->audio_red_pt = -1;
  m->video_ulpfec_pt = -1;
  m->n_slots = cfg->audio_only ? 0 : CLAMP(cfg->slots, 1, MAX_SLOTS);
  const dc_profile *p = cfg->profile;
  m->pipe = gst_pipeline_new("endpoint");
  m->webrtc = gst_element_factory_make("webrtcbin", "webrtc");
  if (!m->webrtc) {
    g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
                "GStreamer's webrtcbin is missing (Debian: gstreamer1.0-plugins-bad, gstreamer1.0-nice)");
    goto fail;
  }
  g_object_set(m->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency", p->audio_wait_runs_ms, NULL);
  tune_ice(m->webrtc, cfg->ice_tcp);
  g_signal_connect(m->webrtc, "deep-element-added", G_CALLBACK(play_red_copies), m);
  GstElement *rtpbin = gst_bin_get_by_name(GST_BIN(m->webrtc), "rtpbin");
  if (rtpbin) {
    g_signal_connect_data(rtpbin, "new-jitterbuffer", G_CALLBACK(on_new_jitterbuffer), media_ref(m),
                          (GClosureNotify)(void (*)(void))media_unref, 0);
    gst_object_unref(rtpbin);
  }
  for (char **u = cfg->ice_uris; u && *u; u++) {
    if (g_str_has_prefix(*u, "stun://")) {
      g_object_set(m->webrtc, "stun-server", *u, NULL);
    } else {
      gboolean added = FALSE;
      g_signal_emit_by_name(m->webrtc, "add-turn-server", *u, &added);
      if (!added)
        GST_WARNING("webrtcbin refused a TURN server the bridge offered");
    }
  }
  gst_bin_add(GST_BIN(m->pipe), m->webrtc);

  /* playback of the mix (dc_media_playback_desc) */
  const char *asink = cfg->audio_sink;
  char *sink_desc = !asink ? g_strdup("autoaudiosink name=loudspeaker")
                    : !strcmp(asink, "fake") ? g_strdup("fakesink sync=true async=false")
                                             : g_strdup("audio/x-raw,format=S16LE ! wavenc name=arec-enc ! filesink name=arec sync=true async=false");
  bool dsp;
  char *asrc = audio_source_desc(cfg, &dsp);
  char *play = dc_media_playback_desc(sink_desc, dsp);
  bool ok = add_linked(m, play, "arec", file_or_null(asink), NULL, error);
  g_free(play);
  g_free(sink_desc);
  GstElement *wav = ok ? gst_bin_get_by_name(GST_BIN(m->pipe), "arec-enc") : NULL;
  if (wav)
    m->recorder = gst_bin_get_by_name(GST_BIN(m->pipe), "arec");
  if (wav && m->recorder) {
    GstPad *in = gst_element_get_static_pad(wav, "sink");
    gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_BUFFER, time_recording, m, NULL);
    gst_object_unref(in);
  }
  if (wav)
    gst_object_unref(wav);
  /* sending: the microphone as Opus */
  char *aenc = dc_media_audio_encoder_desc(p);
  char *send = g_strdup_printf("%s ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! volume name=mute ! "
                               "%s ! " GATE("agate"), asrc, aenc);
  g_free(aenc);
  g_free(asrc);
  ok = ok && add_linked(m, send, "afile", cfg->audio_source, m->webrtc, error);
  g_free(send);
  if (!ok)
    goto fail;
  m->mute = gst_bin_get_by_name(GST_BIN(m->pipe), "mute");
  offer_audio_red(m);

  if (!cfg->audio_only) {
    char *vsrc = video_source_desc(cfg);
    char *vsend;
    if (p->layers > 1) {
      /* SSRC simulcast: one encoder per layer, each its own SSRC, funnelled into the one
       * video section; the offer names them in a=ssrc-group:SIM (on_offer_created) */
      GString *d = g_string_new(NULL);
      g_string_append_printf(d, "rtpfunnel name=layers ! capsfilter caps=\"" VP8_CAPS "\" ! " GATE("vgate") " %s ! tee name=cam", vsrc);
      for (int i = 0; i < p->layers && i < DC_MAX_LAYERS; i++) {
        dc_layer l = dc_profile_layer(p, i);
        do
          m->layer_ssrc[i] = g_random_int();
        while (!m->layer_ssrc[i] || (i && m->layer_ssrc[i] == m->layer_ssrc[i - 1]));
        char *enc = layer_encoder_desc(&l, m->layer_ssrc[i], i);
        g_string_append_printf(d, " cam. ! queue max-size-buffers=2 leaky=downstream ! %s ! layers.", enc);
        g_free(enc);
      }
      m->n_layers = p->layers;
      vsend = g_string_free(d, FALSE);
    } else {
      char *venc = dc_media_video_encoder_desc(p);
      vsend = g_strdup_printf("%s ! %s ! " GATE("vgate"), vsrc, venc);
      g_free(venc);
    }
    g_free(vsrc);
    ok = add_linked(m, vsend, "vfile", cfg->video_source, m->webrtc, error);
    g_free(vsend);
    if (!ok)
      goto fail;
    for (int i = 0; i < m->n_layers; i++) {
      char name[16];
      g_snprintf(name, sizeof name, "venc%d", i);
      m->layer_enc[i] = gst_bin_get_by_name(GST_BIN(m->pipe), name);
    }
    GstPad *vpad = gst_element_get_static_pad(m->webrtc, "sink_1");
    GstWebRTCRTPTransceiver *t = NULL;
    if (vpad)
      g_object_get(vpad, "transceiver", &t, NULL);
    if (t) {
      g_object_set(t, "do-nack", TRUE, NULL);
      /* the camera's parity, offered with its RED and RED's own resends (which the bridge
       * requires before it answers them); it spends nothing until the bridge reports loss */
      if (p->video_fec_percent > 0 && m->n_layers < 2)
        g_object_set(t, "fec-type", GST_WEBRTC_FEC_TYPE_ULP_RED, "fec-percentage", 0, NULL);
      gst_object_unref(t);
    }
    if (vpad)
      gst_object_unref(vpad);
    GstCaps *caps = gst_caps_from_string(VP8_CAPS);
    for (int i = 1; i < m->n_slots; i++) {
      g_signal_emit_by_name(m->webrtc, "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &t);
      g_object_set(t, "do-nack", TRUE, NULL);
      gst_object_unref(t);
    }
    gst_caps_unref(caps);

    /* the grid: a black live base the tiles are drawn over, and the status line */
    const char *vsink = cfg->video_sink;
    if (!vsink || strcmp(vsink, "fake")) {
      int W = p->video_width >= 1280 ? 1280 : 960, H = W * 9 / 16;
      dc_tile tiles[MAX_SLOTS];
      dc_grid_layout(m->n_slots, W, H, tiles);
      for (int i = 0; i < m->n_slots; i++) {
        m->tile_x[i] = tiles[i].x, m->tile_y[i] = tiles[i].y;
        m->tile_w[i] = tiles[i].width & ~1, m->tile_h[i] = tiles[i].height & ~1;
      }
      bool text = has_element("textoverlay");
      char *out = !vsink ? g_strdup("autovideosink name=screen") : g_strdup("vp8enc name=vrec-enc deadline=1 ! matroskamux ! filesink name=vrec");
      /* the grid's size also after the compositor: were it to time out before the base's caps
       * came, it would fix its output at defaults (as the playback's mixer did, above) */
      char *size = g_strdup_printf("video/x-raw,width=%d,height=%d,framerate=15/1", W, H);
      char *grid = g_strdup_printf("videotestsrc is-live=true pattern=black ! %s ! compositor name=grid background=black ! %s ! "
                                   "%s videoconvert ! %s",
                                   size, size, text ? "textoverlay name=status valignment=top halignment=left font-desc=\"Sans 12\" ! " : "",
                                   out);
      g_free(size);
      g_free(out);
      ok = add_linked(m, grid, "vrec", file_or_null(vsink), NULL, error);
      g_free(grid);
      if (!ok)
        goto fail;
      m->grid = gst_bin_get_by_name(GST_BIN(m->pipe), "grid");
      m->status_overlay = gst_bin_get_by_name(GST_BIN(m->pipe), "status");
    }
  }
  g_signal_connect(m->webrtc, "on-negotiation-needed", G_CALLBACK(on_negotiation_needed), m);
  g_signal_connect(m->webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), m);
  g_signal_connect(m->webrtc, "notify::ice-connection-state", G_CALLBACK(on_ice_state), m);
  g_signal_connect(m->webrtc, "pad-added", G_CALLBACK(on_pad_added), m);
  m->playback_latency_ns = -1;
  dc_media_latency_per_sink(m->pipe, &m->playback_latency_ns);
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(m->pipe));
  GSource *watch = gst_bus_create_watch(bus);
  g_source_set_callback(watch, (GSourceFunc)(void (*)(void))on_bus, m, NULL);
  m->bus_watch = g_source_attach(watch, m->ctx);
  g_source_unref(watch);
  gst_object_unref(bus);
  return m;
fail:
  dc_media_free(m);
  return NULL;
}

bool dc_media_start(dc_endpoint_media *m, GError **error) {
  if (gst_element_set_state(m->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
                "the media pipeline would not start (no microphone or camera? try --audio-source test:440)");
    return false;
  }
  { /* the stats line, when asked for, and our audio's redundancy follow webrtcbin's stats */
    GSource *t = g_timeout_source_new_seconds(1);
    g_source_set_callback(t, ask_stats, m, NULL);
    m->stats_timer = g_source_attach(t, m->ctx);
    g_source_unref(t);
  }
  return true;
}

void dc_media_set_audio_rate(dc_endpoint_media *m, unsigned bps) {
  GstElement *enc = m->pipe ? gst_bin_get_by_name(GST_BIN(m->pipe), "aenc") : NULL;
  if (!enc)
    return;
  g_object_set(enc, "bitrate", bps ? (int)bps : m->cfg.profile->audio_bps, NULL);
  gst_object_unref(enc);
}

unsigned dc_media_audio_rate(dc_endpoint_media *m) {
  GstElement *enc = m->pipe ? gst_bin_get_by_name(GST_BIN(m->pipe), "aenc") : NULL;
  int bps = 0;
  if (enc) {
    g_object_get(enc, "bitrate", &bps, NULL);
    gst_object_unref(enc);
  }
  return bps > 0 ? (unsigned)bps : 0;
}

void dc_media_set_answer(dc_endpoint_media *m, const char *sdp) {
  GstSDPMessage *msg = NULL;
  if (gst_sdp_message_new_from_text(sdp, &msg) != GST_SDP_OK) {
    m->ev.failed("the bridge's answer is not SDP", m->ev.user);
    return;
  }
  learn_ssrcs(m, msg);
  GstWebRTCSessionDescription *answer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, msg);
  g_signal_emit_by_name(m->webrtc, "set-remote-description", answer, NULL);
  gst_webrtc_session_description_free(answer);
}

void dc_media_add_candidate(dc_endpoint_media *m, const char *candidate) {
  if (candidate && *candidate)
    g_signal_emit_by_name(m->webrtc, "add-ice-candidate", 0, candidate);
}

void dc_media_set_labels(dc_endpoint_media *m, const char *const *labels, int n) {
  g_mutex_lock(&m->label_lock);
  for (int i = 0; i < m->n_slots && i < n; i++) {
    g_free(m->label_text[i]);
    m->label_text[i] = g_strdup(labels[i] ? labels[i] : "");
    if (m->labels[i])
      g_object_set(m->labels[i], "text", m->label_text[i], NULL);
  }
  g_mutex_unlock(&m->label_lock);
}

void dc_media_set_status(dc_endpoint_media *m, const char *status) {
  if (!g_strcmp0(m->status, status))
    return;
  g_free(m->status);
  m->status = g_strdup(status);
  if (m->status_overlay)
    g_object_set(m->status_overlay, "text", status, NULL);
}

void dc_media_set_muted(dc_endpoint_media *m, bool muted) {
  if (m->mute)
    g_object_set(m->mute, "mute", muted, NULL);
}

long dc_media_frames(dc_endpoint_media *m, int slot) {
  return slot >= 0 && slot < m->n_slots ? g_atomic_int_get(&m->frames[slot]) : -1;
}

static void clear_media(gpointer data) {
  dc_endpoint_media *m = data;
  g_main_context_unref(m->ctx);
  g_free(m->status);
  for (int i = 0; i < MAX_SLOTS; i++)
    g_free(m->label_text[i]);
  g_mutex_clear(&m->label_lock);
  g_mutex_clear(&m->ssrc_lock);
  g_mutex_clear(&m->play_lock);
  g_hash_table_unref(m->ssrc_kind);
}

/* ---- giving TURN relays back ---- */

/* GStreamer 1.22's webrtcbin drops its libnice agent with the TURN refreshes alive (libnice
 * warns), and the TURN server keeps each allocation, with its relay port, for its lifetime
 * (coturn: 10 min): a point on a flapping link that joins again and again would pile them up.
 * Before the pipeline goes, the agent is asked to close them (a Refresh with lifetime 0 each)
 * and we wait for that, at most RELEASE_MS. The agent works on its own thread; its answer
 * comes to a context of our own, so nothing else of ours runs meanwhile. (Keeping the ICE
 * object past the pipeline instead let its thread outlive the process's exit, with OpenSSL's
 * per-thread state, which the sanitizer build reported as leaked.) */
#define RELEASE_MS 1000

static void relays_released(GObject *agent, GAsyncResult *res, gpointer done) {
  (void)agent, (void)res;
  *(bool *)done = true;
}

static void release_relays(GstElement *webrtc) {
  GstObject *ice = NULL;
  g_object_get(webrtc, "ice-agent", &ice, NULL);
  NiceAgent *agent = NULL;
  if (ice && g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent"))
    g_object_get(ice, "agent", &agent, NULL);
  if (agent) {
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    bool done = false;
    nice_agent_close_async(agent, relays_released, &done);
    gint64 end = g_get_monotonic_time() + RELEASE_MS * 1000;
    while (!done && g_get_monotonic_time() < end)
      if (!g_main_context_iteration(ctx, FALSE))
        g_usleep(2000);
    if (!done)
      GST_WARNING("a TURN server did not answer within %d ms; its relay ends by itself", RELEASE_MS);
    g_main_context_pop_thread_default(ctx);
    /* a late answer is dropped with the context: the task holds what it needs */
    g_main_context_unref(ctx);
    g_object_unref(agent);
  }
  if (ice)
    gst_object_unref(ice);
}

void dc_media_free(dc_endpoint_media *m) {
  if (!m)
    return;
  m->closing = true;
  if (m->webrtc)
    release_relays(m->webrtc);
  if (m->stats_timer)
    g_source_destroy(g_main_context_find_source_by_id(m->ctx, m->stats_timer));
  if (m->pipe) {
    /* The recordings get their ends written (WAV sizes, the Matroska index): an EOS into
     * each recording's first element, handled in this thread. Not into the pipeline: that
     * goes to the live sources, whose lock a streaming thread may hold while it waits on a
     * transport that is gone (a bridge that stopped), and never returns. */
    const char *ends[] = {"arec-enc", "vrec-enc"};
    for (size_t i = 0; i < G_N_ELEMENTS(ends); i++) {
      GstElement *enc = gst_bin_get_by_name(GST_BIN(m->pipe), ends[i]);
      GstPad *in = enc ? gst_element_get_static_pad(enc, "sink") : NULL;
      if (in) {
        gst_pad_send_event(in, gst_event_new_eos());
        gst_object_unref(in);
      }
      if (enc)
        gst_object_unref(enc);
    }
    gst_element_set_state(m->pipe, GST_STATE_NULL);
  }
  if (m->bus_watch)
    g_source_destroy(g_main_context_find_source_by_id(m->ctx, m->bus_watch));
  for (int i = 0; i < MAX_SLOTS; i++)
    if (m->labels[i])
      gst_object_unref(m->labels[i]);
  if (m->mute)
    gst_object_unref(m->mute);
  if (m->red_enc)
    gst_object_unref(m->red_enc);
  if (m->video_fec_enc)
    gst_object_unref(m->video_fec_enc);
  for (int i = 0; i < DC_MAX_LAYERS; i++)
    if (m->layer_enc[i])
      gst_object_unref(m->layer_enc[i]);
  if (m->grid)
    gst_object_unref(m->grid);
  if (m->recorder)
    gst_object_unref(m->recorder);
  if (m->audio_jb)
    gst_object_unref(m->audio_jb);
  if (m->status_overlay)
    gst_object_unref(m->status_overlay);
  if (m->pipe)
    gst_object_unref(m->pipe);
  g_atomic_rc_box_release_full(m, clear_media);
}
