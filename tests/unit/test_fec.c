/* ULPFEC (RFC 5109) recovery against parity made here as RFC 5109 §8 and WebRTC make it
 * (level 0 only, the whole packet after the fixed header protected): every single loss
 * rebuilt byte for byte, two losses rebuilt by two FEC packets in turn, and what cannot be
 * rebuilt or parsed refused. */
#include <glib.h>
#include <string.h>

#include "media/fec.h"

#define SSRC 0x11223344u

typedef struct {
  uint8_t data[64][300];
  size_t len[64];
  bool lost[64];
  uint16_t first_seq;
} stream;

/* Media packet k: varied lengths, marker on some, an extension on one, padding on none. */
static void make_stream(stream *s, uint16_t first_seq, int n) {
  memset(s, 0, sizeof *s);
  s->first_seq = first_seq;
  for (int k = 0; k < n; k++) {
    uint8_t *p = s->data[k];
    size_t len = 40 + (size_t)(k * 37 % 200);
    p[0] = k == 3 ? 0x90 : 0x80; /* packet 3 carries a header extension */
    p[1] = (uint8_t)((k % 4 == 3 ? 0x80 : 0) | 96);
    p[2] = (uint8_t)((first_seq + k) >> 8);
    p[3] = (uint8_t)(first_seq + k);
    uint32_t ts = 90000u * 7 + 3000u * (unsigned)(k / 4);
    p[4] = (uint8_t)(ts >> 24), p[5] = (uint8_t)(ts >> 16), p[6] = (uint8_t)(ts >> 8), p[7] = (uint8_t)ts;
    p[8] = 0x11, p[9] = 0x22, p[10] = 0x33, p[11] = 0x44;
    for (size_t i = 12; i < len; i++)
      p[i] = (uint8_t)(i * 7 + (size_t)k * 13);
    s->len[k] = len;
  }
}

/* An FEC payload protecting the packets whose bit is set in mask (bit 0: first_seq + base). */
static size_t make_fec(const stream *s, int base, uint64_t mask, bool long_mask, uint8_t *out) {
  unsigned bits = long_mask ? 48 : 16;
  size_t prot = 0;
  for (unsigned i = 0; i < bits; i++)
    if (mask >> i & 1)
      prot = MAX(prot, s->len[base + (int)i] - 12);
  size_t hdr = DC_ULPFEC_HEADER + (long_mask ? 8 : 4);
  memset(out, 0, hdr + prot);
  uint16_t length = 0;
  for (unsigned i = 0; i < bits; i++) {
    if (!(mask >> i & 1))
      continue;
    const uint8_t *p = s->data[base + (int)i];
    out[0] ^= p[0], out[1] ^= p[1];
    for (int b = 4; b < 8; b++)
      out[b] ^= p[b];
    length ^= (uint16_t)(s->len[base + (int)i] - 12);
    for (size_t k = 12; k < s->len[base + (int)i]; k++)
      out[hdr + k - 12] ^= p[k];
  }
  out[0] = (uint8_t)((out[0] & 0x3F) | (long_mask ? 0x40 : 0)); /* E = 0, L */
  uint16_t sn = (uint16_t)(s->first_seq + base);
  out[2] = (uint8_t)(sn >> 8), out[3] = (uint8_t)sn;
  out[8] = (uint8_t)(length >> 8), out[9] = (uint8_t)length;
  out[10] = (uint8_t)(prot >> 8), out[11] = (uint8_t)prot;
  /* the mask on the wire: most significant bit first is sn_base + 0 */
  uint64_t wire = 0;
  for (unsigned i = 0; i < bits; i++)
    if (mask >> i & 1)
      wire |= 1ull << (bits - 1 - i);
  if (long_mask) {
    out[12] = (uint8_t)(wire >> 40), out[13] = (uint8_t)(wire >> 32);
    out[14] = (uint8_t)(wire >> 24), out[15] = (uint8_t)(wire >> 16), out[16] = (uint8_t)(wire >> 8), out[17] = (uint8_t)wire;
  } else {
    out[12] = (uint8_t)(wire >> 8), out[13] = (uint8_t)wire;
  }
  return hdr + prot;
}

static size_t lookup(void *user, uint16_t seq, uint8_t *out, size_t cap) {
  stream *s = user;
  int k = (uint16_t)(seq - s->first_seq);
  if (k >= 64 || s->lost[k] || !s->len[k] || s->len[k] > cap)
    return 0;
  memcpy(out, s->data[k], s->len[k]);
  return s->len[k];
}

/* One FEC packet over 10 packets (across a sequence number wrap): whichever one is lost
 * comes back whole. */
static void test_each_single_loss(void) {
  stream s;
  make_stream(&s, 65530, 10);
  uint8_t fec[2048], out[1600];
  size_t n = make_fec(&s, 0, 0x3FF, false, fec);
  dc_ulpfec f;
  g_assert_cmpint(dc_ulpfec_parse(fec, n, &f), ==, DC_OK);
  g_assert_cmpuint(f.sn_base, ==, 65530);
  for (int k = 0; k < 10; k++) {
    s.lost[k] = true;
    uint16_t seq = 0;
    size_t len = dc_ulpfec_recover(&f, SSRC, lookup, &s, out, sizeof out, &seq);
    g_assert_cmpuint(seq, ==, (uint16_t)(65530 + k));
    g_assert_cmpmem(out, len, s.data[k], s.len[k]);
    s.lost[k] = false;
  }
  /* nothing missing: nothing rebuilt */
  uint16_t seq;
  g_assert_cmpuint(dc_ulpfec_recover(&f, SSRC, lookup, &s, out, sizeof out, &seq), ==, 0);
}

/* Two lost of those one FEC packet protects: it cannot say which bytes were whose. */
static void test_two_lost_one_fec(void) {
  stream s;
  make_stream(&s, 100, 8);
  uint8_t fec[2048], out[1600];
  size_t n = make_fec(&s, 0, 0xFF, false, fec);
  dc_ulpfec f;
  g_assert_cmpint(dc_ulpfec_parse(fec, n, &f), ==, DC_OK);
  s.lost[2] = s.lost[5] = true;
  uint16_t seq;
  g_assert_cmpuint(dc_ulpfec_recover(&f, SSRC, lookup, &s, out, sizeof out, &seq), ==, 0);
}

/* One FEC packet over a frame's first 10 packets, one over the odd ones, one over all 20 with
 * a 48-bit mask: two losses (3 and 15) that the odd and the whole-frame ones cannot tell
 * apart come back in turn through the store, the first-10 one rebuilding 3 and then either
 * of the others 15. */
static void test_store_rebuilds_in_turn(void) {
  stream s;
  make_stream(&s, 4000, 20);
  uint8_t fec[3][2048], out[1600];
  size_t n_all = make_fec(&s, 0, 0xFFFFF, true, fec[0]);
  size_t n_odd = make_fec(&s, 0, 0xAAAAA, true, fec[1]); /* 1, 3, ..., 19 */
  size_t n_first = make_fec(&s, 0, 0x3FF, false, fec[2]);
  dc_ulpfec_store st;
  memset(&st, 0, sizeof st);
  g_assert_true(dc_ulpfec_store_put(&st, SSRC, fec[0], n_all, 1000));
  g_assert_true(dc_ulpfec_store_put(&st, SSRC, fec[1], n_odd, 1000));
  g_assert_true(dc_ulpfec_store_put(&st, SSRC, fec[2], n_first, 1000));
  s.lost[3] = s.lost[15] = true;
  int rebuilt = 0;
  uint16_t seq;
  size_t len;
  while ((len = dc_ulpfec_store_recover(&st, SSRC, lookup, &s, 2000, out, sizeof out, &seq))) {
    int k = (uint16_t)(seq - 4000);
    g_assert_true(s.lost[k]);
    g_assert_cmpmem(out, len, s.data[k], s.len[k]);
    s.lost[k] = false; /* what the caller does: it goes where the arrived ones are */
    rebuilt++;
  }
  g_assert_cmpint(rebuilt, ==, 2);
  /* another stream's FEC packets (a simulcast layer's) rebuild nothing here, and stay */
  g_assert_true(dc_ulpfec_store_put(&st, SSRC + 1, fec[2], n_first, 1000));
  s.lost[3] = true;
  g_assert_cmpuint(dc_ulpfec_store_recover(&st, SSRC, lookup, &s, 2000, out, sizeof out, &seq), ==, 0);
  g_assert_true(dc_ulpfec_store_any(&st));
  g_assert_cmpuint(dc_ulpfec_store_recover(&st, SSRC + 1, lookup, &s, 2000, out, sizeof out, &seq), >, 0); /* its own */
  s.lost[3] = false;
  /* each was used or had nothing left to rebuild: the store is empty */
  g_assert_false(dc_ulpfec_store_any(&st));
}

/* A held FEC packet older than DC_ULPFEC_HOLD_US is dropped unused; the oldest gives way to
 * a ninth. */
static void test_store_ages(void) {
  stream s;
  make_stream(&s, 1, 4);
  uint8_t fec[2048], out[1600];
  size_t n = make_fec(&s, 0, 0xF, false, fec);
  dc_ulpfec_store st;
  memset(&st, 0, sizeof st);
  for (int i = 0; i < DC_ULPFEC_HELD + 1; i++)
    g_assert_true(dc_ulpfec_store_put(&st, SSRC, fec, n, 100 + (uint64_t)i));
  s.lost[1] = true;
  uint16_t seq;
  g_assert_cmpuint(dc_ulpfec_store_recover(&st, SSRC, lookup, &s, 100 + DC_ULPFEC_HOLD_US + 50, out, sizeof out, &seq), ==, 0);
  g_assert_false(dc_ulpfec_store_any(&st));
}

/* Malformed FEC payloads: refused at parse, or rebuilding nothing. */
static void test_malformed(void) {
  stream s;
  make_stream(&s, 10, 4);
  uint8_t fec[2048], out[1600];
  size_t n = make_fec(&s, 0, 0xF, false, fec);
  dc_ulpfec f;
  g_assert_cmpint(dc_ulpfec_parse(fec, 13, &f), ==, DC_ERR_TRUNCATED);
  g_assert_cmpint(dc_ulpfec_parse(fec, n - 1, &f), ==, DC_ERR_TRUNCATED); /* parity short */
  uint8_t bad[2048];
  memcpy(bad, fec, n);
  bad[0] |= 0x80; /* E */
  g_assert_cmpint(dc_ulpfec_parse(bad, n, &f), ==, DC_ERR_UNSUPPORTED);
  memcpy(bad, fec, n);
  bad[12] = bad[13] = 0; /* empty mask */
  g_assert_cmpint(dc_ulpfec_parse(bad, n, &f), ==, DC_ERR_MALFORMED);
  memcpy(bad, fec, n);
  bad[0] |= 0x40; /* says a long mask, without the octets for it */
  g_assert_cmpint(dc_ulpfec_parse(bad, 16, &f), ==, DC_ERR_TRUNCATED);
  /* a length recovery beyond the protection length: not rebuilt */
  memcpy(bad, fec, n);
  bad[8] ^= 0x40;
  g_assert_cmpint(dc_ulpfec_parse(bad, n, &f), ==, DC_OK);
  s.lost[2] = true;
  uint16_t seq;
  g_assert_cmpuint(dc_ulpfec_recover(&f, SSRC, lookup, &s, out, sizeof out, &seq), ==, 0);
  /* a packet that arrived longer than the parity covers: not the one protected */
  g_assert_cmpint(dc_ulpfec_parse(fec, n, &f), ==, DC_OK);
  s.len[1] = 299;
  g_assert_cmpuint(dc_ulpfec_recover(&f, SSRC, lookup, &s, out, sizeof out, &seq), ==, 0);
  /* no room for the parity */
  make_stream(&s, 10, 4);
  s.lost[2] = true;
  g_assert_cmpuint(dc_ulpfec_recover(&f, SSRC, lookup, &s, out, 20, &seq), ==, 0);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/fec/each-single-loss", test_each_single_loss);
  g_test_add_func("/fec/two-lost-one-fec", test_two_lost_one_fec);
  g_test_add_func("/fec/store-rebuilds-in-turn", test_store_rebuilds_in_turn);
  g_test_add_func("/fec/store-ages", test_store_ages);
  g_test_add_func("/fec/malformed", test_malformed);
  return g_test_run();
}
