/* Unit tests for media/rtcp: compound walking, every packet type read and written, and
 * refusal of malformed datagrams. */
#include <glib.h>
#include <string.h>

#include "media/rtcp.h"

static void test_sr_sdes_compound(void) {
  uint8_t buf[256];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, sizeof buf);
  dc_rtcp_report sr = {.ssrc = 0x11223344, .ntp = 0xE8E8E8E8AAAAAAAAull, .rtp_ts = 48000,
                       .packet_count = 50, .octet_count = 4000, .n_blocks = 1};
  sr.blocks[0] = (dc_rtcp_report_block){.ssrc = 7, .fraction_lost = 25, .cumulative_lost = -3,
                                        .ext_highest_seq = 70000, .jitter = 12,
                                        .lsr = 0xE8E8AAAA, .dlsr = 65536};
  dc_rtcp_write_sr(&w, &sr);
  dc_rtcp_write_sdes_cname(&w, 0x11223344, "diemcau-bridge");
  g_assert_false(w.overflow);
  g_assert_cmpuint(w.len % 4, ==, 0);
  g_assert_cmpint(dc_rtcp_validate(buf, w.len), ==, DC_OK);

  dc_rtcp_iter it;
  dc_rtcp_iter_init(&it, buf, w.len);
  dc_rtcp_pkt pkt;
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_kind_of(&pkt), ==, DC_RTCP_SR);
  dc_rtcp_report got;
  g_assert_cmpint(dc_rtcp_parse_report(&pkt, &got), ==, DC_OK);
  g_assert_true(got.is_sr);
  g_assert_cmpuint(got.ssrc, ==, sr.ssrc);
  g_assert_cmpuint(got.ntp, ==, sr.ntp);
  g_assert_cmpuint(got.rtp_ts, ==, 48000);
  g_assert_cmpuint(got.packet_count, ==, 50);
  g_assert_cmpuint(got.octet_count, ==, 4000);
  g_assert_cmpuint(got.n_blocks, ==, 1);
  g_assert_cmpint(got.blocks[0].cumulative_lost, ==, -3);
  g_assert_cmpuint(got.blocks[0].fraction_lost, ==, 25);
  g_assert_cmpuint(got.blocks[0].ext_highest_seq, ==, 70000);
  g_assert_cmpuint(got.blocks[0].dlsr, ==, 65536);

  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_kind_of(&pkt), ==, DC_RTCP_SDES);
  dc_rtcp_sdes sdes;
  g_assert_cmpint(dc_rtcp_parse_sdes(&pkt, &sdes), ==, DC_OK);
  g_assert_cmpuint(sdes.n, ==, 1);
  g_assert_cmpuint(sdes.chunks[0].ssrc, ==, 0x11223344);
  g_assert_cmpmem(sdes.chunks[0].cname, sdes.chunks[0].cname_len, "diemcau-bridge", 14);
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_ERR_NOT_FOUND);
}

/* An SDES from a real browser has several items per chunk and two chunks. */
static void test_sdes_many_items(void) {
  const uint8_t pkt_bytes[] = {
      0x82, 202, 0x00, 0x07,                   /* SC=2, length 7 words */
      0, 0, 0, 1, 1, 2, 'a', 'b', 6, 1, 'x', 0, /* chunk 1: CNAME "ab", TOOL "x", null */
      0, 0, 0, 2, 2, 3, 'n', 'm', 'e', 1, 3,   /* chunk 2: NAME "nme", CNAME "c1" ... */
      'c', '1', '2', 0, 0};
  G_STATIC_ASSERT(sizeof pkt_bytes == 32);
  g_assert_cmpint(dc_rtcp_validate(pkt_bytes, sizeof pkt_bytes), ==, DC_OK);
  dc_rtcp_iter it;
  dc_rtcp_iter_init(&it, pkt_bytes, sizeof pkt_bytes);
  dc_rtcp_pkt pkt;
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  dc_rtcp_sdes sdes;
  g_assert_cmpint(dc_rtcp_parse_sdes(&pkt, &sdes), ==, DC_OK);
  g_assert_cmpuint(sdes.n, ==, 2);
  g_assert_cmpmem(sdes.chunks[0].cname, sdes.chunks[0].cname_len, "ab", 2);
  g_assert_cmpmem(sdes.chunks[1].cname, sdes.chunks[1].cname_len, "c12", 3);
}

static void test_rr_and_bye(void) {
  uint8_t buf[128];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, sizeof buf);
  dc_rtcp_report rr = {.ssrc = 1, .n_blocks = 2};
  rr.blocks[0].ssrc = 2;
  rr.blocks[0].cumulative_lost = 0x7FFFFF + 10; /* clamps to the 24-bit maximum */
  rr.blocks[1].ssrc = 3;
  rr.blocks[1].cumulative_lost = 5;
  dc_rtcp_write_rr(&w, &rr);
  uint32_t gone[] = {1, 9};
  dc_rtcp_write_bye(&w, gone, 2, "leaving");
  g_assert_cmpint(dc_rtcp_validate(buf, w.len), ==, DC_OK);
  dc_rtcp_iter it;
  dc_rtcp_iter_init(&it, buf, w.len);
  dc_rtcp_pkt pkt;
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  dc_rtcp_report got;
  g_assert_cmpint(dc_rtcp_parse_report(&pkt, &got), ==, DC_OK);
  g_assert_false(got.is_sr);
  g_assert_cmpuint(got.n_blocks, ==, 2);
  g_assert_cmpint(got.blocks[0].cumulative_lost, ==, 0x7FFFFF);
  g_assert_cmpint(got.blocks[1].cumulative_lost, ==, 5);
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_kind_of(&pkt), ==, DC_RTCP_BYE);
  dc_rtcp_bye bye;
  g_assert_cmpint(dc_rtcp_parse_bye(&pkt, &bye), ==, DC_OK);
  g_assert_cmpuint(bye.n, ==, 2);
  g_assert_cmpuint(bye.ssrcs[1], ==, 9);
  g_assert_cmpmem(bye.reason, bye.reason_len, "leaving", 7);
  g_assert_cmpint(dc_rtcp_parse_sdes(&pkt, &(dc_rtcp_sdes){0}), ==, DC_ERR_UNSUPPORTED);
}

static int cmp_u16(const void *a, const void *b) {
  return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void test_nack(void) {
  const uint16_t lost[] = {100, 101, 105, 116, 117, 200, 65535, 0, 3};
  uint8_t buf[128];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, sizeof buf);
  dc_rtcp_write_nack(&w, 0xAAAA, 0xBBBB, lost, G_N_ELEMENTS(lost));
  g_assert_cmpint(dc_rtcp_validate(buf, w.len), ==, DC_OK);
  dc_rtcp_iter it;
  dc_rtcp_iter_init(&it, buf, w.len);
  dc_rtcp_pkt pkt;
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_kind_of(&pkt), ==, DC_RTCP_NACK);
  dc_rtcp_fb fb;
  g_assert_cmpint(dc_rtcp_parse_fb(&pkt, &fb), ==, DC_OK);
  g_assert_cmpuint(fb.sender_ssrc, ==, 0xAAAA);
  g_assert_cmpuint(fb.media_ssrc, ==, 0xBBBB);
  /* 100..116 in one item, 117 opens the next, 200, 65535 (with 0 and 3 in its mask) */
  g_assert_cmpuint(dc_rtcp_nack_items(&fb), ==, 4);
  uint16_t seqs[64];
  size_t n = dc_rtcp_nack_expand(&fb, seqs, G_N_ELEMENTS(seqs));
  g_assert_cmpuint(n, ==, G_N_ELEMENTS(lost));
  uint16_t want[G_N_ELEMENTS(lost)];
  memcpy(want, lost, sizeof want);
  qsort(want, n, sizeof want[0], cmp_u16);
  qsort(seqs, n, sizeof seqs[0], cmp_u16);
  g_assert_cmpmem(seqs, n * 2, want, sizeof want);
  g_assert_cmpuint(dc_rtcp_nack_expand(&fb, seqs, 2), ==, 2); /* cap respected */
}

static void test_pli_fir_remb(void) {
  uint8_t buf[128];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, sizeof buf);
  dc_rtcp_write_pli(&w, 1, 2);
  dc_rtcp_write_fir(&w, 1, 3, 7);
  uint32_t ssrcs[] = {2, 3};
  dc_rtcp_write_remb(&w, 1, 1234567, ssrcs, 2);
  g_assert_cmpint(dc_rtcp_validate(buf, w.len), ==, DC_OK);
  dc_rtcp_iter it;
  dc_rtcp_iter_init(&it, buf, w.len);
  dc_rtcp_pkt pkt;
  dc_rtcp_fb fb;
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_kind_of(&pkt), ==, DC_RTCP_PLI);
  g_assert_cmpint(dc_rtcp_parse_fb(&pkt, &fb), ==, DC_OK);
  g_assert_cmpuint(fb.media_ssrc, ==, 2);
  g_assert_cmpuint(fb.fci_len, ==, 0);

  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_kind_of(&pkt), ==, DC_RTCP_FIR);
  g_assert_cmpint(dc_rtcp_parse_fb(&pkt, &fb), ==, DC_OK);
  g_assert_cmpuint(dc_rtcp_fir_entries(&fb), ==, 1);
  uint32_t ssrc;
  uint8_t seq;
  dc_rtcp_fir_entry(&fb, 0, &ssrc, &seq);
  g_assert_cmpuint(ssrc, ==, 3);
  g_assert_cmpuint(seq, ==, 7);

  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_kind_of(&pkt), ==, DC_RTCP_REMB);
  g_assert_cmpint(dc_rtcp_parse_fb(&pkt, &fb), ==, DC_OK);
  dc_rtcp_remb remb;
  g_assert_cmpint(dc_rtcp_parse_remb(&fb, &remb), ==, DC_OK);
  /* 1234567 needs 21 bits: 3 bits of exponent lose the low 3 bits */
  g_assert_cmpuint(remb.bitrate_bps, ==, 1234567 & ~7ull);
  g_assert_cmpuint(remb.n_ssrcs, ==, 2);
  g_assert_cmpuint(dc_rtcp_remb_ssrc(&remb, 1), ==, 3);
  g_assert_true(dc_rtcp_remb_covers(&remb, 2) && dc_rtcp_remb_covers(&remb, 3));
  g_assert_false(dc_rtcp_remb_covers(&remb, 4)); /* a stream it did not estimate (our mix: no abs-send-time) */
  remb.n_ssrcs = 0;
  g_assert_true(dc_rtcp_remb_covers(&remb, 4)); /* none listed: taken as all */
}

/* A REMB as libwebrtc sends it (captured bytes): 256000 bit/s for one SSRC. */
static void test_remb_wire(void) {
  const uint8_t pkt_bytes[] = {0x8f, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0,
                               'R', 'E', 'M', 'B', 1, 0x0b, 0xe8, 0x00, 0x12, 0x34, 0x56, 0x78};
  /* exp 2, mantissa 0x3e800 = 256000 -> 1024000 */
  dc_rtcp_iter it;
  dc_rtcp_iter_init(&it, pkt_bytes, sizeof pkt_bytes);
  dc_rtcp_pkt pkt;
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  dc_rtcp_fb fb;
  g_assert_cmpint(dc_rtcp_parse_fb(&pkt, &fb), ==, DC_OK);
  dc_rtcp_remb remb;
  g_assert_cmpint(dc_rtcp_parse_remb(&fb, &remb), ==, DC_OK);
  g_assert_cmpuint(remb.bitrate_bps, ==, 0x3e800u << 2);
  g_assert_cmpuint(dc_rtcp_remb_ssrc(&remb, 0), ==, 0x12345678);
}

static void test_twcc_roundtrip(void) {
  /* 40 packets: a run of received, a lost burst, a large gap, a reordered (negative) one. */
  dc_twcc_packet in[40];
  int64_t t = 64000 * 100 + 250 * 3;
  for (int i = 0; i < 40; i++) {
    in[i].seq = (uint16_t)(65530 + i); /* crosses the wrap */
    in[i].received = !(i >= 20 && i < 24);
    t += (i == 30) ? 250 * 1000 : 250 * 8; /* one 250 ms gap: a large delta */
    in[i].arrival_us = (i == 35) ? in[i - 1].arrival_us - 1000 : t;
  }
  dc_rtcp_twcc hdr = {.base_seq = 65530, .status_count = 40, .reference_time = 100,
                      .fb_count = 9};
  uint8_t buf[512];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, sizeof buf);
  g_assert_cmpint(dc_rtcp_write_twcc(&w, 5, 6, &hdr, in), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_validate(buf, w.len), ==, DC_OK);
  dc_rtcp_iter it;
  dc_rtcp_iter_init(&it, buf, w.len);
  dc_rtcp_pkt pkt;
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_kind_of(&pkt), ==, DC_RTCP_TWCC);
  dc_rtcp_fb fb;
  g_assert_cmpint(dc_rtcp_parse_fb(&pkt, &fb), ==, DC_OK);
  dc_rtcp_twcc got;
  dc_twcc_packet out[40];
  g_assert_cmpint(dc_rtcp_parse_twcc(&fb, &got, out, 39), ==, DC_ERR_NO_SPACE);
  g_assert_cmpint(dc_rtcp_parse_twcc(&fb, &got, out, 40), ==, DC_OK);
  g_assert_cmpuint(got.base_seq, ==, 65530);
  g_assert_cmpuint(got.status_count, ==, 40);
  g_assert_cmpint(got.reference_time, ==, 100);
  g_assert_cmpuint(got.fb_count, ==, 9);
  for (int i = 0; i < 40; i++) {
    g_assert_cmpuint(out[i].seq, ==, in[i].seq);
    g_assert_cmpint(out[i].received, ==, in[i].received);
    if (in[i].received)
      g_assert_cmpint(out[i].arrival_us, ==, in[i].arrival_us);
  }
  /* Truncating the deltas must be caught, not read past. */
  for (size_t cut = 4; cut < pkt.body_len; cut += 4) {
    dc_rtcp_fb short_fb = fb;
    short_fb.fci_len = cut - 8 < fb.fci_len ? cut - 8 : fb.fci_len;
    if (short_fb.fci_len < fb.fci_len - 3)
      g_assert_cmpint(dc_rtcp_parse_twcc(&short_fb, &got, out, 40), !=, DC_OK);
  }
}

/* Hand-assembled from the draft's wire format: base 10, 3 packets, reference time 1,
 * one status-vector chunk (two-bit): small, not received, large; deltas 4 and -8 ticks. */
static void test_twcc_wire(void) {
  const uint8_t fci[] = {0, 10, 0, 3, 0, 0, 1, 0, /* base, count, ref time, fb count */
                         0xC0 | (1 << 4) | (0 << 2) | 2, 0x00, /* 2-bit vector: 1,0,2 */
                         4, 0xFF, 0xF8, 0};
  dc_rtcp_fb fb = {.fmt = 15, .fci = fci, .fci_len = sizeof fci};
  dc_rtcp_twcc hdr;
  dc_twcc_packet pk[3];
  g_assert_cmpint(dc_rtcp_parse_twcc(&fb, &hdr, pk, 3), ==, DC_OK);
  g_assert_true(pk[0].received);
  g_assert_cmpint(pk[0].arrival_us, ==, 64000 + 1000);
  g_assert_false(pk[1].received);
  g_assert_true(pk[2].received);
  g_assert_cmpint(pk[2].arrival_us, ==, 64000 + 1000 - 2000);
  uint8_t bad[sizeof fci];
  memcpy(bad, fci, sizeof bad);
  bad[8] = 0xC0 | (3 << 4); /* reserved symbol 11 */
  fb.fci = bad;
  g_assert_cmpint(dc_rtcp_parse_twcc(&fb, &hdr, pk, 3), ==, DC_ERR_MALFORMED);
}

static void test_twcc_write_limits(void) {
  dc_twcc_packet in[2] = {{.seq = 0, .received = true, .arrival_us = 0},
                          {.seq = 1, .received = true, .arrival_us = 9000000}}; /* +9 s */
  dc_rtcp_twcc hdr = {.base_seq = 0, .status_count = 2};
  uint8_t buf[128];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, sizeof buf);
  g_assert_cmpint(dc_rtcp_write_twcc(&w, 1, 2, &hdr, in), ==, DC_ERR_MALFORMED);
  in[1].seq = 5;
  in[1].arrival_us = 1000;
  g_assert_cmpint(dc_rtcp_write_twcc(&w, 1, 2, &hdr, in), ==, DC_ERR_MALFORMED);
  g_assert_cmpuint(w.len, ==, 0);
}

static void test_malformed(void) {
  uint8_t buf[64];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, sizeof buf);
  dc_rtcp_write_pli(&w, 1, 2);
  dc_rtcp_write_pli(&w, 1, 3);
  size_t len = w.len;
  g_assert_cmpint(dc_rtcp_validate(buf, len), ==, DC_OK);
  g_assert_cmpint(dc_rtcp_validate(buf, len - 1), ==, DC_ERR_TRUNCATED);
  g_assert_cmpint(dc_rtcp_validate(buf, 0), ==, DC_ERR_TRUNCATED);
  buf[0] |= 0x20; /* padding flag on a packet that is not last */
  g_assert_cmpint(dc_rtcp_validate(buf, len), ==, DC_ERR_MALFORMED);
  buf[0] &= ~0x20;
  buf[12] |= 0x20; /* on the last packet, with a zero count */
  buf[len - 1] = 0;
  g_assert_cmpint(dc_rtcp_validate(buf, len), ==, DC_ERR_MALFORMED);
  buf[len - 1] = 4; /* count within the body: ok */
  g_assert_cmpint(dc_rtcp_validate(buf, len), ==, DC_OK);
  buf[len - 1] = 9; /* more than the 8-byte body */
  g_assert_cmpint(dc_rtcp_validate(buf, len), ==, DC_ERR_MALFORMED);
  buf[12] = 0x41; /* version 1 */
  g_assert_cmpint(dc_rtcp_validate(buf, len), ==, DC_ERR_UNSUPPORTED);

  /* An SR whose report count promises more blocks than it carries. */
  const uint8_t sr[] = {0x82, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  dc_rtcp_iter it;
  dc_rtcp_iter_init(&it, sr, sizeof sr);
  dc_rtcp_pkt pkt;
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  dc_rtcp_report rep;
  g_assert_cmpint(dc_rtcp_parse_report(&pkt, &rep), ==, DC_ERR_TRUNCATED);
  /* SDES chunk without its terminating null item. */
  const uint8_t sdes[] = {0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, 'a', 'b'};
  dc_rtcp_iter_init(&it, sdes, sizeof sdes);
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  dc_rtcp_sdes s;
  g_assert_cmpint(dc_rtcp_parse_sdes(&pkt, &s), ==, DC_ERR_TRUNCATED);
  /* REMB claiming 5 SSRCs with room for 1. */
  const uint8_t remb[] = {0x8f, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0,
                          'R', 'E', 'M', 'B', 5, 0, 0, 1, 0, 0, 0, 2};
  dc_rtcp_iter_init(&it, remb, sizeof remb);
  g_assert_cmpint(dc_rtcp_next(&it, &pkt), ==, DC_OK);
  dc_rtcp_fb fb;
  g_assert_cmpint(dc_rtcp_parse_fb(&pkt, &fb), ==, DC_OK);
  dc_rtcp_remb r;
  g_assert_cmpint(dc_rtcp_parse_remb(&fb, &r), ==, DC_ERR_TRUNCATED);
}

static void test_writer_overflow(void) {
  uint8_t buf[16];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, sizeof buf);
  dc_rtcp_write_pli(&w, 1, 2); /* 12 bytes */
  g_assert_false(w.overflow);
  dc_rtcp_write_pli(&w, 1, 2); /* would need 24 */
  g_assert_true(w.overflow);
  g_assert_cmpuint(w.len, ==, 12);
  dc_rtcp_write_sdes_cname(&w, 1, "x"); /* ignored once overflowed */
  g_assert_cmpuint(w.len, ==, 12);
}

/* RFC 3550 §6.4.1's example: an SR sent at 0xb705:2000 (LSR), held 5.25 s (DLSR
 * 0x0005:4000), its report back at 0xb710:8000: the round trip is 0x0006:2000, 6.125 s. Then
 * a wrap of the 32-bit fields, no SR answered, and a result past the bound. */
static void test_round_trip(void) {
  dc_rtcp_report_block b = {.lsr = 0xb7052000u, .dlsr = 0x00054000u};
  g_assert_cmpint(dc_rtcp_rtt_ms(0xb7108000u, &b, 10000), ==, 6125);
  b = (dc_rtcp_report_block){.lsr = 0xffff8000u, .dlsr = 0x00004000u}; /* sent 0.5 s before a wrap */
  g_assert_cmpint(dc_rtcp_rtt_ms(0x00002000u, &b, 10000), ==, 375); /* back 0.125 s after it, held 0.25 s */
  b = (dc_rtcp_report_block){.lsr = 0, .dlsr = 0};
  g_assert_cmpint(dc_rtcp_rtt_ms(0x12345678u, &b, 10000), ==, -1);
  b = (dc_rtcp_report_block){.lsr = 0x00100000u, .dlsr = 0x00200000u}; /* held longer than since: a clock step */
  g_assert_cmpint(dc_rtcp_rtt_ms(0x00200000u, &b, 10000), ==, -1);
  b = (dc_rtcp_report_block){.lsr = 0x00100000u, .dlsr = 0};
  g_assert_cmpint(dc_rtcp_rtt_ms(0x00100000u + 655, &b, 10000), ==, 10); /* 10 ms */
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/rtcp/sr-sdes-compound", test_sr_sdes_compound);
  g_test_add_func("/rtcp/sdes-many-items", test_sdes_many_items);
  g_test_add_func("/rtcp/rr-and-bye", test_rr_and_bye);
  g_test_add_func("/rtcp/nack", test_nack);
  g_test_add_func("/rtcp/pli-fir-remb", test_pli_fir_remb);
  g_test_add_func("/rtcp/remb-wire", test_remb_wire);
  g_test_add_func("/rtcp/twcc-roundtrip", test_twcc_roundtrip);
  g_test_add_func("/rtcp/twcc-wire", test_twcc_wire);
  g_test_add_func("/rtcp/twcc-write-limits", test_twcc_write_limits);
  g_test_add_func("/rtcp/malformed", test_malformed);
  g_test_add_func("/rtcp/writer-overflow", test_writer_overflow);
  g_test_add_func("/rtcp/round-trip", test_round_trip);
  return g_test_run();
}
