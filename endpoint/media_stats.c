/* media_stats.c — the endpoint's stats (see media.h, media_private.h): webrtcbin's, asked
 * for every second on the owner's thread and written as one JSON line of rates, loss, round
 * trip and what the mix played; and what follows from the bridge's reports on our uplink:
 * the microphone's RED distance, the camera's FEC share and the video rate that leaves room
 * for it. */
#include "endpoint/media_private.h"

#include <string.h>

static void on_stats_promise(GstPromise *promise, gpointer data) {
  dc_endpoint_media *m = data;
  const GstStructure *reply = gst_promise_get_reply(promise);
  if (reply)
    media_post(m, CALL_STATS, NULL, 0, gst_structure_copy(reply));
  gst_promise_unref(promise);
}

gboolean media_ask_stats(gpointer data) {
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

void media_on_stats_reply(dc_endpoint_media *m, const GstStructure *stats) {
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
   * (RED's copies and in-band FEC stand in before that: media_play_red_copies) */
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

