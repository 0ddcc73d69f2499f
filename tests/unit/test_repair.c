/* Unit tests for media/repair: the packet cache answers NACKs for about a second and no
 * longer, grows only as far as a source's rate needs; reception statistics and NACK lists
 * (gaps, repairs, retries, storms, restarts); RTX wrapping both ways. */
#include <glib.h>
#include <string.h>

#include "media/repair.h"
#include "media/rtp.h"

static size_t packet(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload) {
  dc_rtp_header h = {.payload_type = 96, .seq = seq, .timestamp = seq * 3000u, .ssrc = ssrc};
  size_t n = dc_rtp_write_header(buf, 64, &h, NULL, 0);
  for (size_t i = 0; i < payload; i++)
    buf[n + i] = (uint8_t)(seq + i);
  return n + payload;
}

static void test_cache_hit_and_age(void) {
  dc_packet_cache *c = dc_packet_cache_new(1000000, 1 << 20);
  uint8_t buf[1500], out[1500];
  uint64_t now = 5000000;
  for (uint16_t seq = 65500; seq != 100; seq++, now += 4000) /* wraps the sequence number */
    dc_packet_cache_put(c, 0x11, seq, buf, packet(buf, 0x11, seq, 1100), now);
  size_t want = packet(buf, 0x11, 40, 1100);
  g_assert_cmpuint(dc_packet_cache_get(c, 0x11, 40, now, out, sizeof out), ==, want);
  g_assert_cmpmem(out, want, buf, want);
  g_assert_cmpuint(dc_packet_cache_get(c, 0x12, 40, now, out, sizeof out), ==, 0); /* other SSRC */
  g_assert_cmpuint(dc_packet_cache_get(c, 0x11, 100, now, out, sizeof out), ==, 0); /* not yet */
  g_assert_cmpuint(dc_packet_cache_get(c, 0x11, 40, now, out, 100), ==, 0);          /* no room */
  /* a second later it is gone, even though the ring still holds the bytes */
  g_assert_cmpuint(dc_packet_cache_get(c, 0x11, 40, now + 1100000, out, sizeof out), ==, 0);
  dc_packet_cache_free(c);
}

/* How long a packet is sent again depends on the leg: a receiver asks again a round trip
 * after its first ask went unanswered. On a LAN a second, as before; on a highland leg (a
 * 600 ms round trip with its queue) the third ask still finds the packet; never beyond the
 * cache's own 3 s, however slow the leg. */
static void test_repair_age_follows_round_trip(void) {
  g_assert_cmpuint(dc_repair_age_us(-1), ==, DC_REPAIR_AGE_MIN_US); /* not known yet */
  g_assert_cmpuint(dc_repair_age_us(20), ==, DC_REPAIR_AGE_MIN_US);
  g_assert_cmpuint(dc_repair_age_us(400), ==, 1700000);
  g_assert_cmpuint(dc_repair_age_us(600), ==, 2300000);
  g_assert_cmpuint(dc_repair_age_us(5000), ==, DC_REPAIR_AGE_MAX_US);
  dc_packet_cache *c = dc_packet_cache_new(DC_REPAIR_AGE_MAX_US, 1 << 20);
  uint8_t buf[1500], out[1500];
  uint64_t at = 1000000;
  dc_packet_cache_put(c, 7, 9, buf, packet(buf, 7, 9, 1000), at);
  uint64_t later = at + 1500000; /* asked again 1.5 s on */
  g_assert_cmpuint(dc_packet_cache_get_within(c, 7, 9, later, dc_repair_age_us(20), out, sizeof out), ==, 0);
  g_assert_cmpuint(dc_packet_cache_get_within(c, 7, 9, later, dc_repair_age_us(600), out, sizeof out), ==, 1000 + 12);
  /* a longer age than the cache's own is the cache's own */
  g_assert_cmpuint(dc_packet_cache_get_within(c, 7, 9, at + 3100000, 10000000, out, sizeof out), ==, 0);
  dc_packet_cache_free(c);
}

/* 2.5 Mbit/s of 1200-byte packets for three seconds: the ring grows until it holds a
 * second, and every packet of the last second is there. A slow source keeps the small ring. */
static void test_cache_grows_to_rate(void) {
  dc_packet_cache *fast = dc_packet_cache_new(1000000, 1 << 20);
  dc_packet_cache *slow = dc_packet_cache_new(1000000, 1 << 20);
  uint8_t buf[1500], out[1500];
  uint64_t now = 1;
  uint16_t seq = 0;
  for (int i = 0; i < 780; i++, now += 3846) { /* 260 packets a second */
    size_t n = packet(buf, 7, seq, 1188);
    dc_packet_cache_put(fast, 7, seq, buf, n, now);
    if (i % 13 == 0) /* 20 packets a second: 190 kbit/s */
      dc_packet_cache_put(slow, 7, seq, buf, n, now);
    seq++;
  }
  g_assert_cmpuint(dc_packet_cache_memory(slow), <, 100 * 1024); /* the 64 KiB ring + index */
  g_assert_cmpuint(dc_packet_cache_memory(fast), >, 512 * 1024); /* grew to hold a second */
  g_assert_cmpuint(dc_packet_cache_memory(fast), <=, (512 + 40) * 1024);
  int held = 0;
  for (uint16_t s = (uint16_t)(seq - 250); s != seq; s++)
    held += dc_packet_cache_get(fast, 7, s, now, out, sizeof out) > 0;
  g_assert_cmpint(held, ==, 250);
  dc_packet_cache_free(fast);
  dc_packet_cache_free(slow);
}

static void test_cache_layers(void) {
  dc_packet_cache *c = dc_packet_cache_new(1000000, 1 << 20);
  uint8_t buf[1500], out[1500];
  for (uint32_t ssrc = 1; ssrc <= 5; ssrc++) /* a fifth SSRC replaces the stalest */
    dc_packet_cache_put(c, ssrc, 9, buf, packet(buf, ssrc, 9, 10), ssrc * 1000);
  g_assert_cmpuint(dc_packet_cache_get(c, 1, 9, 6000, out, sizeof out), ==, 0);
  for (uint32_t ssrc = 2; ssrc <= 5; ssrc++)
    g_assert_cmpuint(dc_packet_cache_get(c, ssrc, 9, 6000, out, sizeof out), ==, 22);
  dc_packet_cache_free(c);
}

static void test_rx_gap_nack_and_repair(void) {
  dc_rx_stream s;
  dc_rx_stream_init(&s, 0xAA, 90000);
  uint64_t now = 1000000;
  uint16_t nacks[64];
  for (uint16_t seq = 65530; seq != 2; seq++)
    g_assert_true(dc_rx_stream_update(&s, seq, 0, 100, now));
  g_assert_true(dc_rx_stream_update(&s, 6, 0, 100, now)); /* 2..5 lost, across the wrap */
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now, 100000, 1000000, nacks, 64), ==, 4);
  g_assert_cmpuint(nacks[0], ==, 2);
  g_assert_cmpuint(nacks[3], ==, 5);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 50000, 100000, 1000000, nacks, 64), ==, 0); /* too soon */
  g_assert_true(dc_rx_stream_update(&s, 3, 0, 100, now + 60000)); /* repaired */
  g_assert_false(dc_rx_stream_update(&s, 3, 0, 100, now + 61000)); /* and its duplicate */
  g_assert_false(dc_rx_stream_update(&s, 6, 0, 100, now + 61000));
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 100000, 100000, 1000000, nacks, 64), ==, 3);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 200000, 100000, 1000000, nacks, 64), ==, 3);
  /* three tries, then given up: counted (the repaired one not), and when */
  g_assert_cmpuint(s.given_up, ==, 0);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 300000, 100000, 1000000, nacks, 64), ==, 0);
  g_assert_cmpint(s.n_missing, ==, 0);
  g_assert_cmpuint(s.given_up, ==, 3);
  g_assert_cmpuint(s.given_up_us, ==, now + 300000);
  g_assert_cmpuint(s.recovered, ==, 1);
  dc_rtcp_report_block rb;
  dc_rx_stream_report(&s, now, &rb);
  g_assert_cmpuint(rb.ssrc, ==, 0xAA);
  g_assert_cmpint(rb.cumulative_lost, ==, 3);
  g_assert_cmpuint(rb.ext_highest_seq, ==, 65536 + 6);
  g_assert_cmpuint(rb.fraction_lost, ==, 3 * 256 / 13);
  dc_rx_stream_report(&s, now, &rb); /* the next interval saw nothing */
  g_assert_cmpuint(rb.fraction_lost, ==, 0);
}

/* Retries spaced by the caller's interval (the bridge's: a round trip): at 375 ms three asks
 * take 750 ms and all come before the age limit; a gap too wide to ask for is given up at once,
 * and so is the oldest missing packet when the list is full. */
static void test_rx_given_up(void) {
  dc_rx_stream s;
  dc_rx_stream_init(&s, 7, 90000);
  uint16_t nacks[DC_NACK_MAX];
  uint64_t now = 5000000;
  g_assert_true(dc_rx_stream_update(&s, 100, 0, 100, now));
  g_assert_true(dc_rx_stream_update(&s, 102, 0, 100, now)); /* 101 lost */
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now, 375000, 1000000, nacks, DC_NACK_MAX), ==, 1);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 300000, 375000, 1000000, nacks, DC_NACK_MAX), ==, 0);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 375000, 375000, 1000000, nacks, DC_NACK_MAX), ==, 1);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 750000, 375000, 1000000, nacks, DC_NACK_MAX), ==, 1);
  g_assert_cmpuint(s.given_up, ==, 0);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 1000001, 375000, 1000000, nacks, DC_NACK_MAX), ==, 0);
  g_assert_cmpuint(s.given_up, ==, 1);
  g_assert_cmpuint(s.given_up_us, ==, now + 1000001);
  /* a gap wider than the list: given up whole, at once */
  g_assert_true(dc_rx_stream_update(&s, (uint16_t)(102 + DC_NACK_MAX + 2), 0, 100, now + 1100000));
  g_assert_cmpuint(s.given_up, ==, 1 + DC_NACK_MAX + 1);
  g_assert_cmpuint(s.given_up_us, ==, now + 1100000);
  g_assert_cmpint(s.n_missing, ==, 0);
}

/* A packet rebuilt from FEC is asked for no more but stays lost in the reports (the sender
 * sizes its FEC by that loss); numbers found to carry nothing (a lost FEC packet between two
 * frames) are neither asked for nor given up. */
static void test_rx_rebuilt_and_not_needed(void) {
  dc_rx_stream s;
  dc_rx_stream_init(&s, 7, 90000);
  uint16_t nacks[DC_NACK_MAX];
  uint64_t now = 5000000;
  g_assert_true(dc_rx_stream_update(&s, 100, 0, 100, now));
  g_assert_true(dc_rx_stream_update(&s, 105, 0, 100, now)); /* 101-104 missing */
  g_assert_cmpint(s.n_missing, ==, 4);
  g_assert_true(dc_rx_stream_rebuilt(&s, 101));
  g_assert_false(dc_rx_stream_rebuilt(&s, 101)); /* once */
  g_assert_false(dc_rx_stream_rebuilt(&s, 99));  /* never missing */
  uint16_t forgot[2];
  g_assert_cmpuint(dc_rx_stream_not_needed(&s, 103, 2, forgot), ==, 2);
  g_assert_true((forgot[0] == 103 && forgot[1] == 104) || (forgot[0] == 104 && forgot[1] == 103));
  g_assert_cmpuint(dc_rx_stream_not_needed(&s, 103, 2, forgot), ==, 0);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now, 100000, 1000000, nacks, DC_NACK_MAX), ==, 1);
  g_assert_cmpuint(nacks[0], ==, 102);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 2000000, 100000, 1000000, nacks, DC_NACK_MAX), ==, 0);
  g_assert_cmpuint(s.given_up, ==, 1); /* 102 only */
  g_assert_cmpuint(s.rebuilt, ==, 1);
  g_assert_cmpuint(s.not_needed, ==, 2);
  dc_rtcp_report_block rb;
  dc_rx_stream_report(&s, now, &rb);
  g_assert_cmpint(rb.cumulative_lost, ==, 4); /* all four were lost on the way */
  /* across a wrap */
  dc_rx_stream_init(&s, 8, 90000);
  g_assert_true(dc_rx_stream_update(&s, 65534, 0, 100, now));
  g_assert_true(dc_rx_stream_update(&s, 2, 0, 100, now)); /* 65535, 0, 1 missing */
  g_assert_cmpuint(dc_rx_stream_not_needed(&s, 65535, 3, NULL), ==, 3);
  g_assert_cmpint(s.n_missing, ==, 0);
}

/* A gap's packets age from when they were likely sent, spread over the gap: after a 10 s
 * outage only its last 1.4 s (the age limit here) is asked for, the rest given up at once;
 * a short gap is asked for whole. A key frame asked for gives up what is still missing. */
static void test_rx_outage_ages_its_gap(void) {
  dc_rx_stream s;
  dc_rx_stream_init(&s, 9, 90000);
  uint16_t nacks[DC_NACK_MAX];
  uint64_t now = 5000000;
  g_assert_true(dc_rx_stream_update(&s, 1000, 0, 100, now));
  g_assert_true(dc_rx_stream_update(&s, 1003, 0, 100, now + 33000)); /* 1001, 1002 */
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 33000, 300000, 1400000, nacks, DC_NACK_MAX), ==, 2);
  g_assert_cmpuint(s.given_up, ==, 0);
  /* 10 s later, 100 numbers on: 1004 .. 1103 sent while the link was down */
  now += 33000 + 10000000;
  g_assert_true(dc_rx_stream_update(&s, 1104, 0, 100, now));
  size_t n = dc_rx_stream_nacks(&s, now, 300000, 1400000, nacks, DC_NACK_MAX);
  /* number 1003 + k is taken as sent 10 s * k / 101 after 1003: k = 87 .. 100 are younger
   * than 1.4 s; the two of the short gap, 10 s old, are given up too */
  g_assert_cmpuint(n, ==, 14);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpuint(nacks[i], >=, 1090);
  g_assert_cmpuint(s.given_up, ==, 86 + 2);
  g_assert_cmpint(s.n_missing, ==, 14);
  dc_rx_stream_give_up_missing(&s, now + 1);
  g_assert_cmpint(s.n_missing, ==, 0);
  g_assert_cmpuint(s.given_up, ==, 100 + 2);
  g_assert_cmpuint(s.given_up_us, ==, now + 1);
  g_assert_cmpuint(dc_rx_stream_nacks(&s, now + 400000, 300000, 1400000, nacks, DC_NACK_MAX), ==, 0);
}

/* A storm: every other packet lost for a long while. The list stays bounded and each
 * missing packet is asked for at most three times. */
static void test_rx_nack_storm_bounded(void) {
  dc_rx_stream s;
  dc_rx_stream_init(&s, 1, 90000);
  uint16_t nacks[DC_NACK_MAX];
  uint64_t now = 1, sent = 0;
  for (uint16_t seq = 0; seq < 20000; seq += 2, now += 2000) {
    dc_rx_stream_update(&s, seq, 0, 100, now);
    sent += dc_rx_stream_nacks(&s, now, 100000, 1000000, nacks, DC_NACK_MAX);
    g_assert_cmpint(s.n_missing, <=, DC_NACK_MAX);
  }
  g_assert_cmpuint(sent, <=, 3 * 10000);
  g_assert_cmpuint(sent, >=, 9999);
  /* a jump far ahead is a restart, not 30000 missing packets, once the next packet
   * confirms it (RFC 3550 A.1) */
  for (uint16_t seq = 50000 - DC_RX_JUMP_CONFIRM + 1; seq < 50000; seq++)
    g_assert_false(dc_rx_stream_update(&s, seq, 0, 100, now));
  g_assert_true(dc_rx_stream_update(&s, 50000, 0, 100, now));
  g_assert_cmpint(s.n_missing, ==, 0);
  /* a gap larger than the list: given up at once (the decoder asks for a key frame) */
  dc_rx_stream_update(&s, 50000 + DC_NACK_MAX + 10, 0, 100, now);
  g_assert_cmpint(s.n_missing, ==, 0);
}

/* A retransmission that comes more than MAX_MISORDER packets late is dropped, not taken for
 * a restart: taken so, the packets after it looked missing and were forwarded twice. */
static void test_rx_late_retransmission_is_no_restart(void) {
  dc_rx_stream s;
  dc_rx_stream_init(&s, 1, 90000);
  uint64_t now = 1;
  for (uint16_t seq = 1000; seq < 1300; seq++, now += 1000)
    g_assert_true(seq == 1100 || dc_rx_stream_update(&s, seq, 0, 100, now)); /* 1100 lost */
  g_assert_false(dc_rx_stream_update(&s, 1100, 0, 100, now)); /* its answer, 200 packets late */
  for (uint16_t seq = 1150; seq < 1150 + DC_RX_JUMP_CONFIRM - 1; seq++) /* old ones resent as padding */
    g_assert_false(dc_rx_stream_update(&s, seq, 0, 100, now));
  for (uint16_t seq = 1300; seq < 1310; seq++, now += 1000) {
    if (seq == 1305) /* more padding, between new packets: still no restart */
      for (uint16_t old = 1157; old < 1157 + DC_RX_JUMP_CONFIRM - 1; old++)
        g_assert_false(dc_rx_stream_update(&s, old, 0, 100, now));
    g_assert_true(dc_rx_stream_update(&s, seq, 0, 100, now));
    g_assert_cmpint(s.n_missing, <=, 1); /* nothing after 1100 is taken for missing */
  }
  /* the packets from before are still duplicates */
  g_assert_false(dc_rx_stream_update(&s, 1250, 0, 100, now));
  g_assert_false(dc_rx_stream_update(&s, 1299, 0, 100, now));
}

/* Loss in runs, as a radio link's fades make it, against loss one packet at a time: random
 * loss of 10 and 20 % (1.1 and 1.25 packets a gap) is not runs; Gilbert-Elliott loss of runs
 * of three on average is, whatever the seed; nor are a join's first seconds or an outage; a
 * packet that came late shortens its gap. */
static bool feed_loss(uint32_t seed, double p_lose, double p_stay_lost, int packets) {
  GRand *rng = g_rand_new_with_seed(seed);
  dc_rx_stream s;
  dc_rx_stream_init(&s, 0xBB, 48000);
  bool lost = false;
  uint64_t now = 1000000;
  dc_rx_stream_update(&s, 0, 0, 80, now); /* the join, then the loss */
  now += DC_LOSS_RUNS_SETTLE_US;
  for (int i = 1; i < packets; i++, now += 60000) {
    lost = g_rand_double(rng) < (lost ? p_stay_lost : p_lose);
    if (!lost)
      dc_rx_stream_update(&s, (uint16_t)i, (uint32_t)i * 2880, 80, now);
  }
  g_rand_free(rng);
  g_test_message("seed %u, p %.2f/%.2f: %u gaps, %u packets in them", seed, p_lose, p_stay_lost, s.loss_gaps,
                 s.loss_gap_packets);
  return dc_rx_stream_loses_in_runs(&s);
}

static void test_rx_loss_in_runs(void) {
  for (uint32_t seed = 1; seed <= 20; seed++) {
    g_assert_false(feed_loss(seed, 0.10, 0.10, 600)); /* random: a lost packet is no likelier next */
    g_assert_false(feed_loss(seed, 0.20, 0.20, 600));
    g_assert_true(feed_loss(seed, 0.036, 0.67, 600)); /* runs of 3, 10 % of packets in all */
  }
  dc_rx_stream s;
  dc_rx_stream_init(&s, 0xBB, 48000);
  uint16_t seq = 0;
  uint64_t now = 1000000;
  dc_rx_stream_update(&s, seq, 0, 80, now);
  for (int k = 0; k < 8; k++) { /* the join's first seconds: not counted */
    seq = (uint16_t)(seq + 4);
    dc_rx_stream_update(&s, seq, 0, 80, now + DC_LOSS_RUNS_SETTLE_US - 1);
  }
  g_assert_cmpuint(s.loss_gaps, ==, 0);
  now += DC_LOSS_RUNS_SETTLE_US;
  for (int k = 0; k < 5; k++) { /* five runs of three: too few to say */
    seq = (uint16_t)(seq + 4);
    dc_rx_stream_update(&s, seq, 0, 80, now);
  }
  g_assert_false(dc_rx_stream_loses_in_runs(&s));
  seq = (uint16_t)(seq + 41); /* an outage of 40 packets is no run */
  dc_rx_stream_update(&s, seq, 0, 80, now);
  g_assert_false(dc_rx_stream_loses_in_runs(&s));
  g_assert_cmpuint(s.loss_gaps, ==, 5);
  seq = (uint16_t)(seq + 4); /* a sixth run */
  dc_rx_stream_update(&s, seq, 0, 80, now);
  g_assert_true(dc_rx_stream_loses_in_runs(&s));
  /* its three came late after all: the runs average 2.5, still runs */
  for (int k = 1; k <= 3; k++)
    g_assert_true(dc_rx_stream_update(&s, (uint16_t)(seq - k), 0, 80, now));
  g_assert_cmpuint(s.loss_gap_packets, ==, 15);
  g_assert_true(dc_rx_stream_loses_in_runs(&s));
}

static void test_rtx_round_trip(void) {
  uint8_t buf[1500], orig[1500];
  size_t n = packet(buf, 0x55, 4242, 300);
  memcpy(orig, buf, n);
  size_t w = dc_rtx_wrap(buf, n, sizeof buf, 97, 0x66, 17);
  g_assert_cmpuint(w, ==, n + 2);
  dc_rtp r;
  g_assert_cmpint(dc_rtp_parse(&r, buf, w), ==, DC_OK);
  g_assert_cmpuint(r.payload_type, ==, 97);
  g_assert_cmpuint(r.ssrc, ==, 0x66);
  g_assert_cmpuint(r.seq, ==, 17);
  g_assert_cmpuint(dc_rd16(dc_rtp_payload(&r)), ==, 4242);
  g_assert_cmpuint(dc_rtx_wrap(buf, w, w + 1, 97, 0x66, 18), ==, 0); /* no room */
  g_assert_cmpuint(dc_rtx_unwrap(buf, w, 96, 0x55), ==, n);
  g_assert_cmpmem(buf, n, orig, n);
  /* a padding-only probe carries no packet */
  dc_rtp_header h = {.payload_type = 97, .seq = 1, .ssrc = 0x66};
  size_t hl = dc_rtp_write_header(buf, sizeof buf, &h, NULL, 0);
  buf[0] |= 0x20;
  memset(buf + hl, 0, 4);
  buf[hl + 3] = 4; /* four bytes, all padding */
  g_assert_cmpuint(dc_rtx_unwrap(buf, hl + 4, 96, 0x55), ==, 0);
}

/* A probe's padding: parses as RTP, all padding, abs-send-time in place to be stamped, the
 * size asked for (at most 255 octets of padding), and reads back as no packet. */
static void test_rtx_padding(void) {
  uint8_t buf[1500];
  size_t n = dc_rtx_padding(buf, sizeof buf, 97, 0x66, 9, 1234, 3, 200);
  g_assert_cmpuint(n, ==, 200);
  dc_rtp r;
  g_assert_cmpint(dc_rtp_parse(&r, buf, n), ==, DC_OK);
  g_assert_true(r.padding);
  g_assert_cmpuint(r.payload_len, ==, 0);
  g_assert_cmpuint(r.padding_len, ==, 200 - r.payload_off);
  g_assert_cmpuint(r.payload_type, ==, 97);
  g_assert_cmpuint(r.seq, ==, 9);
  g_assert_cmpuint(r.timestamp, ==, 1234);
  g_assert_cmpuint(r.ssrc, ==, 0x66);
  uint32_t ast = 1;
  g_assert_true(dc_rtp_abs_send_time(&r, 3, &ast));
  g_assert_cmpint(dc_rtp_set_abs_send_time(buf, &r, 3, 0xABCDEF), ==, DC_OK);
  g_assert_true(dc_rtp_parse(&r, buf, n) == DC_OK && dc_rtp_abs_send_time(&r, 3, &ast) && ast == 0xABCDEF);
  g_assert_cmpuint(dc_rtx_unwrap(buf, n, 96, 0x55), ==, 0);
  /* large asks are capped at 255 octets of padding; no extension without an id */
  n = dc_rtx_padding(buf, sizeof buf, 97, 0x66, 10, 0, 0, 1000);
  g_assert_cmpuint(n, ==, 12 + 255);
  g_assert_cmpint(dc_rtp_parse(&r, buf, n), ==, DC_OK);
  g_assert_false(r.extension);
  g_assert_cmpuint(dc_rtx_padding(buf, 20, 97, 0x66, 10, 0, 3, 200), ==, 0); /* no room */
}

/* Repairs to a receiver take at most half its estimate over time, with a second's worth
 * saved up, whatever the NACKs ask. */
static void test_repair_budget(void) {
  dc_repair_budget b = {0};
  uint64_t now = 5000000, estimate = 128000; /* 64 kbit/s for repairs: 8000 B a second */
  size_t sent = 0;
  while (dc_repair_budget_take(&b, estimate, 1000, now))
    sent += 1000;
  g_assert_cmpuint(sent, ==, 8000); /* the burst, then nothing until time passes */
  /* a storm: 1000 B asked for every 10 ms for 10 s gets what the rate allows */
  sent = 0;
  for (int i = 1; i <= 1000; i++)
    sent += dc_repair_budget_take(&b, estimate, 1000, now + (uint64_t)i * 10000) ? 1000 : 0;
  g_assert_cmpuint(sent, >=, 79000);
  g_assert_cmpuint(sent, <=, 80000);
  /* a quiet second saves up only one burst; a falling estimate shrinks what is saved */
  now += 10000000 + 5000000;
  sent = 0;
  while (dc_repair_budget_take(&b, estimate / 4, 1000, now))
    sent += 1000;
  g_assert_cmpuint(sent, ==, 2000);
  /* a time that goes back (clock mix-up) gives nothing */
  g_assert_false(dc_repair_budget_take(&b, estimate, 1000, now - 1000000));
}

/* Issue 12: a receiver's key-frame request inside the spacing is held to its end, not
 * dropped (the receiver waited for its own next request: a highland point froze 3.8 s); one
 * is held at a time; a key frame that arrives meanwhile makes it needless; a shorter spacing
 * (the source lost a packet for good) brings it forward. */
static void test_keyframe_held_not_dropped(void) {
  const int64_t spacing = 2500000, t0 = 10000000;
  dc_keyframe_gate g = {0};
  int64_t due = 0;
  g_assert_cmpint(dc_keyframe_gate_ask(&g, t0, spacing, &due), ==, DC_KEYFRAME_SEND);
  /* 1 s later: held until the spacing ends */
  g_assert_cmpint(dc_keyframe_gate_ask(&g, t0 + 1000000, spacing, &due), ==, DC_KEYFRAME_HELD_NEW);
  g_assert_cmpint(due, ==, t0 + spacing);
  /* asked again meanwhile: the one held stands, no second timer */
  g_assert_cmpint(dc_keyframe_gate_ask(&g, t0 + 1500000, spacing, &due), ==, DC_KEYFRAME_HELD);
  /* a timer early (another's) sends nothing; the held one's sends once */
  g_assert_false(dc_keyframe_gate_due(&g, t0 + 2000000));
  g_assert_true(dc_keyframe_gate_due(&g, t0 + spacing));
  g_assert_false(dc_keyframe_gate_due(&g, t0 + spacing + 1000));
  g_assert_cmpint(g.sent_us, ==, t0 + spacing);

  /* held, then a key frame comes (another receiver's request, or the sender's own): dropped */
  int64_t t1 = t0 + spacing;
  g_assert_cmpint(dc_keyframe_gate_ask(&g, t1 + 100000, spacing, &due), ==, DC_KEYFRAME_HELD_NEW);
  dc_keyframe_gate_key_seen(&g, t1 + 400000);
  g_assert_false(dc_keyframe_gate_due(&g, due));
  g_assert_cmpint(g.sent_us, ==, t1);
  /* a key frame from before the request does not count */
  g_assert_cmpint(dc_keyframe_gate_ask(&g, t1 + 600000, spacing, &due), ==, DC_KEYFRAME_HELD_NEW);
  g_assert_true(dc_keyframe_gate_due(&g, due));

  /* held at the long spacing, then asked with a short one: brought forward */
  int64_t t2 = due;
  g_assert_cmpint(dc_keyframe_gate_ask(&g, t2 + 100000, spacing, &due), ==, DC_KEYFRAME_HELD_NEW);
  g_assert_cmpint(due, ==, t2 + spacing);
  g_assert_cmpint(dc_keyframe_gate_ask(&g, t2 + 200000, 500000, &due), ==, DC_KEYFRAME_HELD_NEW);
  g_assert_cmpint(due, ==, t2 + 500000);
  g_assert_true(dc_keyframe_gate_due(&g, t2 + 500000));
  g_assert_false(dc_keyframe_gate_due(&g, t2 + spacing)); /* the first timer: nothing left */
  /* past the spacing a request goes at once */
  g_assert_cmpint(dc_keyframe_gate_ask(&g, t2 + 500000 + spacing, spacing, &due), ==, DC_KEYFRAME_SEND);
}

/* A muted point's silence, dropped upstream but one packet in eight (bridge/silence_filter.h):
 * the gaps beside a silent packet are not loss (none reported, no loss run, nothing to ask
 * for), across the wrap; a gap between two packets with sound still is. */
static void test_rx_silence_skipped(void) {
  dc_rx_stream s;
  dc_rx_stream_init(&s, 0xAB, 48000);
  uint64_t now = 1000000;
  uint16_t seq = 65530;
  struct {
    uint16_t step; /* the number after the last one that came */
    bool silent;
  } arrivals[] = {
      {1, false}, {1, false}, {1, false}, /* speech: 65530..65532 */
      {4, true},  {8, true},  {8, true},  /* muted: the samples, across the wrap */
      {5, false}, {1, false},             /* speech again after the filter's gap */
      {3, false}, {1, false},             /* two lost between sound: loss */
      {1, true},  {6, false},             /* one silent packet, the mute's start lost with it: not loss */
  };
  for (size_t i = 0; i < G_N_ELEMENTS(arrivals); i++) {
    seq = (uint16_t)(seq + (i ? arrivals[i].step : 0));
    dc_rx_stream_silence_skipped(&s, seq, arrivals[i].silent);
    g_assert_true(dc_rx_stream_update(&s, seq, seq * 960u, 40, now));
    now += 20000u * arrivals[i].step;
  }
  dc_rtcp_report_block rb;
  dc_rx_stream_report(&s, now, &rb);
  g_assert_cmpint(rb.cumulative_lost, ==, 2);
  g_assert_cmpuint(rb.ext_highest_seq, ==, 65536u + seq);
  g_assert_cmpuint(s.skipped, ==, 3 + 7 + 7 + 4 + 5);
  g_assert_cmpint(s.n_missing, ==, 2); /* the two lost with sound either side, and only they */
  g_assert_cmpuint(s.missing[0].seq + s.missing[1].seq, ==, 2u * (seq - 10) + 1);
  /* a duplicate or a late packet changes nothing */
  dc_rx_stream_silence_skipped(&s, (uint16_t)(seq - 3), true);
  dc_rx_stream_silence_skipped(&s, seq, true);
  g_assert_cmpuint(s.skipped, ==, 26);
  /* before the first packet: nothing to skip from */
  dc_rx_stream fresh;
  dc_rx_stream_init(&fresh, 0xAC, 48000);
  dc_rx_stream_silence_skipped(&fresh, 100, true);
  g_assert_cmpuint(fresh.skipped, ==, 0);
}

/* The live view's uplink loss: shown over about the last eight report intervals, once 64
 * of the point's packets count. An audio-only highland point (17 packets a report interval)
 * on a link losing 10 % in runs of about three (the link lab's radio, a Gilbert chain drawn
 * with a fixed seed): one interval's figure reads 0 in about half the intervals; the figure
 * shown stays near the link's loss. */
static void test_uplink_loss_over_enough_packets(void) {
  dc_uplink_loss u;
  dc_uplink_loss_init(&u);
  g_assert_cmpint(dc_uplink_loss_interval(&u, false, 0, 0), ==, -1);
  /* unknown until 64 packets count (17, then 17 + 7/8 of that, ...: the fifth interval) */
  for (int i = 0; i < 4; i++)
    g_assert_cmpint(dc_uplink_loss_interval(&u, true, 17, 0), ==, -1);
  g_assert_cmpint(dc_uplink_loss_interval(&u, true, 17, 0), ==, 0);
  /* a whole interval lost: about a fifth of what counts, fading as clean intervals follow */
  int after_burst = dc_uplink_loss_interval(&u, true, 17, 17);
  g_assert_cmpint(after_burst, >=, 20 * 256 / 100);
  g_assert_cmpint(after_burst, <=, 25 * 256 / 100);
  int later = after_burst;
  for (int i = 0; i < 8; i++) {
    int now = dc_uplink_loss_interval(&u, true, 17, 0);
    g_assert_cmpint(now, <, later);
    later = now;
  }
  g_assert_cmpint(later, <, 10 * 256 / 100);
  /* a speaker's pause (intervals of only silence, nothing measured): the figure held, and the
   * counts too, so speech after it moves the figure as it would have without the pause */
  for (int i = 0; i < DC_UPLINK_LOSS_INTERVALS - 1; i++)
    g_assert_cmpint(dc_uplink_loss_interval(&u, false, 0, 0), ==, later);
  g_assert_cmpint(dc_uplink_loss_interval(&u, true, 17, 0), <, later);
  /* as many in a row as the figure spans (a point that listens): unknown, counted afresh */
  for (int i = 0; i < DC_UPLINK_LOSS_INTERVALS - 1; i++)
    g_assert_cmpint(dc_uplink_loss_interval(&u, false, 0, 0), >=, 0);
  g_assert_cmpint(dc_uplink_loss_interval(&u, false, 0, 0), ==, -1);
  g_assert_cmpint(dc_uplink_loss_interval(&u, true, 40, 40), ==, -1);
  /* 40 lost of 40 weigh 35 of 35 now, beside 30 received */
  g_assert_cmpint(dc_uplink_loss_interval(&u, true, 30, 0), ==, (int)(35 * 256 / 65.0 + 0.5));
  /* a point with a camera: an interval is enough on its own; more lost than expected is all */
  dc_uplink_loss_init(&u);
  g_assert_cmpint(dc_uplink_loss_interval(&u, true, 300, 30), ==, 26);
  dc_uplink_loss_init(&u);
  g_assert_cmpint(dc_uplink_loss_interval(&u, true, 300, 400), ==, 255);

  GRand *rand = g_rand_new_with_seed(12);
  dc_uplink_loss_init(&u);
  bool bad = false;
  unsigned lost_all = 0, sent_all = 0, interval_zero = 0, shown_zero = 0, shown_far = 0, intervals = 300;
  int lowest = 255, highest = 0;
  for (unsigned i = 0; i < intervals; i++) {
    unsigned lost = 0;
    for (int k = 0; k < 17; k++) { /* good → bad 1/27, bad → good 1/3: 10 % lost, runs of 3 */
      bad = bad ? g_rand_double(rand) >= 1.0 / 3 : g_rand_double(rand) < 1.0 / 27;
      lost += bad;
    }
    lost_all += lost, sent_all += 17;
    int shown = dc_uplink_loss_interval(&u, true, 17, lost);
    interval_zero += lost == 0;
    if (i >= 4) { /* once 64 count */
      shown_zero += shown == 0;
      double pct = shown * 100.0 / 256;
      shown_far += pct < 3 || pct > 20;
      lowest = MIN(lowest, shown), highest = MAX(highest, shown);
    }
  }
  g_rand_free(rand);
  g_test_message("link lost %.1f %%; one interval's figure 0 in %u of %u intervals; the figure shown 0 in %u, "
                 "outside 3-20 %% in %u, %.1f-%.1f %%", lost_all * 100.0 / sent_all, interval_zero, intervals, shown_zero,
                 shown_far, lowest * 100.0 / 256, highest * 100.0 / 256);
  if (interval_zero < intervals / 2 || shown_zero > 0 || shown_far > intervals / 10)
    g_error("the figure shown does not follow the link: link lost %.1f %%, one interval's figure 0 in %u of %u, "
            "the figure shown 0 in %u and outside 3-20 %% in %u", lost_all * 100.0 / sent_all, interval_zero,
            intervals, shown_zero, shown_far);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/repair/cache-hit-and-age", test_cache_hit_and_age);
  g_test_add_func("/repair/repair-age-follows-round-trip", test_repair_age_follows_round_trip);
  g_test_add_func("/repair/cache-grows-to-rate", test_cache_grows_to_rate);
  g_test_add_func("/repair/cache-layers", test_cache_layers);
  g_test_add_func("/repair/rx-gap-nack-and-repair", test_rx_gap_nack_and_repair);
  g_test_add_func("/repair/rx-given-up", test_rx_given_up);
  g_test_add_func("/repair/rx-rebuilt-and-not-needed", test_rx_rebuilt_and_not_needed);
  g_test_add_func("/repair/rx-nack-storm-bounded", test_rx_nack_storm_bounded);
  g_test_add_func("/repair/rx-outage-ages-its-gap", test_rx_outage_ages_its_gap);
  g_test_add_func("/repair/rx-late-retransmission-is-no-restart", test_rx_late_retransmission_is_no_restart);
  g_test_add_func("/repair/rx-loss-in-runs", test_rx_loss_in_runs);
  g_test_add_func("/repair/rx-silence-skipped", test_rx_silence_skipped);
  g_test_add_func("/repair/uplink-loss-over-enough-packets", test_uplink_loss_over_enough_packets);
  g_test_add_func("/repair/rtx-round-trip", test_rtx_round_trip);
  g_test_add_func("/repair/rtx-padding", test_rtx_padding);
  g_test_add_func("/repair/budget", test_repair_budget);
  g_test_add_func("/repair/keyframe-request-held-not-dropped", test_keyframe_held_not_dropped);
  return g_test_run();
}
