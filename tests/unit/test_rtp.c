/* Unit tests for media/rtp: RFC 3550 header parsing, RFC 8285 extensions, rewrites and
 * sequence/timestamp unwrapping. */
#include <glib.h>
#include <string.h>

#include "media/rtp.h"

/* An Opus packet as Chromium sends it: one-byte extensions audio-level (id 1),
 * abs-send-time (id 2), transport-cc (id 3) and mid (id 4), then 4 bytes of payload. */
static const uint8_t chromium_audio[] = {
    0x90, 0x6f, 0x12, 0x34, 0x00, 0x01, 0xe2, 0x40, 0xde, 0xad, 0xbe, 0xef, /* header */
    0xbe, 0xde, 0x00, 0x04,                                                 /* 4 words */
    0x10, 0xa1,                   /* id 1 len 1: V=1, level 33 */
    0x22, 0x12, 0x34, 0x56,       /* id 2 len 3: abs-send-time */
    0x31, 0x01, 0x02,             /* id 3 len 2: twcc 0x0102 */
    0x40, '0',                    /* id 4 len 1: mid "0" */
    0x00, 0x00, 0x00, 0x00, 0x00, /* padding to 16 bytes */
    0xfc, 0xff, 0xfe, 0x01,       /* payload */
};

static const dc_rtp_ext_ids chromium_ids = {
    .audio_level = 1, .abs_send_time = 2, .twcc = 3, .mid = 4, .rid = 10, .repaired_rid = 11};

static void test_parse_fields(void) {
  dc_rtp p;
  g_assert_cmpint(dc_rtp_parse(&p, chromium_audio, sizeof chromium_audio), ==, DC_OK);
  g_assert_true(p.extension);
  g_assert_false(p.marker);
  g_assert_false(p.padding);
  g_assert_cmpuint(p.payload_type, ==, 111);
  g_assert_cmpuint(p.seq, ==, 0x1234);
  g_assert_cmpuint(p.timestamp, ==, 123456);
  g_assert_cmpuint(p.ssrc, ==, 0xdeadbeef);
  g_assert_cmpuint(p.ext_profile, ==, DC_RTP_EXT_ONE_BYTE);
  g_assert_cmpuint(p.ext_off, ==, 16);
  g_assert_cmpuint(p.ext_len, ==, 16);
  g_assert_cmpuint(p.payload_off, ==, 32);
  g_assert_cmpuint(p.payload_len, ==, 4);
  g_assert_cmpuint(dc_rtp_payload(&p)[0], ==, 0xfc);
}

static void test_read_exts(void) {
  dc_rtp p;
  g_assert_cmpint(dc_rtp_parse(&p, chromium_audio, sizeof chromium_audio), ==, DC_OK);
  dc_rtp_ext_values v;
  dc_rtp_read_exts(&p, &chromium_ids, &v);
  g_assert_true(v.has_audio_level);
  g_assert_true(v.voice_activity);
  g_assert_cmpuint(v.audio_level_dbov, ==, 33);
  g_assert_true(v.has_abs_send_time);
  g_assert_cmpuint(v.abs_send_time, ==, 0x123456);
  g_assert_true(v.has_twcc);
  g_assert_cmpuint(v.twcc_seq, ==, 0x0102);
  g_assert_cmpstr(v.mid, ==, "0");
  g_assert_cmpuint(v.rid_len, ==, 0);

  bool voice;
  uint8_t level;
  uint32_t ast;
  uint16_t tw;
  g_assert_true(dc_rtp_audio_level(&p, 1, &voice, &level));
  g_assert_cmpuint(level, ==, 33);
  g_assert_true(dc_rtp_abs_send_time(&p, 2, &ast));
  g_assert_cmpuint(ast, ==, 0x123456);
  g_assert_true(dc_rtp_twcc_seq(&p, 3, &tw));
  g_assert_false(dc_rtp_twcc_seq(&p, 2, &tw)); /* id 2 is 3 bytes: not a twcc value */
  g_assert_false(dc_rtp_audio_level(&p, 9, &voice, &level));
  const uint8_t *val;
  size_t len;
  g_assert_cmpint(dc_rtp_ext_find(&p, 0, &val, &len), ==, DC_ERR_NOT_FOUND);
}

static void test_csrc_and_padding(void) {
  uint8_t pkt[] = {0xa2, 0xe0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, /* P=1, CC=2, M=1, PT=96 */
                   0, 0, 0, 10, 0, 0, 0, 11,                 /* CSRCs */
                   1, 2, 3, 0, 0, 3};                        /* payload 3 + pad 3 */
  dc_rtp p;
  g_assert_cmpint(dc_rtp_parse(&p, pkt, sizeof pkt), ==, DC_OK);
  g_assert_true(p.marker);
  g_assert_cmpuint(p.payload_type, ==, 96);
  g_assert_cmpuint(p.csrc_count, ==, 2);
  g_assert_cmpuint(dc_rtp_csrc(&p, 1), ==, 11);
  g_assert_cmpuint(p.padding_len, ==, 3);
  g_assert_cmpuint(p.payload_len, ==, 3);

  pkt[sizeof pkt - 1] = 0; /* a padding count of zero is invalid */
  g_assert_cmpint(dc_rtp_parse(&p, pkt, sizeof pkt), ==, DC_ERR_MALFORMED);
  pkt[sizeof pkt - 1] = 7; /* more padding than payload */
  g_assert_cmpint(dc_rtp_parse(&p, pkt, sizeof pkt), ==, DC_ERR_MALFORMED);
  pkt[sizeof pkt - 1] = 6; /* exactly the payload: empty payload is fine */
  g_assert_cmpint(dc_rtp_parse(&p, pkt, sizeof pkt), ==, DC_OK);
  g_assert_cmpuint(p.payload_len, ==, 0);
}

static void test_truncated_prefixes(void) {
  /* Every prefix that cuts into the header or extension block must be refused; a prefix
   * that only shortens the payload is still a valid packet. */
  dc_rtp p;
  for (size_t n = 0; n < 32; n++)
    g_assert_cmpint(dc_rtp_parse(&p, chromium_audio, n), !=, DC_OK);
  for (size_t n = 32; n <= sizeof chromium_audio; n++)
    g_assert_cmpint(dc_rtp_parse(&p, chromium_audio, n), ==, DC_OK);
}

static void test_bad_version_and_ext(void) {
  uint8_t pkt[sizeof chromium_audio];
  memcpy(pkt, chromium_audio, sizeof pkt);
  dc_rtp p;
  pkt[0] = 0x50; /* version 1 */
  g_assert_cmpint(dc_rtp_parse(&p, pkt, sizeof pkt), ==, DC_ERR_UNSUPPORTED);
  memcpy(pkt, chromium_audio, sizeof pkt);
  pkt[14] = 0x00, pkt[15] = 0x09; /* extension says 9 words: past the end */
  g_assert_cmpint(dc_rtp_parse(&p, pkt, sizeof pkt), ==, DC_ERR_TRUNCATED);
  memcpy(pkt, chromium_audio, sizeof pkt);
  pkt[25] = 0x4f; /* mid element claims 16 bytes: overruns the extension block */
  g_assert_cmpint(dc_rtp_parse(&p, pkt, sizeof pkt), ==, DC_ERR_MALFORMED);
}

static void test_id15_stops(void) {
  uint8_t pkt[] = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1,
                   0xf0, 0x11, 0x00, 0x00, /* id 15: stop; the rest is not looked at */
                   9};
  dc_rtp p;
  g_assert_cmpint(dc_rtp_parse(&p, pkt, sizeof pkt), ==, DC_OK);
  const uint8_t *v;
  size_t n;
  g_assert_cmpint(dc_rtp_ext_find(&p, 1, &v, &n), ==, DC_ERR_NOT_FOUND);
}

static void test_two_byte_form(void) {
  uint8_t pkt[] = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0x00, 0, 2,
                   0x05, 0x00,             /* id 5, empty value */
                   0x00,                   /* padding */
                   0x20, 0x03, 'h', 'i', 'g', /* id 32, "hig" */
                   0x00, 0x00,
                   42};
  dc_rtp p;
  g_assert_cmpint(dc_rtp_parse(&p, pkt, sizeof pkt), ==, DC_OK);
  g_assert_true(dc_rtp_ext_is_two_byte(&p));
  const uint8_t *v;
  size_t n;
  g_assert_cmpint(dc_rtp_ext_find(&p, 5, &v, &n), ==, DC_OK);
  g_assert_cmpuint(n, ==, 0);
  g_assert_cmpint(dc_rtp_ext_find(&p, 32, &v, &n), ==, DC_OK);
  g_assert_cmpuint(n, ==, 3);
  g_assert_cmpmem(v, 3, "hig", 3);
  dc_rtp_ext_ids ids = {.rid = 32};
  dc_rtp_ext_values vals;
  dc_rtp_read_exts(&p, &ids, &vals);
  g_assert_cmpstr(vals.rid, ==, "hig");
}

static void test_rewrite_in_place(void) {
  uint8_t buf[sizeof chromium_audio];
  memcpy(buf, chromium_audio, sizeof buf);
  dc_rtp p;
  g_assert_cmpint(dc_rtp_parse(&p, buf, sizeof buf), ==, DC_OK);
  g_assert_cmpint(dc_rtp_set_twcc_seq(buf, &p, 3, 0xbeef), ==, DC_OK);
  g_assert_cmpint(dc_rtp_set_abs_send_time(buf, &p, 2, 0xabcdef), ==, DC_OK);
  uint8_t two[2] = {1, 2};
  g_assert_cmpint(dc_rtp_ext_rewrite(buf, &p, 2, two, 2), ==, DC_ERR_MALFORMED);
  dc_rtp_set_seq(buf, 7);
  dc_rtp_set_ssrc(buf, 0x01020304);
  dc_rtp_set_timestamp(buf, 99);
  dc_rtp_set_payload_type(buf, 96);
  dc_rtp_set_marker(buf, true);
  dc_rtp q;
  g_assert_cmpint(dc_rtp_parse(&q, buf, sizeof buf), ==, DC_OK);
  uint16_t tw;
  uint32_t ast;
  g_assert_true(dc_rtp_twcc_seq(&q, 3, &tw));
  g_assert_cmpuint(tw, ==, 0xbeef);
  g_assert_true(dc_rtp_abs_send_time(&q, 2, &ast));
  g_assert_cmpuint(ast, ==, 0xabcdef);
  g_assert_cmpuint(q.seq, ==, 7);
  g_assert_cmpuint(q.ssrc, ==, 0x01020304);
  g_assert_cmpuint(q.timestamp, ==, 99);
  g_assert_cmpuint(q.payload_type, ==, 96);
  g_assert_true(q.marker);
  g_assert_cmpmem(dc_rtp_payload(&q), 4, chromium_audio + 32, 4); /* payload untouched */
}

static void test_remap(void) {
  uint8_t buf[sizeof chromium_audio];
  memcpy(buf, chromium_audio, sizeof buf);
  dc_rtp p;
  g_assert_cmpint(dc_rtp_parse(&p, buf, sizeof buf), ==, DC_OK);
  uint8_t map[256] = {0};
  map[1] = 5;  /* audio level moves to 5 */
  map[3] = 15; /* not writable in one-byte form: erased */
  map[4] = 4;  /* mid stays; abs-send-time (2) is erased */
  dc_rtp_ext_remap(buf, &p, map);
  dc_rtp q;
  g_assert_cmpint(dc_rtp_parse(&q, buf, sizeof buf), ==, DC_OK);
  const uint8_t *v;
  size_t n;
  bool voice;
  uint8_t level;
  g_assert_true(dc_rtp_audio_level(&q, 5, &voice, &level));
  g_assert_cmpuint(level, ==, 33);
  g_assert_cmpint(dc_rtp_ext_find(&q, 1, &v, &n), ==, DC_ERR_NOT_FOUND);
  g_assert_cmpint(dc_rtp_ext_find(&q, 2, &v, &n), ==, DC_ERR_NOT_FOUND);
  g_assert_cmpint(dc_rtp_ext_find(&q, 3, &v, &n), ==, DC_ERR_NOT_FOUND);
  g_assert_cmpint(dc_rtp_ext_find(&q, 4, &v, &n), ==, DC_OK);
  g_assert_cmpmem(v, n, "0", 1);
}

static void test_write_header_roundtrip(void) {
  uint8_t out[64];
  uint8_t level = 0x80 | 20, mid[] = "1";
  dc_rtp_ext_elem one[] = {{1, 1, &level}, {4, 1, mid}};
  dc_rtp_header h = {.marker = true, .payload_type = 111, .seq = 65535, .timestamp = 960,
                     .ssrc = 42};
  size_t n = dc_rtp_write_header(out, sizeof out, &h, one, 2);
  g_assert_cmpuint(n, ==, 12 + 4 + 4); /* 2 + 2 bytes of elements, one word */
  out[n] = 0xaa;
  dc_rtp p;
  g_assert_cmpint(dc_rtp_parse(&p, out, n + 1), ==, DC_OK);
  g_assert_true(dc_rtp_ext_is_one_byte(&p));
  g_assert_cmpuint(p.payload_len, ==, 1);
  bool voice;
  uint8_t lv;
  g_assert_true(dc_rtp_audio_level(&p, 1, &voice, &lv));
  g_assert_true(voice);
  g_assert_cmpuint(lv, ==, 20);

  /* An id above 14 forces the two-byte form. */
  uint8_t rid[] = "q";
  dc_rtp_ext_elem two[] = {{1, 1, &level}, {20, 1, rid}};
  n = dc_rtp_write_header(out, sizeof out, &h, two, 2);
  g_assert_cmpuint(n, ==, 12 + 4 + 8);
  g_assert_cmpint(dc_rtp_parse(&p, out, n), ==, DC_OK);
  g_assert_true(dc_rtp_ext_is_two_byte(&p));
  const uint8_t *v;
  size_t len;
  g_assert_cmpint(dc_rtp_ext_find(&p, 20, &v, &len), ==, DC_OK);
  g_assert_cmpmem(v, len, "q", 1);

  g_assert_cmpuint(dc_rtp_write_header(out, 15, &h, one, 2), ==, 0); /* no room */
  dc_rtp_ext_elem bad[] = {{0, 1, &level}};
  g_assert_cmpuint(dc_rtp_write_header(out, sizeof out, &h, bad, 1), ==, 0);
  g_assert_cmpuint(dc_rtp_write_header(out, sizeof out, &h, NULL, 0), ==, 12);
}

static void test_unwrap_seq(void) {
  dc_unwrapper u = {0};
  g_assert_cmpint(dc_seq_unwrap(&u, 65530), ==, 65530);
  g_assert_cmpint(dc_seq_unwrap(&u, 65535), ==, 65535);
  g_assert_cmpint(dc_seq_unwrap(&u, 2), ==, 65538);       /* wrapped forward */
  g_assert_cmpint(dc_seq_unwrap(&u, 65534), ==, 65534);   /* late packet from before */
  g_assert_cmpint(dc_seq_unwrap(&u, 3), ==, 65539);
  g_assert_cmpint(u.highest, ==, 65539);
  for (uint32_t i = 0; i < 3 * 65536; i += 1000)
    dc_seq_unwrap(&u, (uint16_t)(3 + i));
  g_assert_cmpint(u.highest, >, 3 * 65536);

  dc_unwrapper early = {0};
  g_assert_cmpint(dc_seq_unwrap(&early, 1), ==, 1);
  g_assert_cmpint(dc_seq_unwrap(&early, 65535), ==, -1); /* reordered before the first */
}

static void test_unwrap_ts(void) {
  dc_unwrapper u = {0};
  g_assert_cmpint(dc_ts_unwrap(&u, 0xFFFFFF00u), ==, 0xFFFFFF00ll);
  g_assert_cmpint(dc_ts_unwrap(&u, 0x00000100u), ==, 0x100000100ll);
  g_assert_cmpint(dc_ts_unwrap(&u, 0xFFFFFFF0u), ==, 0xFFFFFFF0ll);
}

static void test_seq_newer(void) {
  g_assert_true(dc_seq_newer(1, 0));
  g_assert_true(dc_seq_newer(0, 65535));
  g_assert_false(dc_seq_newer(65535, 0));
  g_assert_false(dc_seq_newer(5, 5));
}

/* Padding added to a packet: the payload reads the same, the padding is what was asked; a
 * packet with padding already, a bad count and no room are refused, untouched. */
static void test_add_padding(void) {
  uint8_t buf[64], before[64];
  dc_rtp_header h = {.payload_type = 96, .seq = 7, .timestamp = 90, .ssrc = 0xABCD, .marker = true};
  size_t len = dc_rtp_write_header(buf, sizeof buf, &h, NULL, 0);
  memcpy(buf + len, "payload", 7);
  len += 7;
  g_assert_cmpint(dc_rtp_add_padding(buf, &len, sizeof buf, 13), ==, DC_OK);
  g_assert_cmpuint(len, ==, 12 + 7 + 13);
  dc_rtp p;
  g_assert_cmpint(dc_rtp_parse(&p, buf, len), ==, DC_OK);
  g_assert_true(p.padding && p.marker);
  g_assert_cmpuint(p.padding_len, ==, 13);
  g_assert_cmpuint(p.payload_len, ==, 7);
  g_assert_cmpmem(dc_rtp_payload(&p), 7, "payload", 7);
  memcpy(before, buf, sizeof buf);
  size_t same = len;
  g_assert_cmpint(dc_rtp_add_padding(buf, &same, sizeof buf, 4), ==, DC_ERR_STATE); /* padded already */
  buf[0] &= (uint8_t)~0x20;
  memcpy(before, buf, sizeof buf);
  g_assert_cmpint(dc_rtp_add_padding(buf, &same, sizeof buf, 0), ==, DC_ERR_MALFORMED);
  g_assert_cmpint(dc_rtp_add_padding(buf, &same, sizeof buf, 256), ==, DC_ERR_MALFORMED);
  g_assert_cmpint(dc_rtp_add_padding(buf, &same, same + 3, 4), ==, DC_ERR_NO_SPACE);
  g_assert_cmpuint(same, ==, len);
  g_assert_cmpmem(buf, sizeof buf, before, sizeof before);
  size_t one = 12 + 7;
  g_assert_cmpint(dc_rtp_add_padding(buf, &one, sizeof buf, 1), ==, DC_OK); /* the count byte alone */
  g_assert_cmpint(dc_rtp_parse(&p, buf, one), ==, DC_OK);
  g_assert_cmpuint(p.padding_len, ==, 1);
  g_assert_cmpuint(p.payload_len, ==, 7);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/rtp/parse-fields", test_parse_fields);
  g_test_add_func("/rtp/read-extensions", test_read_exts);
  g_test_add_func("/rtp/csrc-and-padding", test_csrc_and_padding);
  g_test_add_func("/rtp/truncated-prefixes", test_truncated_prefixes);
  g_test_add_func("/rtp/bad-version-and-extension", test_bad_version_and_ext);
  g_test_add_func("/rtp/id15-stops", test_id15_stops);
  g_test_add_func("/rtp/two-byte-form", test_two_byte_form);
  g_test_add_func("/rtp/rewrite-in-place", test_rewrite_in_place);
  g_test_add_func("/rtp/remap-ids", test_remap);
  g_test_add_func("/rtp/write-header", test_write_header_roundtrip);
  g_test_add_func("/rtp/unwrap-seq", test_unwrap_seq);
  g_test_add_func("/rtp/unwrap-timestamp", test_unwrap_ts);
  g_test_add_func("/rtp/seq-newer", test_seq_newer);
  g_test_add_func("/rtp/add-padding", test_add_padding);
  return g_test_run();
}
