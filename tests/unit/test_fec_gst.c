/* ULPFEC as GStreamer makes it, rebuilt by media/fec: the native endpoint's camera sends its
 * parity through webrtcbin's rtpulpfecenc and rtpredenc (endpoint/media.c), and the bridge
 * rebuilds a lost packet from it (bridge/source.c). Here the two elements, as webrtcbin chains
 * them, protect a stream of one- to three-packet frames; each FEC packet's protected packets
 * are taken away in turn and each must come back byte for byte as it left the FEC encoder,
 * i.e. as the bridge's cache holds it once RED is taken off. */
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <string.h>

#include "media/fec.h"

enum { MEDIA_PT = 96, RED_PT = 97, FEC_PT = 100, SSRC = 0x5eed1234, FRAMES = 60 };

typedef struct {
  GHashTable *by_seq; /* seq -> GBytes: media packets as protected (RED off) */
  GPtrArray *fecs;    /* GBytes: FEC payloads (RED off) */
  int skip;           /* -1: none; else this seq is "lost" */
} seen;

static size_t lookup(void *user, uint16_t seq, uint8_t *out, size_t cap) {
  seen *s = user;
  if (s->skip == seq)
    return 0;
  GBytes *b = g_hash_table_lookup(s->by_seq, GUINT_TO_POINTER((guint)seq));
  gsize n = 0;
  const uint8_t *d = b ? g_bytes_get_data(b, &n) : NULL;
  if (!d || n > cap)
    return 0;
  memcpy(out, d, n);
  return n;
}

/* A frame's packet k of n: VP8-like payload of varied length, marker on the last. */
static GstBuffer *media_packet(guint16 seq, guint32 ts, gboolean marker, gsize len, guint8 fill) {
  GstBuffer *b = gst_rtp_buffer_new_allocate((guint)len, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  gst_rtp_buffer_map(b, GST_MAP_WRITE, &rtp);
  gst_rtp_buffer_set_payload_type(&rtp, MEDIA_PT);
  gst_rtp_buffer_set_seq(&rtp, seq);
  gst_rtp_buffer_set_timestamp(&rtp, ts);
  gst_rtp_buffer_set_ssrc(&rtp, SSRC);
  gst_rtp_buffer_set_marker(&rtp, marker);
  guint8 *p = gst_rtp_buffer_get_payload(&rtp);
  for (gsize i = 0; i < len; i++)
    p[i] = (guint8)(fill + i * 31);
  gst_rtp_buffer_unmap(&rtp);
  return b;
}

/* One RED packet out of rtpredenc (distance 0: a lone primary block, RFC 2198 §3): the
 * packet it carries, header and block's payload type put back together. */
static void take_red(seen *s, GstBuffer *out) {
  GstMapInfo map;
  g_assert_true(gst_buffer_map(out, &map, GST_MAP_READ));
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  g_assert_true(gst_rtp_buffer_map(out, GST_MAP_READ, &rtp));
  g_assert_cmpint(gst_rtp_buffer_get_payload_type(&rtp), ==, RED_PT);
  g_assert_cmpuint(gst_rtp_buffer_get_ssrc(&rtp), ==, SSRC);
  const guint8 *pl = gst_rtp_buffer_get_payload(&rtp);
  guint pl_len = gst_rtp_buffer_get_payload_len(&rtp);
  g_assert_cmpuint(pl_len, >, 1);
  g_assert_cmpint(pl[0] & 0x80, ==, 0); /* the primary block only */
  int inner_pt = pl[0] & 0x7f;
  guint16 seq = gst_rtp_buffer_get_seq(&rtp);
  gsize hdr = (gsize)(pl - map.data);
  if (inner_pt == FEC_PT) {
    g_ptr_array_add(s->fecs, g_bytes_new(pl + 1, pl_len - 1));
  } else {
    g_assert_cmpint(inner_pt, ==, MEDIA_PT);
    guint8 *m = g_malloc(hdr + pl_len - 1);
    memcpy(m, map.data, hdr);
    m[1] = (guint8)((m[1] & 0x80) | inner_pt);
    memcpy(m + hdr, pl + 1, pl_len - 1);
    g_hash_table_insert(s->by_seq, GUINT_TO_POINTER((guint)seq), g_bytes_new_take(m, hdr + pl_len - 1));
  }
  gst_rtp_buffer_unmap(&rtp);
  gst_buffer_unmap(out, &map);
}

static void run(guint percentage) {
  GstHarness *h = gst_harness_new_parse("rtpulpfecenc pt=100 multipacket=true ! rtpredenc pt=97 distance=0");
  GstElement *fec = gst_harness_find_element(h, "rtpulpfecenc");
  g_object_set(fec, "percentage", percentage, NULL);
  gst_object_unref(fec);
  gst_harness_set_src_caps_str(h, "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000");
  seen s = {g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)g_bytes_unref),
            g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref), -1};
  guint16 seq = 65500; /* the numbers wrap within the run */
  for (int f = 0; f < FRAMES; f++) {
    int n = 1 + f % 3 + (f % 17 == 0 ? 3 : 0); /* now and then a bigger (key) frame */
    for (int k = 0; k < n; k++) {
      gsize len = k + 1 < n ? 1100 : 200 + (gsize)(f * 53 % 800);
      GstBuffer *b = media_packet(seq++, 3000u * (guint)f, k + 1 == n, len, (guint8)(f * 7 + k));
      GST_BUFFER_PTS(b) = (GstClockTime)f * GST_SECOND / 30;
      g_assert_cmpint(gst_harness_push(h, b), ==, GST_FLOW_OK);
    }
    GstBuffer *o;
    while ((o = gst_harness_try_pull(h))) {
      take_red(&s, o);
      gst_buffer_unref(o);
    }
  }
  /* each FEC packet: every packet it protects, taken away alone, comes back as it was */
  int rebuilt = 0;
  for (guint i = 0; i < s.fecs->len; i++) {
    gsize n = 0;
    const uint8_t *d = g_bytes_get_data(g_ptr_array_index(s.fecs, i), &n);
    dc_ulpfec f;
    g_assert_cmpint(dc_ulpfec_parse(d, n, &f), ==, DC_OK);
    for (unsigned k = 0; k < f.mask_bits; k++) {
      if (!(f.mask >> (f.mask_bits - 1 - k) & 1)) /* the top bit is sn_base's (RFC 5109 §7.4) */
        continue;
      uint16_t want = (uint16_t)(f.sn_base + k);
      GBytes *orig = g_hash_table_lookup(s.by_seq, GUINT_TO_POINTER((guint)want));
      g_assert_nonnull(orig); /* a protected packet the encoder sent */
      s.skip = want;
      uint8_t out[DC_ULPFEC_MAX_PACKET + 16];
      uint16_t got_seq = 0;
      size_t len = dc_ulpfec_recover(&f, SSRC, lookup, &s, out, sizeof out, &got_seq);
      gsize olen = 0;
      const uint8_t *o = g_bytes_get_data(orig, &olen);
      if (len != olen || got_seq != want || memcmp(out, o, olen))
        g_error("FEC packet %u (base %u, mask %#" G_GINT64_MODIFIER "x): seq %u came back as %zu bytes (seq %u), sent "
                "as %zu",
                i, f.sn_base, f.mask, want, len, got_seq, (size_t)olen);
      rebuilt++;
      s.skip = -1;
    }
  }
  g_test_message("percentage %u: %u media packets, %u FEC packets, %d losses rebuilt byte for byte", percentage,
                 g_hash_table_size(s.by_seq), s.fecs->len, rebuilt);
  g_assert_cmpuint(s.fecs->len, >, 0);
  g_assert_cmpint(rebuilt, >=, (int)s.fecs->len);
  g_hash_table_unref(s.by_seq);
  g_ptr_array_unref(s.fecs);
  gst_harness_teardown(h);
}

/* The endpoint's highland camera: 20 %, every fifth frame or so. */
static void test_highland(void) { run(20); }
/* Every frame protected: each FEC packet covers a frame of up to six packets. */
static void test_every_frame(void) { run(100); }

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/fec-gst/highland-share", test_highland);
  g_test_add_func("/fec-gst/every-frame", test_every_frame);
  return g_test_run();
}
