/* Unit tests for media/sdp: the real offers in fixtures/sdp/ parse, negotiate and get
 * answers that our own parser reads back with the expected meaning; offers we cannot serve
 * are refused with a message naming what is missing; malformed text is refused by line. */
#include <glib.h>
#include <string.h>

#include "media/sdp.h"

static char *load(const char *name, gsize *len) {
  char *path = g_test_build_filename(G_TEST_DIST, "fixtures", "sdp", name, NULL);
  char *text;
  GError *err = NULL;
  g_file_get_contents(path, &text, len, &err);
  g_assert_no_error(err);
  g_free(path);
  return text;
}

static dc_sdp *parse_fixture(const char *name) {
  gsize len;
  char *text = load(name, &len);
  GError *err = NULL;
  dc_sdp *sdp = dc_sdp_parse(text, len, &err);
  g_assert_no_error(err);
  g_free(text);
  return sdp;
}

static const dc_sdp_media *section(const dc_sdp *sdp, guint i) {
  g_assert_cmpuint(i, <, sdp->media->len);
  return g_ptr_array_index(sdp->media, i);
}

static const char *our_candidates[] = {"1 1 udp 2130706431 127.0.0.1 40000 typ host", NULL};
static const dc_sdp_send sends[8] = {{1111, 0, false}, {2222, 2223, false}, {3333, 3334, false}, {4444, 4445, false}};

static dc_sdp_answer_params answer_params(void) {
  return (dc_sdp_answer_params){
      .ice_ufrag = "bRdg",
      .ice_pwd = "0123456789abcdefghijkl",
      .fingerprint = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
      .cname = "diemcau-bridge",
      .session_id = 42,
      .candidates = our_candidates,
      .end_of_candidates = true,
      .send = sends};
}

/* Negotiates, writes the answer, and parses the answer back. */
static dc_sdp *answer_for(const dc_sdp *offer, dc_sdp_negotiation **neg_out) {
  GError *err = NULL;
  dc_sdp_negotiation *neg = dc_sdp_negotiate(offer, &err);
  g_assert_no_error(err);
  dc_sdp_answer_params p = answer_params();
  char *text = dc_sdp_write_answer(neg, &p);
  if (g_test_verbose())
    g_printerr("%s", text);
  dc_sdp *ans = dc_sdp_parse(text, strlen(text), &err);
  g_assert_no_error(err);
  g_free(text);
  *neg_out = neg;
  return ans;
}

static void check_answer_common(const dc_sdp *offer, const dc_sdp *ans) {
  g_assert_cmpuint(ans->media->len, ==, offer->media->len);
  g_assert_nonnull(ans->bundle);
  for (guint i = 0; i < ans->media->len; i++) {
    const dc_sdp_media *a = section(ans, i), *o = section(offer, i);
    g_assert_cmpstr(a->mid, ==, o->mid);
    if (a->port == 0)
      continue;
    g_assert_cmpint(dc_sdp_media_setup(ans, a), ==, DC_SDP_SETUP_PASSIVE);
    g_assert_true(a->rtcp_mux);
    g_assert_cmpstr(dc_sdp_media_ice_ufrag(ans, a), ==, "bRdg");
    g_assert_true(g_str_has_prefix(dc_sdp_media_fingerprint(ans, a), "sha-256 00:11"));
  }
  /* our candidate travels in the first accepted section only */
  g_assert_cmpuint(section(ans, 0)->candidates->len, ==, 1);
  g_assert_true(section(ans, 0)->end_of_candidates);
  g_assert_cmpuint(g_array_index(section(ans, 0)->candidates, dc_sdp_candidate, 0).port, ==, 40000);
}

static void test_chromium(void) {
  dc_sdp *o = parse_fixture("chromium-156-simulcast.sdp");
  g_assert_cmpuint(o->media->len, ==, 4);
  g_assert_cmpuint(o->bundle->len, ==, 4);
  const dc_sdp_media *audio = section(o, 0), *cam = section(o, 1), *thumb = section(o, 2);
  g_assert_cmpint(audio->kind, ==, DC_SDP_AUDIO);
  g_assert_cmpstr(audio->mid, ==, "0");
  g_assert_cmpuint(audio->candidates->len, >, 0);
  g_assert_cmpstr(g_array_index(audio->candidates, dc_sdp_candidate, 0).address, ==, "127.0.0.1");
  g_assert_cmpuint(dc_sdp_media_extmap_id(audio, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"), ==, 1);
  g_assert_nonnull(dc_sdp_media_fingerprint(o, audio));
  g_assert_cmpint(dc_sdp_media_setup(o, audio), ==, DC_SDP_SETUP_ACTPASS);
  g_assert_cmpuint(cam->simulcast_send->len, ==, 3);
  g_assert_cmpuint(cam->rids->len, ==, 3);
  g_assert_cmpint(thumb->dir, ==, DC_SDP_RECVONLY);
  const dc_sdp_codec *vp8 = dc_sdp_media_codec(cam, 96);
  g_assert_nonnull(vp8);
  g_assert_cmpstr(vp8->name, ==, "VP8");
  g_assert_true(dc_sdp_codec_has_fb(vp8, "nack pli"));

  dc_sdp_negotiation *neg;
  dc_sdp *a = answer_for(o, &neg);
  g_assert_true(neg->dtls_server);
  g_assert_cmpint(neg->audio, ==, 0);
  const dc_sdp_section *s0 = &g_array_index(neg->sections, dc_sdp_section, 0);
  const dc_sdp_section *s1 = &g_array_index(neg->sections, dc_sdp_section, 1);
  g_assert_cmpint(s0->pt, ==, 111);
  g_assert_cmpuint(s0->ext.audio_level, ==, 1);
  g_assert_cmpuint(s0->ext.mid, ==, 4);
  /* abs-send-time only where REMB reads it: on video (4 bytes a packet less on audio) */
  g_assert_cmpuint(dc_sdp_media_extmap_id(audio, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"), !=, 0);
  g_assert_cmpuint(s0->ext.abs_send_time, ==, 0);
  g_assert_cmpuint(s1->ext.abs_send_time, !=, 0);
  g_assert_cmpint(s1->pt, ==, 96);
  g_assert_cmpint(s1->rtx_pt, ==, 97);
  g_assert_cmpuint(s1->ext.rid, ==, 10);
  g_assert_cmpuint(s1->ext.repaired_rid, ==, 11);
  g_assert_cmpuint(s1->n_rids, ==, 3);
  g_assert_cmpstr(s1->rids[0]->rid, ==, "q");
  g_assert_true(s1->feedback & DC_FB_NACK && s1->feedback & DC_FB_PLI && s1->feedback & DC_FB_REMB);
  /* offered, but not accepted until the bridge sends transport-wide feedback */
  g_assert_false(s1->feedback & DC_FB_TWCC);
  g_assert_cmpuint(s1->ext.twcc, ==, 0);

  check_answer_common(o, a);
  g_assert_cmpuint(dc_sdp_media_extmap_id(section(a, 0), "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"), ==, 0);
  g_assert_cmpuint(dc_sdp_media_extmap_id(section(a, 1), "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"), !=, 0);
  g_assert_cmpint(section(a, 0)->dir, ==, DC_SDP_SENDRECV);
  g_assert_cmpint(section(a, 1)->dir, ==, DC_SDP_SENDRECV);
  g_assert_cmpint(section(a, 2)->dir, ==, DC_SDP_SENDONLY); /* thumbnail slots: we send */
  g_assert_cmpint(section(a, 3)->dir, ==, DC_SDP_SENDONLY);
  g_assert_cmpuint(section(a, 0)->codecs->len, ==, 1);  /* Opus only */
  g_assert_cmpuint(section(a, 1)->codecs->len, ==, 2);  /* VP8 + its RTX */
  g_assert_cmpuint(section(a, 1)->simulcast_recv->len, ==, 3);
  g_assert_cmpuint(section(a, 1)->rids->len, ==, 3);
  g_assert_false(g_array_index(section(a, 1)->rids, dc_sdp_rid, 0).send);
  g_assert_cmpuint(section(a, 2)->ssrc_groups->len, ==, 1); /* FID for our RTX */
  g_assert_cmpuint(g_array_index(section(a, 2)->ssrcs, dc_sdp_ssrc, 0).ssrc, ==, 3333);
  g_assert_cmpstr(dc_sdp_media_codec(section(a, 0), 111)->fmtp, ==, "minptime=10;useinbandfec=1;usedtx=1");
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(a);
  dc_sdp_free(o);
}

/* RED (RFC 2198) of Opus, as Chromium offers it: negotiated, answered only when the bridge
 * asks, first in the m-line when the offerer should send it too; a highland answer asks for
 * its Opus rate and 60 ms packets; as webrtcbin offers it (red/48000, ULPFEC beside it) too;
 * a RED whose blocks are not Opus is not taken. */
static void test_audio_red_and_ptime(void) {
  dc_sdp *o = parse_fixture("chromium-156-simulcast.sdp");
  GError *err = NULL;
  dc_sdp_negotiation *neg = dc_sdp_negotiate(o, &err);
  g_assert_no_error(err);
  const dc_sdp_section *s0 = &g_array_index(neg->sections, dc_sdp_section, 0);
  g_assert_cmpint(s0->red_pt, ==, 63);
  dc_sdp_answer_params p = answer_params();
  p.audio_red = true;
  p.audio_red_first = true;
  p.audio_ptime = 60;
  p.audio_fmtp = "minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=14000";
  char *text = dc_sdp_write_answer(neg, &p);
  g_assert_nonnull(strstr(text, "m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n"));
  g_assert_nonnull(strstr(text, "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n"));
  g_assert_nonnull(strstr(text, "a=ptime:60\r\n"));
  g_assert_null(strstr(text, "b=AS:")); /* no cap asked: none written */
  dc_sdp *a = dc_sdp_parse(text, strlen(text), &err);
  g_assert_no_error(err);
  g_assert_cmpuint(section(a, 0)->codecs->len, ==, 2);
  g_assert_cmpstr(dc_sdp_media_codec(section(a, 0), 111)->fmtp, ==, "minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=14000");
  g_free(text);
  dc_sdp_free(a);
  p.audio_red_first = false; /* we send RED; the offerer keeps sending plain Opus */
  text = dc_sdp_write_answer(neg, &p);
  g_assert_nonnull(strstr(text, "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n"));
  g_free(text);
  p.audio_red = false;
  text = dc_sdp_write_answer(neg, &p);
  g_assert_nonnull(strstr(text, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
  g_assert_null(strstr(text, "red/48000"));
  g_free(text);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(o);

  /* RED as GStreamer's webrtcbin offers it: no channel count, no fmtp, an ULPFEC beside it
   * (never answered) */
  gsize orig_len;
  char *orig = load("chromium-156-simulcast.sdp", &orig_len);
  GString *gst = g_string_new(orig);
  g_assert_cmpuint(g_string_replace(gst, "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n",
                                    "a=rtpmap:63 red/48000\r\na=rtpmap:97 ulpfec/48000\r\n", 1), ==, 1);
  g_assert_cmpuint(g_string_replace(gst, "SAVPF 111 63 9 0", "SAVPF 111 63 97 9 0", 1), ==, 1);
  o = dc_sdp_parse(gst->str, gst->len, &err);
  g_assert_no_error(err);
  neg = dc_sdp_negotiate(o, &err);
  g_assert_no_error(err);
  g_assert_cmpint(g_array_index(neg->sections, dc_sdp_section, 0).red_pt, ==, 63);
  p.audio_red = true;
  text = dc_sdp_write_answer(neg, &p);
  g_assert_nonnull(strstr(text, "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n"));
  g_assert_nonnull(strstr(text, "a=rtpmap:63 red/48000\r\na=fmtp:63 111/111\r\n"));
  g_assert_null(strstr(text, "ulpfec"));
  g_free(text);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(o);
  g_string_free(gst, TRUE);

  /* the same offer with RED of another codec */
  GString *other = g_string_new(orig);
  g_string_replace(other, "a=fmtp:63 111/111", "a=fmtp:63 111/0", 1);
  o = dc_sdp_parse(other->str, other->len, &err);
  g_assert_no_error(err);
  neg = dc_sdp_negotiate(o, &err);
  g_assert_cmpint(g_array_index(neg->sections, dc_sdp_section, 0).red_pt, ==, -1);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(o);
  g_string_free(other, TRUE);
  g_free(orig);
}

/* A camera's protection (RED with ULPFEC inside, RTX for RED) answered in the section the
 * offerer sends its camera in when asked, nowhere else; not when RTX for RED is missing. */
static void test_video_fec(void) {
  dc_sdp *o = parse_fixture("chromium-156-simulcast.sdp");
  GError *err = NULL;
  dc_sdp_negotiation *neg = dc_sdp_negotiate(o, &err);
  g_assert_no_error(err);
  const dc_sdp_section *cam = &g_array_index(neg->sections, dc_sdp_section, 1);
  g_assert_cmpint(cam->video_red_pt, ==, 118);
  g_assert_cmpint(cam->ulpfec_pt, ==, 120);
  g_assert_cmpint(cam->red_rtx_pt, ==, 119);
  g_assert_true(dc_sdp_section_takes_fec(cam));
  g_assert_false(dc_sdp_section_takes_fec(&g_array_index(neg->sections, dc_sdp_section, 2))); /* recvonly */
  dc_sdp_send with_fec[8];
  memcpy(with_fec, sends, sizeof with_fec);
  with_fec[1].take_fec = true;
  with_fec[2].take_fec = true; /* a slot the offerer only receives: nothing to protect */
  dc_sdp_answer_params p = answer_params();
  p.send = with_fec;
  char *text = dc_sdp_write_answer(neg, &p);
  g_assert_nonnull(strstr(text, "m=video 9 UDP/TLS/RTP/SAVPF 96 97 118 120 119\r\n"));
  g_assert_nonnull(strstr(text, "a=rtpmap:118 red/90000\r\na=rtpmap:120 ulpfec/90000\r\n"
                                "a=rtpmap:119 rtx/90000\r\na=fmtp:119 apt=118\r\n"));
  dc_sdp *a = dc_sdp_parse(text, strlen(text), &err);
  g_assert_no_error(err);
  g_assert_nonnull(dc_sdp_media_codec(section(a, 1), 120));
  g_assert_null(dc_sdp_media_codec(section(a, 2), 118));
  g_assert_null(dc_sdp_media_codec(section(a, 2), 120));
  dc_sdp_free(a);
  g_free(text);
  p.send = sends; /* not asked: not answered */
  text = dc_sdp_write_answer(neg, &p);
  g_assert_null(strstr(text, "ulpfec"));
  g_assert_null(strstr(text, "red/90000"));
  g_free(text);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(o);

  /* RTX offered, but none for RED: a retransmission could not go, so no FEC */
  gsize len;
  char *orig = load("chromium-156-simulcast.sdp", &len);
  GString *no_rtx = g_string_new(orig);
  g_assert_cmpuint(g_string_replace(no_rtx, "a=rtpmap:119 rtx/90000\r\na=fmtp:119 apt=118\r\n", "", 1), ==, 1);
  o = dc_sdp_parse(no_rtx->str, no_rtx->len, &err);
  g_assert_no_error(err);
  neg = dc_sdp_negotiate(o, &err);
  g_assert_no_error(err);
  g_assert_false(dc_sdp_section_takes_fec(&g_array_index(neg->sections, dc_sdp_section, 1)));
  p.send = with_fec;
  text = dc_sdp_write_answer(neg, &p);
  g_assert_null(strstr(text, "ulpfec"));
  g_free(text);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(o);
  g_string_free(no_rtx, TRUE);
  g_free(orig);
}

/* A cap on what the offerer sends (b=AS, RFC 4566 §5.8): on the video sections it sends in,
 * after c= as the order of lines asks, nowhere else; our own parser reads past it. */
static void test_video_cap(void) {
  dc_sdp *o = parse_fixture("chromium-156-simulcast.sdp");
  GError *err = NULL;
  dc_sdp_negotiation *neg = dc_sdp_negotiate(o, &err);
  g_assert_no_error(err);
  dc_sdp_answer_params p = answer_params();
  p.video_max_kbps = 110;
  char *text = dc_sdp_write_answer(neg, &p);
  gchar **sections = g_strsplit(text, "\r\nm=", -1);
  unsigned capped = 0;
  for (gchar **m = sections + 1; *m; m++) {
    bool camera = g_str_has_prefix(*m, "video") && /* the offerer sends in it */
                  (strstr(*m, "a=recvonly\r\n") || strstr(*m, "a=sendrecv\r\n"));
    const char *cap = strstr(*m, "\r\nb=AS:110\r\n");
    g_assert_true(camera == (cap != NULL));
    if (cap) {
      g_assert_nonnull(strstr(*m, "c=IN IP4 0.0.0.0\r\nb=AS:110\r\na=ice-ufrag:"));
      capped++;
    }
  }
  g_assert_cmpuint(capped, ==, 1);
  g_strfreev(sections);
  dc_sdp *a = dc_sdp_parse(text, strlen(text), &err);
  g_assert_no_error(err);
  dc_sdp_free(a);
  g_free(text);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(o);
}

static void test_firefox(void) {
  dc_sdp *o = parse_fixture("firefox-esr-153-simulcast.sdp");
  g_assert_cmpuint(o->media->len, ==, 4);
  g_assert_nonnull(o->fingerprint); /* Firefox writes it at session level */
  g_assert_true(o->ice_trickle);
  const dc_sdp_media *cam = section(o, 1);
  g_assert_true(cam->bundle_only);
  g_assert_cmpuint(cam->port, ==, 0);
  dc_sdp_negotiation *neg;
  dc_sdp *a = answer_for(o, &neg);
  const dc_sdp_section *s0 = &g_array_index(neg->sections, dc_sdp_section, 0);
  const dc_sdp_section *s1 = &g_array_index(neg->sections, dc_sdp_section, 1);
  g_assert_cmpint(s0->pt, ==, 109);
  g_assert_cmpint(s1->pt, ==, 120);
  g_assert_cmpint(s1->rtx_pt, ==, 124);
  g_assert_cmpuint(s1->ext.rid, ==, 9); /* offered as sendonly: Firefox sends it */
  g_assert_cmpuint(s1->n_rids, ==, 3);
  g_assert_cmpuint(s1->n_ssrcs, ==, 3); /* one per layer, each with an RTX partner */
  for (int k = 0; k < 3; k++)
    g_assert_cmpuint(s1->rtx_ssrcs[k], !=, 0);
  check_answer_common(o, a);
  g_assert_cmpuint(section(a, 1)->port, ==, 9); /* bundle-only sections are accepted */
  /* the rid extension comes back as recvonly, the mirror of Firefox's sendonly */
  bool found = false;
  for (guint i = 0; i < section(a, 1)->extmaps->len; i++) {
    const dc_sdp_extmap *e = &g_array_index(section(a, 1)->extmaps, dc_sdp_extmap, i);
    if (e->id == 9) {
      g_assert_cmpint(e->dir, ==, DC_SDP_RECVONLY);
      found = true;
    }
  }
  g_assert_true(found);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(a);
  dc_sdp_free(o);
}

static void test_webrtcbin(void) {
  dc_sdp *o = parse_fixture("webrtcbin-1.22.sdp");
  g_assert_cmpuint(o->media->len, ==, 3);
  g_assert_cmpstr(section(o, 0)->mid, ==, "audio0");
  g_assert_cmpuint(section(o, 0)->extmaps->len, ==, 0);
  dc_sdp_negotiation *neg;
  dc_sdp *a = answer_for(o, &neg);
  const dc_sdp_section *s0 = &g_array_index(neg->sections, dc_sdp_section, 0);
  const dc_sdp_section *s1 = &g_array_index(neg->sections, dc_sdp_section, 1);
  const dc_sdp_section *s2 = &g_array_index(neg->sections, dc_sdp_section, 2);
  g_assert_cmpint(s0->pt, ==, 96);
  g_assert_cmpuint(s0->ext.mid, ==, 0); /* no MID extension: the bridge demuxes by SSRC */
  g_assert_cmpuint(s0->n_ssrcs, ==, 1);
  g_assert_cmpint(s1->pt, ==, 97);
  g_assert_cmpint(s1->rtx_pt, ==, -1);
  g_assert_true(s2->accepted);
  g_assert_cmpuint(s2->n_ssrcs, ==, 0); /* recvonly: sends nothing */
  check_answer_common(o, a);
  g_assert_cmpint(section(a, 2)->dir, ==, DC_SDP_SENDONLY);
  /* no RTX was negotiated, so our RTX SSRC is not announced */
  g_assert_cmpuint(section(a, 1)->ssrc_groups->len, ==, 0);
  g_assert_cmpuint(section(a, 1)->ssrcs->len, ==, 1);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(a);
  dc_sdp_free(o);
}

/* Removes every line for which drop() is true, or rewrites lines with edit(). */
static char *mutate(const char *name, const char *drop_prefix, const char *from, const char *to) {
  gsize len;
  char *text = load(name, &len);
  char **lines = g_strsplit(text, "\n", -1);
  GString *out = g_string_new(NULL);
  for (guint i = 0; lines[i]; i++) {
    if (drop_prefix && g_str_has_prefix(lines[i], drop_prefix))
      continue;
    if (from && strstr(lines[i], from)) {
      char **parts = g_strsplit(lines[i], from, -1);
      char *joined = g_strjoinv(to, parts);
      g_string_append(out, joined);
      g_free(joined);
      g_strfreev(parts);
    } else {
      g_string_append(out, lines[i]);
    }
    if (lines[i + 1])
      g_string_append_c(out, '\n');
  }
  g_strfreev(lines);
  g_free(text);
  return g_string_free(out, FALSE);
}

static void expect_refusal(char *text, const char *needle) {
  GError *err = NULL;
  dc_sdp *o = dc_sdp_parse(text, strlen(text), &err);
  g_assert_no_error(err);
  dc_sdp_negotiation *neg = dc_sdp_negotiate(o, &err);
  g_assert_null(neg);
  g_assert_error(err, DC_MEDIA_ERROR, DC_MEDIA_ERROR_UNSUPPORTED);
  if (!strstr(err->message, needle))
    g_error("refusal \"%s\" does not mention \"%s\"", err->message, needle);
  g_error_free(err);
  dc_sdp_free(o);
  g_free(text);
}

static void test_refusals(void) {
  const char *fixtures[] = {"chromium-156-simulcast.sdp", "firefox-esr-153-simulcast.sdp",
                            "webrtcbin-1.22.sdp"};
  for (size_t f = 0; f < G_N_ELEMENTS(fixtures); f++) {
    expect_refusal(mutate(fixtures[f], "a=fingerprint", NULL, NULL), "no DTLS fingerprint");
    expect_refusal(mutate(fixtures[f], "a=group:BUNDLE", NULL, NULL), "BUNDLE");
    expect_refusal(mutate(fixtures[f], "a=ice-pwd", NULL, NULL), "ICE credentials");
    expect_refusal(mutate(fixtures[f], "a=rtcp-mux", NULL, NULL), "a=rtcp-mux");
    expect_refusal(mutate(fixtures[f], NULL, "UDP/TLS/RTP/SAVPF", "RTP/AVPF"), "unencrypted");
    expect_refusal(mutate(fixtures[f], NULL, "a=setup:actpass", "a=setup:holdconn"), "holdconn");
  }
  expect_refusal(mutate(fixtures[0], NULL, " opus/", " speex/"), "no Opus audio");
  expect_refusal(mutate(fixtures[1], NULL, " opus/", " speex/"), "no Opus audio");
  expect_refusal(mutate(fixtures[2], NULL, " OPUS/", " speex/"), "no Opus audio");
}

static void test_section_rejections(void) {
  /* Without VP8 the video sections are rejected, but the meeting's audio still works. */
  char *text = mutate("webrtcbin-1.22.sdp", NULL, "VP8/90000", "H265/90000");
  GError *err = NULL;
  dc_sdp *o = dc_sdp_parse(text, strlen(text), &err);
  g_assert_no_error(err);
  dc_sdp_negotiation *neg = dc_sdp_negotiate(o, &err);
  g_assert_no_error(err);
  const dc_sdp_section *s1 = &g_array_index(neg->sections, dc_sdp_section, 1);
  g_assert_false(s1->accepted);
  g_assert_nonnull(strstr(s1->reject_reason, "VP8"));
  dc_sdp_answer_params p = answer_params();
  char *ans_text = dc_sdp_write_answer(neg, &p);
  dc_sdp *ans = dc_sdp_parse(ans_text, strlen(ans_text), &err);
  g_assert_no_error(err);
  g_assert_cmpuint(section(ans, 1)->port, ==, 0);
  g_assert_cmpuint(ans->bundle->len, ==, 1);
  g_free(ans_text);
  dc_sdp_free(ans);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(o);
  g_free(text);

  /* setup:passive in the offer makes us the DTLS client */
  text = mutate("webrtcbin-1.22.sdp", NULL, "a=setup:actpass", "a=setup:passive");
  o = dc_sdp_parse(text, strlen(text), &err);
  neg = dc_sdp_negotiate(o, &err);
  g_assert_no_error(err);
  g_assert_false(neg->dtls_server);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(o);
  g_free(text);
}

static void expect_invalid(const char *text, const char *needle) {
  GError *err = NULL;
  dc_sdp *sdp = dc_sdp_parse(text, strlen(text), &err);
  g_assert_null(sdp);
  g_assert_error(err, DC_MEDIA_ERROR, DC_MEDIA_ERROR_INVALID);
  if (!strstr(err->message, needle))
    g_error("error \"%s\" does not mention \"%s\"", err->message, needle);
  g_error_free(err);
}

static void test_malformed(void) {
  const char *head = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\n";
  expect_invalid("", "empty");
  expect_invalid("o=- 1 1 IN IP4 0.0.0.0\n", "v=0");
  expect_invalid("v=1\n", "v=0");
  expect_invalid("v=0\nhello\n", "line 2");
  expect_invalid("v=0\nA=x\n", "letter");
  char *t;
#define CASE(body, needle)                                                                       \
  t = g_strconcat(head, body, NULL);                                                           \
  expect_invalid(t, needle);                                                                   \
  g_free(t)
  CASE("m=audio\n", "m= line");
  CASE("m=audio 70000 UDP/TLS/RTP/SAVPF 111\n", "m= line");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=rtpmap:111 opus\n", "rtpmap");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=rtpmap:200 opus/48000/2\n", "rtpmap");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=rtpmap:111 opus/48000/2\na=rtpmap:111 opus/48000/2\n", "twice");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=extmap:0 urn:x\n", "extmap");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=extmap:256 urn:x\n", "extmap");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=extmap:3/sideways urn:x\n", "extmap");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=extmap:3 urn:x\na=extmap:3 urn:y\n", "two URIs");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=ssrc:99999999999 cname:x\n", "SSRC");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=ssrc-group:FID 1 2 3 4 5 6 7 8 9\n", "ssrc-group");
  CASE("m=video 9 UDP/TLS/RTP/SAVPF 96\na=rid:bad!id send\n", "a=rid");
  CASE("m=video 9 UDP/TLS/RTP/SAVPF 96\na=simulcast:send a;b;c;d;e;f;g;h;i\n", "simulcast");
  CASE("m=video 9 UDP/TLS/RTP/SAVPF 96\na=simulcast:sideways a\n", "simulcast");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=candidate:1 1 udp 1 127.0.0.1 99999 typ host\n", "candidate");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=setup:sometimes\n", "setup");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:a\nm=video 9 UDP/TLS/RTP/SAVPF 96\na=mid:a\n", "share");
  CASE("a=group:BUNDLE a b\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:a\n", "\"b\"");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=ice-ufrag:\n", "ice-ufrag");
  CASE("m=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:x\x01y\n", "control");
#undef CASE
  GString *many = g_string_new(head);
  for (int i = 0; i < 65; i++)
    g_string_append(many, "m=audio 9 UDP/TLS/RTP/SAVPF 111\n");
  expect_invalid(many->str, "more than 64 media sections");
  g_string_free(many, TRUE);

  char *big = g_malloc(DC_SDP_MAX_BYTES + 2);
  memset(big, 'a', DC_SDP_MAX_BYTES + 1);
  big[DC_SDP_MAX_BYTES + 1] = '\0';
  expect_invalid(big, "limit");
  g_free(big);
  GError *err = NULL;
  g_assert_null(dc_sdp_parse("v=0\n\0m=", 7, &err));
  g_assert_nonnull(strstr(err->message, "NUL"));
  g_error_free(err);
}

static void test_truncations_and_lf(void) {
  /* Every prefix of a real offer either parses or is refused; none crashes or leaks. */
  gsize len;
  char *text = load("firefox-esr-153-simulcast.sdp", &len);
  for (gsize n = 0; n <= len; n += 7) {
    GError *err = NULL;
    dc_sdp *sdp = dc_sdp_parse(text, n, &err);
    g_assert_true((sdp == NULL) == (err != NULL));
    if (sdp) {
      dc_sdp_negotiation *neg = dc_sdp_negotiate(sdp, NULL);
      dc_sdp_negotiation_free(neg);
    }
    dc_sdp_free(sdp);
    g_clear_error(&err);
  }
  g_free(text);
  /* LF-only line endings, as a hand-written offer has */
  char *lf = mutate("webrtcbin-1.22.sdp", NULL, "\r", "");
  GError *err = NULL;
  dc_sdp *sdp = dc_sdp_parse(lf, strlen(lf), &err);
  g_assert_no_error(err);
  g_assert_cmpstr(section(sdp, 0)->mid, ==, "audio0");
  dc_sdp_free(sdp);
  g_free(lf);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sdp/audio-red-and-ptime", test_audio_red_and_ptime);
  g_test_add_func("/sdp/chromium", test_chromium);
  g_test_add_func("/sdp/video-fec", test_video_fec);
  g_test_add_func("/sdp/video-cap", test_video_cap);
  g_test_add_func("/sdp/firefox", test_firefox);
  g_test_add_func("/sdp/webrtcbin", test_webrtcbin);
  g_test_add_func("/sdp/refusals", test_refusals);
  g_test_add_func("/sdp/section-rejections", test_section_rejections);
  g_test_add_func("/sdp/malformed", test_malformed);
  g_test_add_func("/sdp/truncations-and-lf", test_truncations_and_lf);
  return g_test_run();
}
