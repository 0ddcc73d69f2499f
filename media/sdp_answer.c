/* sdp_answer.c — diemcau's offer/answer policy and the answer text; see sdp.h.
 *
 * The answer follows JSEP's shape (RFC 8829 §5.3): one BUNDLE group of the accepted sections,
 * port 9 and a=rtcp-mux in each, ICE and DTLS attributes repeated per section (harmless, and
 * what browsers write), candidates only in the first accepted section, which is the
 * answerer-tagged one (RFC 8843 §7.3.1). Rejected sections keep their mid with port 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdp.h"

#define URI_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define URI_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define URI_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define URI_RID "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define URI_RRID "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"

#define DEFAULT_AUDIO_FMTP "minptime=10;useinbandfec=1;usedtx=1"

static bool offerer_sends(dc_sdp_dir d) { return d == DC_SDP_SENDRECV || d == DC_SDP_SENDONLY; }
static bool offerer_receives(dc_sdp_dir d) { return d == DC_SDP_SENDRECV || d == DC_SDP_RECVONLY; }

static bool in_bundle(const dc_sdp *sdp, const char *mid) {
  for (guint i = 0; mid && i < sdp->bundle->len; i++)
    if (!strcmp(g_ptr_array_index(sdp->bundle, i), mid))
      return true;
  return false;
}

/* An extension id usable for what the offerer sends us (ours to read). */
static uint8_t ext_id(const dc_sdp_media *m, const char *uri) {
  for (guint i = 0; i < m->extmaps->len; i++) {
    const dc_sdp_extmap *e = &g_array_index(m->extmaps, dc_sdp_extmap, i);
    if (!strcmp(e->uri, uri) && (e->dir == DC_SDP_SENDRECV || e->dir == DC_SDP_SENDONLY))
      return e->id;
  }
  return 0;
}

static const dc_sdp_codec *find_codec(const dc_sdp_media *m, const char *name, uint32_t clock,
                                      uint8_t channels) {
  for (guint i = 0; i < m->codecs->len; i++) {
    const dc_sdp_codec *c = &g_array_index(m->codecs, dc_sdp_codec, i);
    if (!g_ascii_strcasecmp(c->name, name) && c->clock_rate == clock &&
        (!channels || c->channels == channels))
      return c;
  }
  return NULL;
}

/* The RTX payload type whose fmtp says apt=<pt>, or -1. */
static int find_rtx(const dc_sdp_media *m, uint8_t pt) {
  char want[16];
  snprintf(want, sizeof want, "apt=%u", pt);
  for (guint i = 0; i < m->codecs->len; i++) {
    const dc_sdp_codec *c = &g_array_index(m->codecs, dc_sdp_codec, i);
    if (!g_ascii_strcasecmp(c->name, "rtx") && c->fmtp) {
      char **params = g_strsplit(c->fmtp, ";", -1);
      bool match = false;
      for (guint k = 0; params[k] && !match; k++)
        match = !strcmp(g_strstrip(params[k]), want);
      g_strfreev(params);
      if (match)
        return c->pt;
    }
  }
  return -1;
}

/* A RED payload type whose every block is Opus (fmtp "111/111", or none), or -1. Any channel
 * count: Chromium writes red/48000/2, GStreamer's webrtcbin red/48000. */
static int find_red(const dc_sdp_media *m, uint8_t opus_pt) {
  const dc_sdp_codec *red = find_codec(m, "red", 48000, 0);
  if (!red)
    return -1;
  if (!red->fmtp)
    return red->pt;
  char **pts = g_strsplit(red->fmtp, "/", -1);
  bool all_opus = pts[0] != NULL;
  for (guint k = 0; pts[k] && all_opus; k++) {
    char *end;
    unsigned long v = strtoul(g_strstrip(pts[k]), &end, 10);
    all_opus = *end == '\0' && end != pts[k] && v == opus_pt;
  }
  g_strfreev(pts);
  return all_opus ? red->pt : -1;
}

/* transport-cc is not accepted: answering it promises transport-wide feedback, which the
 * bridge does not send yet, and a Chrome that negotiated it stops sending REMB and never
 * raises its own send rate above the start (so only its lowest simulcast layer comes). The
 * seam is kept: DC_FB_TWCC and the extension id come back once the feedback is written. */
static unsigned feedback_of(const dc_sdp_codec *c, bool video) {
  unsigned fb = 0;
  if (video) {
    fb |= dc_sdp_codec_has_fb(c, "nack") ? DC_FB_NACK : 0;
    fb |= dc_sdp_codec_has_fb(c, "nack pli") ? DC_FB_PLI : 0;
    fb |= dc_sdp_codec_has_fb(c, "ccm fir") ? DC_FB_FIR : 0;
    fb |= dc_sdp_codec_has_fb(c, "goog-remb") ? DC_FB_REMB : 0;
  }
  return fb;
}

/* The offerer's SSRCs: primaries in a=ssrc-group:SIM order when there is one, else in
 * order of appearance; RTX partners from a=ssrc-group:FID. */
static void collect_ssrcs(const dc_sdp_media *m, dc_sdp_section *s) {
  const dc_sdp_ssrc_group *sim = NULL;
  for (guint i = 0; i < m->ssrc_groups->len; i++)
    if (!strcmp(g_array_index(m->ssrc_groups, dc_sdp_ssrc_group, i).semantics, "SIM"))
      sim = &g_array_index(m->ssrc_groups, dc_sdp_ssrc_group, i);
  if (sim) {
    for (unsigned i = 0; i < sim->n; i++)
      s->ssrcs[s->n_ssrcs++] = sim->ssrcs[i];
  } else {
    for (guint i = 0; i < m->ssrcs->len && s->n_ssrcs < DC_SDP_MAX_LAYERS; i++) {
      uint32_t ssrc = g_array_index(m->ssrcs, dc_sdp_ssrc, i).ssrc;
      bool secondary = false;
      for (guint g = 0; g < m->ssrc_groups->len; g++) {
        const dc_sdp_ssrc_group *grp = &g_array_index(m->ssrc_groups, dc_sdp_ssrc_group, g);
        if (!strcmp(grp->semantics, "FID") && grp->n == 2 && grp->ssrcs[1] == ssrc)
          secondary = true;
      }
      if (!secondary)
        s->ssrcs[s->n_ssrcs++] = ssrc;
    }
  }
  for (unsigned k = 0; k < s->n_ssrcs; k++)
    for (guint g = 0; g < m->ssrc_groups->len; g++) {
      const dc_sdp_ssrc_group *grp = &g_array_index(m->ssrc_groups, dc_sdp_ssrc_group, g);
      if (!strcmp(grp->semantics, "FID") && grp->n == 2 && grp->ssrcs[0] == s->ssrcs[k])
        s->rtx_ssrcs[k] = grp->ssrcs[1];
    }
}

static void collect_rids(const dc_sdp_media *m, dc_sdp_section *s) {
  for (guint i = 0; i < m->simulcast_send->len; i++) {
    const dc_sdp_simulcast_stream *st = &g_array_index(m->simulcast_send, dc_sdp_simulcast_stream, i);
    for (guint r = 0; r < m->rids->len; r++) {
      const dc_sdp_rid *rid = &g_array_index(m->rids, dc_sdp_rid, r);
      if (rid->send && !strcmp(rid->id, st->rid) && s->n_rids < DC_SDP_MAX_LAYERS)
        s->rids[s->n_rids++] = st;
    }
  }
}

static bool secure_proto(const char *proto) {
  return g_str_has_prefix(proto, "UDP/TLS/RTP/SAVP") || g_str_has_prefix(proto, "TCP/DTLS/RTP/SAVP");
}

static void decide(const dc_sdp *offer, dc_sdp_negotiation *neg, guint i) {
  const dc_sdp_media *m = g_ptr_array_index(offer->media, i);
  dc_sdp_section *s = &g_array_index(neg->sections, dc_sdp_section, i);
  s->offer = m;
  s->kind = m->kind;
  s->offered_dir = m->dir;
  s->pt = s->rtx_pt = s->red_pt = s->video_red_pt = s->ulpfec_pt = s->red_rtx_pt = -1;
  if (m->port == 0 && !m->bundle_only) {
    s->reject_reason = "rejected in the offer (port 0)";
    return;
  }
  if (m->kind == DC_SDP_APPLICATION) {
    s->reject_reason = "data channels are not used";
    return;
  }
  if (m->kind == DC_SDP_OTHER) {
    s->reject_reason = "only audio and video are carried";
    return;
  }
  if (!in_bundle(offer, m->mid)) {
    s->reject_reason = "not in the BUNDLE group";
    return;
  }
  const dc_sdp_codec *c;
  if (m->kind == DC_SDP_AUDIO) {
    if (neg->audio >= 0) {
      s->reject_reason = "only one audio section is used";
      return;
    }
    c = find_codec(m, "opus", 48000, 2);
    if (!c) {
      s->reject_reason = "no Opus (opus/48000/2)";
      return;
    }
    neg->audio = (int)i;
    s->ext.audio_level = ext_id(m, URI_AUDIO_LEVEL);
    s->red_pt = find_red(m, c->pt);
  } else {
    c = find_codec(m, "VP8", 90000, 0);
    if (!c) {
      s->reject_reason = "no VP8 (other video codecs are not supported yet)";
      return;
    }
    s->rtx_pt = find_rtx(m, c->pt);
    const dc_sdp_codec *red = find_codec(m, "red", 90000, 0), *ulpfec = find_codec(m, "ulpfec", 90000, 0);
    if (red && ulpfec) {
      s->video_red_pt = red->pt;
      s->ulpfec_pt = ulpfec->pt;
      s->red_rtx_pt = find_rtx(m, red->pt);
    }
    /* the time a packet left its sender, for the receiver's REMB (video only: nothing of ours
     * reads it on audio, and a highland point's 60 ms packets pay 4 bytes each for it) */
    s->ext.abs_send_time = ext_id(m, URI_ABS_SEND_TIME);
    s->ext.rid = ext_id(m, URI_RID);
    s->ext.repaired_rid = s->rtx_pt >= 0 ? ext_id(m, URI_RRID) : 0;
    if (offerer_sends(m->dir))
      collect_rids(m, s);
  }
  s->pt = c->pt;
  s->clock_rate = c->clock_rate;
  s->feedback = feedback_of(c, m->kind == DC_SDP_VIDEO);
  s->ext.mid = ext_id(m, URI_MID);
  if (offerer_sends(m->dir))
    collect_ssrcs(m, s);
  s->accepted = true;
}

static dc_sdp_negotiation *refuse(dc_sdp_negotiation *neg, GError **error, int code,
                                  const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static dc_sdp_negotiation *refuse(dc_sdp_negotiation *neg, GError **error, int code,
                                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, DC_MEDIA_ERROR, code, "offer refused: %s", msg);
  g_free(msg);
  dc_sdp_negotiation_free(neg);
  return NULL;
}

dc_sdp_negotiation *dc_sdp_negotiate(const dc_sdp *offer, GError **error) {
  dc_sdp_negotiation *neg = g_new0(dc_sdp_negotiation, 1);
  neg->offer = offer;
  neg->audio = -1;
  neg->sections = g_array_sized_new(FALSE, TRUE, sizeof(dc_sdp_section), offer->media->len);
  g_array_set_size(neg->sections, offer->media->len);
  const int unsupported = DC_MEDIA_ERROR_UNSUPPORTED;
  if (offer->media->len == 0)
    return refuse(neg, error, unsupported, "it has no media sections");
  if (!offer->bundle || offer->bundle->len == 0)
    return refuse(neg, error, unsupported,
                  "it does not use BUNDLE (a=group:BUNDLE); diemcau carries all media on one transport");
  const dc_sdp_media *tag = NULL; /* the offerer-tagged section: first mid of the group */
  for (guint i = 0; i < offer->media->len && !tag; i++) {
    const dc_sdp_media *m = g_ptr_array_index(offer->media, i);
    if (m->mid && !strcmp(m->mid, g_ptr_array_index(offer->bundle, 0)))
      tag = m;
  }
  neg->ice_ufrag = dc_sdp_media_ice_ufrag(offer, tag);
  neg->ice_pwd = dc_sdp_media_ice_pwd(offer, tag);
  neg->fingerprint = dc_sdp_media_fingerprint(offer, tag);
  if (!neg->fingerprint)
    return refuse(neg, error, unsupported,
                  "it has no DTLS fingerprint (a=fingerprint); media must be DTLS-SRTP");
  if (!neg->ice_ufrag || !neg->ice_pwd)
    return refuse(neg, error, unsupported, "it has no ICE credentials (a=ice-ufrag, a=ice-pwd)");
  dc_sdp_setup setup = dc_sdp_media_setup(offer, tag);
  if (setup == DC_SDP_SETUP_HOLDCONN)
    return refuse(neg, error, unsupported, "it holds the DTLS connection (a=setup:holdconn)");
  neg->dtls_server = setup != DC_SDP_SETUP_PASSIVE; /* actpass, active or absent: we listen */

  for (guint i = 0; i < offer->media->len; i++) {
    const dc_sdp_media *m = g_ptr_array_index(offer->media, i);
    bool media = m->kind == DC_SDP_AUDIO || m->kind == DC_SDP_VIDEO;
    if (media && (m->port != 0 || m->bundle_only) && !secure_proto(m->proto))
      return refuse(neg, error, unsupported,
                    "section %u (%s) uses %s; diemcau never carries unencrypted or non-DTLS RTP",
                    i, m->media, m->proto);
    if (media && in_bundle(offer, m->mid) && !m->rtcp_mux)
      return refuse(neg, error, unsupported, "section %u (%s) does not multiplex RTCP (a=rtcp-mux)",
                    i, m->media);
    decide(offer, neg, i);
  }
  if (neg->audio < 0)
    return refuse(neg, error, unsupported, "it has no Opus audio (opus/48000/2)");
  return neg;
}

void dc_sdp_negotiation_free(dc_sdp_negotiation *neg) {
  if (!neg)
    return;
  g_array_unref(neg->sections);
  g_free(neg);
}

/* ---- writing ---- */

static void write_extmap(GString *out, const dc_sdp_media *m, uint8_t id) {
  if (!id)
    return;
  for (guint i = 0; i < m->extmaps->len; i++) {
    const dc_sdp_extmap *e = &g_array_index(m->extmaps, dc_sdp_extmap, i);
    if (e->id != id)
      continue;
    /* what the offerer only sends, we only receive */
    const char *dir = e->dir == DC_SDP_SENDONLY ? "/recvonly" : "";
    g_string_append_printf(out, "a=extmap:%u%s %s\r\n", id, dir, e->uri);
  }
}

static void write_codec(GString *out, const dc_sdp_codec *c) {
  g_string_append_printf(out, "a=rtpmap:%u %s/%u", c->pt, c->name, c->clock_rate);
  if (c->channels)
    g_string_append_printf(out, "/%u", c->channels);
  g_string_append(out, "\r\n");
}

bool dc_sdp_section_takes_fec(const dc_sdp_section *s) {
  return s->accepted && s->kind == DC_SDP_VIDEO && offerer_sends(s->offered_dir) && s->video_red_pt >= 0 &&
         s->ulpfec_pt >= 0 && (s->rtx_pt < 0 || s->red_rtx_pt >= 0);
}

static void write_section(GString *out, const dc_sdp_negotiation *neg, guint i,
                          const dc_sdp_answer_params *p, bool first) {
  const dc_sdp_section *s = &g_array_index(neg->sections, dc_sdp_section, i);
  const dc_sdp_media *m = s->offer;
  if (!s->accepted) {
    const char *fmt = m->fmts->len ? g_ptr_array_index(m->fmts, 0) : "0";
    g_string_append_printf(out, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->media, m->proto, fmt);
    if (m->mid)
      g_string_append_printf(out, "a=mid:%s\r\n", m->mid);
    g_string_append(out, "a=inactive\r\n");
    return;
  }
  const dc_sdp_send *send = p->send ? &p->send[i] : NULL;
  bool we_send = send && send->ssrc && offerer_receives(s->offered_dir);
  bool we_recv = offerer_sends(s->offered_dir);
  dc_sdp_dir dir = we_send && we_recv ? DC_SDP_SENDRECV
                   : we_send          ? DC_SDP_SENDONLY
                   : we_recv          ? DC_SDP_RECVONLY
                                      : DC_SDP_INACTIVE;
  bool red = s->red_pt >= 0 && p->audio_red;
  if (red && p->audio_red_first)
    g_string_append_printf(out, "m=%s 9 %s %d %d", m->media, m->proto, s->red_pt, s->pt);
  else if (red)
    g_string_append_printf(out, "m=%s 9 %s %d %d", m->media, m->proto, s->pt, s->red_pt);
  else
    g_string_append_printf(out, "m=%s 9 %s %d", m->media, m->proto, s->pt);
  if (s->rtx_pt >= 0)
    g_string_append_printf(out, " %d", s->rtx_pt);
  bool fec = send && send->take_fec && dc_sdp_section_takes_fec(s);
  if (fec) {
    g_string_append_printf(out, " %d %d", s->video_red_pt, s->ulpfec_pt);
    if (s->rtx_pt >= 0)
      g_string_append_printf(out, " %d", s->red_rtx_pt);
  }
  g_string_append(out, "\r\nc=IN IP4 0.0.0.0\r\n");
  /* RFC 4566 §5.8: what we would receive here; WebRTC senders take it as their cap */
  if (s->kind == DC_SDP_VIDEO && p->video_max_kbps && we_recv)
    g_string_append_printf(out, "b=AS:%u\r\n", p->video_max_kbps);
  g_string_append_printf(out, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", p->ice_ufrag, p->ice_pwd);
  g_string_append(out, "a=ice-options:trickle\r\n");
  g_string_append_printf(out, "a=fingerprint:%s\r\n", p->fingerprint);
  g_string_append_printf(out, "a=setup:%s\r\n", neg->dtls_server ? "passive" : "active");
  g_string_append_printf(out, "a=mid:%s\r\n", m->mid);
  write_extmap(out, m, s->ext.mid);
  write_extmap(out, m, s->ext.audio_level);
  write_extmap(out, m, s->ext.abs_send_time);
  write_extmap(out, m, s->ext.twcc);
  write_extmap(out, m, s->ext.rid);
  write_extmap(out, m, s->ext.repaired_rid);
  g_string_append_printf(out, "a=%s\r\n", dc_sdp_dir_str(dir));
  if (we_send)
    g_string_append_printf(out, "a=msid:diemcau %s-%u\r\n", m->mid, send->ssrc);
  g_string_append(out, "a=rtcp-mux\r\n");
  if (m->rtcp_rsize)
    g_string_append(out, "a=rtcp-rsize\r\n");
  const dc_sdp_codec *c = dc_sdp_media_codec(m, (uint8_t)s->pt);
  write_codec(out, c);
  static const struct {
    unsigned flag;
    const char *text;
  } fbs[] = {{DC_FB_TWCC, "transport-cc"}, {DC_FB_REMB, "goog-remb"}, {DC_FB_NACK, "nack"},
             {DC_FB_PLI, "nack pli"},      {DC_FB_FIR, "ccm fir"}};
  for (size_t k = 0; k < G_N_ELEMENTS(fbs); k++)
    if (s->feedback & fbs[k].flag)
      g_string_append_printf(out, "a=rtcp-fb:%d %s\r\n", s->pt, fbs[k].text);
  if (s->kind == DC_SDP_AUDIO) {
    g_string_append_printf(out, "a=fmtp:%d %s\r\n", s->pt,
                           p->audio_fmtp ? p->audio_fmtp : DEFAULT_AUDIO_FMTP);
    if (p->audio_ptime)
      g_string_append_printf(out, "a=ptime:%u\r\n", p->audio_ptime);
    if (red) {
      write_codec(out, dc_sdp_media_codec(m, (uint8_t)s->red_pt));
      g_string_append_printf(out, "a=fmtp:%d %d/%d\r\n", s->red_pt, s->pt, s->pt);
    }
  }
  if (s->rtx_pt >= 0) {
    write_codec(out, dc_sdp_media_codec(m, (uint8_t)s->rtx_pt));
    g_string_append_printf(out, "a=fmtp:%d apt=%d\r\n", s->rtx_pt, s->pt);
  }
  if (fec) {
    write_codec(out, dc_sdp_media_codec(m, (uint8_t)s->video_red_pt));
    write_codec(out, dc_sdp_media_codec(m, (uint8_t)s->ulpfec_pt));
    if (s->rtx_pt >= 0) {
      write_codec(out, dc_sdp_media_codec(m, (uint8_t)s->red_rtx_pt));
      g_string_append_printf(out, "a=fmtp:%d apt=%d\r\n", s->red_rtx_pt, s->video_red_pt);
    }
  }
  for (unsigned k = 0; k < s->n_rids; k++)
    g_string_append_printf(out, "a=rid:%s recv\r\n", s->rids[k]->rid);
  if (s->n_rids) {
    g_string_append(out, "a=simulcast:recv ");
    for (unsigned k = 0; k < s->n_rids; k++)
      g_string_append_printf(out, "%s%s%s", k ? ";" : "", s->rids[k]->paused ? "~" : "",
                             s->rids[k]->rid);
    g_string_append(out, "\r\n");
  }
  if (we_send) {
    bool rtx = send->rtx_ssrc && s->rtx_pt >= 0;
    if (rtx)
      g_string_append_printf(out, "a=ssrc-group:FID %u %u\r\n", send->ssrc, send->rtx_ssrc);
    uint32_t ssrcs[2] = {send->ssrc, send->rtx_ssrc};
    for (int k = 0; k < (rtx ? 2 : 1); k++) {
      g_string_append_printf(out, "a=ssrc:%u cname:%s\r\n", ssrcs[k], p->cname);
      g_string_append_printf(out, "a=ssrc:%u msid:diemcau %s-%u\r\n", ssrcs[k], m->mid, send->ssrc);
    }
  }
  if (first) {
    for (const char *const *cand = p->candidates; cand && *cand; cand++)
      g_string_append_printf(out, "a=candidate:%s\r\n", *cand);
    if (p->end_of_candidates)
      g_string_append(out, "a=end-of-candidates\r\n");
  }
}

char *dc_sdp_write_answer(const dc_sdp_negotiation *neg, const dc_sdp_answer_params *p) {
  GString *out = g_string_sized_new(2048);
  g_string_append_printf(out, "v=0\r\no=- %" G_GUINT64_FORMAT " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
                         p->session_id);
  g_string_append(out, "a=group:BUNDLE");
  for (guint i = 0; i < neg->sections->len; i++) {
    const dc_sdp_section *s = &g_array_index(neg->sections, dc_sdp_section, i);
    if (s->accepted)
      g_string_append_printf(out, " %s", s->offer->mid);
  }
  g_string_append(out, "\r\n");
  if (neg->offer->extmap_allow_mixed)
    g_string_append(out, "a=extmap-allow-mixed\r\n");
  g_string_append(out, "a=msid-semantic: WMS diemcau\r\n");
  bool first = true;
  for (guint i = 0; i < neg->sections->len; i++) {
    bool accepted = g_array_index(neg->sections, dc_sdp_section, i).accepted;
    write_section(out, neg, i, p, first && accepted);
    first = first && !accepted;
  }
  return g_string_free(out, FALSE);
}
