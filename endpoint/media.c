/* media.c — the endpoint's GStreamer pipeline around webrtcbin (see media.h): building it,
 * webrtcbin's signals brought back to the owner's thread, the bus, and the calls media.h
 * offers. The received streams are media_receive.c's, the mix's playback media_audio.c's, the
 * stats and what follows from them media_stats.c's; see media_private.h. */
#include "endpoint/media_private.h"

#include <gst/rtp/gstrtcpbuffer.h>
#include <gst/video/video.h>
#include <string.h>


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
dc_endpoint_media *media_ref(dc_endpoint_media *m) { return g_atomic_rc_box_acquire(m); }
void media_unref(dc_endpoint_media *m) { g_atomic_rc_box_release_full(m, clear_media); }

bool media_has_element(const char *name) {
  GstElementFactory *f = gst_element_factory_find(name);
  if (f)
    gst_object_unref(f);
  return f != NULL;
}

typedef struct {
  dc_endpoint_media *m;
  call_kind kind;
  char *text;
  int state;
  GstStructure *stats;
} call;

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
    media_on_stats_reply(m, c->stats);
    break;
  case CALL_AUDIO_WAIT:
    media_follow_wait_state(m, c->state);
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

void media_post(dc_endpoint_media *m, call_kind kind, char *text, int state, GstStructure *stats) {
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
  media_post(m, CALL_OFFER, gst_sdp_message_as_text(offer->sdp), 0, NULL);
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
  media_post(data, CALL_CANDIDATE, g_strdup(candidate), 0, NULL);
}

static void on_ice_state(GObject *webrtc, GParamSpec *pspec, gpointer data) {
  (void)pspec;
  GstWebRTCICEConnectionState state;
  g_object_get(webrtc, "ice-connection-state", &state, NULL);
  media_post(data, CALL_ICE_STATE, NULL, (int)state, NULL);
}

static GstElement *bin_from(const char *desc, GError **error) {
  return gst_parse_bin_from_description(desc, TRUE, error);
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

static const char *file_or_null(const char *s) { return s && strcmp(s, "fake") ? s : NULL; }

/* autovideosink tries DirectFB's sink after X, Wayland and KMS. On a box with none of them (an
 * unattended endpoint started before any desktop, a VM) DirectFB fails to open and then holds
 * the pipeline for good (and crashed as the endpoint was stopped): the endpoint said it joined
 * and nothing more, with no media. Ranked out, autovideosink finds no sink, warns, and the
 * endpoint says "no screen" and goes on. */
static gpointer rank_out_directfb(gpointer unused) {
  (void)unused;
  GstElementFactory *f = gst_element_factory_find("dfbvideosink");
  if (f) {
    gst_plugin_feature_set_rank(GST_PLUGIN_FEATURE(f), GST_RANK_NONE);
    gst_object_unref(f);
  }
  return NULL;
}

dc_endpoint_media *dc_media_new(const dc_media_config *cfg, const dc_media_events *events, GError **error) {
  static GOnce directfb_once = G_ONCE_INIT;
  g_once(&directfb_once, rank_out_directfb, NULL);
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
  media_tune_ice(m->webrtc, cfg->ice_tcp);
  g_signal_connect(m->webrtc, "deep-element-added", G_CALLBACK(media_play_red_copies), m);
  GstElement *rtpbin = gst_bin_get_by_name(GST_BIN(m->webrtc), "rtpbin");
  if (rtpbin) {
    g_signal_connect_data(rtpbin, "new-jitterbuffer", G_CALLBACK(media_on_new_jitterbuffer), media_ref(m),
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
    gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_BUFFER, media_time_recording, m, NULL);
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
  if (p->audio_dtx) {
    GstElement *enc = gst_bin_get_by_name(GST_BIN(m->pipe), "aenc");
    dc_media_quiet_until_sound(enc);
    gst_object_unref(enc);
  }
  media_offer_audio_red(m);

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
      bool text = media_has_element("textoverlay");
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
  g_signal_connect(m->webrtc, "pad-added", G_CALLBACK(media_on_pad_added), m);
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
    g_source_set_callback(t, media_ask_stats, m, NULL);
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

void dc_media_free(dc_endpoint_media *m) {
  if (!m)
    return;
  m->closing = true;
  if (m->webrtc)
    media_release_relays(m->webrtc);
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
