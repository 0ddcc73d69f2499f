/* Unit tests for bridge/silence_filter: the kernel, running the program on a loopback socket,
 * drops a point's silent audio and nothing else: packets as browsers send them, each way a
 * packet can fail to be one, and thousands of random ones against a plain reading of the RFCs
 * (tests/lib/silence_check.h). */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "tests/lib/silence_check.h"

#define OPUS 111
#define RED 63
#define LEVEL_ID 1

/* An Opus packet as Chromium sends it: audio level first, then transport-wide-cc (id 3). */
static size_t browser_packet(uint8_t *p, int pt, uint16_t seq, uint8_t level_byte) {
  const uint8_t head[] = {0x90, (uint8_t)pt, (uint8_t)(seq >> 8), (uint8_t)seq, 0, 0, 0x3c, 0, 0x12, 0x34, 0x56, 0x78,
                          0xBE, 0xDE, 0, 2, 0x10, level_byte, 0x31, 0x00, 0x07, 0, 0, 0};
  memcpy(p, head, sizeof head);
  memset(p + sizeof head, 0xA5, 40); /* the (encrypted) payload */
  return sizeof head + 40;
}

static int kernel_drops(silence_check *c, const uint8_t *p, size_t len) {
  int dropped = silence_check_kernel_drops(c, p, len);
  if (dropped < 0)
    g_error("the loopback harness failed: %s", g_strerror(errno));
  return dropped;
}

static void test_browser_packets(void) {
  silence_check c;
  g_assert_true(silence_check_open(&c, OPUS, RED, LEVEL_ID));
  uint8_t p[128];
  size_t n = browser_packet(p, OPUS, 1001, 0x7F);
  g_assert_cmpint(kernel_drops(&c, p, n), ==, 1);      /* silence */
  n = browser_packet(p, OPUS, 1001, 0xFF);
  g_assert_cmpint(kernel_drops(&c, p, n), ==, 1);      /* silence with the voice bit set */
  n = browser_packet(p, OPUS | 0x80, 1001, 0x7F);
  g_assert_cmpint(kernel_drops(&c, p, n), ==, 1);      /* the marker bit set */
  n = browser_packet(p, RED, 1001, 0x7F);
  g_assert_cmpint(kernel_drops(&c, p, n), ==, 1);      /* RED around silence */
  n = browser_packet(p, OPUS, 1001, 0x7E);
  g_assert_cmpint(kernel_drops(&c, p, n), ==, 0);      /* the faintest sound */
  n = browser_packet(p, OPUS, 1001, 0xA0);
  g_assert_cmpint(kernel_drops(&c, p, n), ==, 0);      /* speech */
  n = browser_packet(p, OPUS, 1000, 0x7F);
  g_assert_cmpint(kernel_drops(&c, p, n), ==, 0);      /* the sample: 1000 is a multiple of 8 */
  n = browser_packet(p, 96, 1001, 0x7F);
  g_assert_cmpint(kernel_drops(&c, p, n), ==, 0);      /* not the point's audio */
  silence_check_close(&c);

  /* the level under another id: nothing is dropped */
  g_assert_true(silence_check_open(&c, OPUS, -1, 5));
  n = browser_packet(p, OPUS, 1001, 0x7F);
  g_assert_cmpint(kernel_drops(&c, p, n), ==, 0);
  silence_check_close(&c);
}

/* One silent packet of every eight by sequence number passes, across the wrap. */
static void test_samples_pass(void) {
  silence_check c;
  g_assert_true(silence_check_open(&c, OPUS, -1, LEVEL_ID));
  uint8_t p[128];
  unsigned kept = 0;
  for (unsigned k = 0; k < 64; k++) {
    uint16_t seq = (uint16_t)(65504 + k);
    int dropped = kernel_drops(&c, p, browser_packet(p, OPUS, seq, 0x7F));
    g_assert_cmpint(dropped, ==, seq % DC_SILENCE_FILTER_SAMPLE != 0);
    kept += !dropped;
  }
  g_assert_cmpuint(kept, ==, 64 / DC_SILENCE_FILTER_SAMPLE);
  silence_check_close(&c);
}

/* What is not a point's silent RTP, or not whole, passes. */
static void test_everything_else_passes(void) {
  silence_check c;
  g_assert_true(silence_check_open(&c, OPUS, RED, LEVEL_ID));
  uint8_t p[128];
  size_t n = browser_packet(p, OPUS, 1001, 0x7F);
  const uint8_t stun[] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  g_assert_cmpint(kernel_drops(&c, stun, sizeof stun), ==, 0);
  uint8_t dtls[sizeof stun];
  memcpy(dtls, stun, sizeof stun);
  dtls[0] = 22;
  g_assert_cmpint(kernel_drops(&c, dtls, sizeof dtls), ==, 0);
  uint8_t rtcp[32] = {0x81, 200, 0, 6};
  g_assert_cmpint(kernel_drops(&c, rtcp, sizeof rtcp), ==, 0);
  g_assert_cmpint(kernel_drops(&c, p, 0), ==, 0);      /* empty */
  for (size_t len = 1; len < 20; len++)                /* cut anywhere before the level's byte */
    g_assert_cmpint(kernel_drops(&c, p, len), ==, 0);
  g_assert_cmpint(kernel_drops(&c, p, 24), ==, 1);     /* the block whole, no payload */

  uint8_t q[128];
  memcpy(q, p, n);
  q[0] = 0x80; /* no extension */
  g_assert_cmpint(kernel_drops(&c, q, n), ==, 0);
  memcpy(q, p, n);
  q[0] = 0x50; /* version 1 */
  g_assert_cmpint(kernel_drops(&c, q, n), ==, 0);
  memcpy(q, p, n);
  q[12] = 0x10, q[13] = 0x00; /* the two-byte form (RFC 8285 §4.3): left out */
  g_assert_cmpint(kernel_drops(&c, q, n), ==, 0);
  memcpy(q, p, n);
  q[14] = 0, q[15] = 0; /* an empty block */
  g_assert_cmpint(kernel_drops(&c, q, n), ==, 0);
  memcpy(q, p, n);
  q[14] = 0, q[15] = 40; /* a block longer than the packet */
  g_assert_cmpint(kernel_drops(&c, q, n), ==, 0);
  memcpy(q, p, n);
  q[0] = 0x9F; /* 15 CSRCs: the block would start past the packet's end */
  g_assert_cmpint(kernel_drops(&c, q, 60), ==, 0);
  silence_check_close(&c);
}

/* The element found past other elements and padding, as the RFC allows; not past the block's
 * end, the end marker (id 15), or DC_SILENCE_FILTER_ELEMENTS. */
static void test_element_walk(void) {
  silence_check c;
  g_assert_true(silence_check_open(&c, OPUS, -1, LEVEL_ID));
  uint8_t p[128] = {0x91, OPUS, 0x03, 0xE9, 0, 0, 0, 0, 0, 0, 0, 1, /* one CSRC */ 0xAA, 0xBB, 0xCC, 0xDD};
  const struct {
    uint8_t block[12];
    int words, dropped;
  } cases[] = {
      {{0x22, 1, 2, 3, 0x10, 0x7F, 0, 0}, 2, 1},             /* after a 3-byte element */
      {{0x00, 0x00, 0x10, 0x7F}, 1, 1},                      /* after padding */
      {{0x30, 9, 0x00, 0x40, 1, 0x10, 0x7F, 0}, 2, 1},       /* after one, padding, another */
      {{0x30, 9, 0x30, 9, 0x30, 9, 0x30, 9, 0x10, 0x7F}, 3, 0}, /* the fifth element */
      {{0xF0, 0, 0x10, 0x7F}, 1, 0},                         /* after the end marker */
      {{0x22, 1, 2, 3, 0x10, 0x7F, 0, 0}, 1, 0},             /* past the block's end */
      {{0x30, 9, 0x00, 0x10}, 1, 0},                         /* its data byte past the end */
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    uint8_t *b = p + 16;
    b[0] = 0xBE, b[1] = 0xDE, b[2] = 0, b[3] = (uint8_t)cases[i].words;
    memset(b + 4, 0x7F, 40); /* payload that looks like levels of 127 everywhere */
    memcpy(b + 4, cases[i].block, MIN(sizeof cases[i].block, (size_t)cases[i].words * 4));
    size_t n = 16 + 4 + 4 * (size_t)cases[i].words + 8;
    if (cases[i].dropped != kernel_drops(&c, p, n))
      g_error("case %zu: the kernel %s it", i, cases[i].dropped ? "kept" : "dropped");
    g_assert_cmpint(silence_check_expected_drop(p, n, OPUS, -1, LEVEL_ID), ==, cases[i].dropped);
  }
  silence_check_close(&c);
}

/* Random packets, most of them near RTP with the extension, against the plain reading. */
static void test_random_packets_match_the_reading(void) {
  silence_check c;
  g_assert_true(silence_check_open(&c, OPUS, RED, LEVEL_ID));
  GRand *rand = g_rand_new_with_seed(2026);
  unsigned dropped = 0, runs = 4000;
  for (unsigned i = 0; i < runs; i++) {
    uint8_t p[96];
    for (size_t k = 0; k < sizeof p; k++)
      p[k] = (uint8_t)g_rand_int(rand);
    int shape = g_rand_int_range(rand, 0, 10);
    if (shape > 0) { /* RTP with an extension, mostly the point's */
      p[0] = (uint8_t)(0x90 | (shape < 8 ? 0 : g_rand_int_range(rand, 0, 4)));
      const int pts[] = {OPUS, RED, 96, OPUS | 0x80};
      p[1] = (uint8_t)pts[g_rand_int_range(rand, 0, 4)];
      size_t ext = 12 + 4 * (size_t)(p[0] & 0x0F);
      p[ext] = 0xBE, p[ext + 1] = 0xDE, p[ext + 2] = 0, p[ext + 3] = (uint8_t)g_rand_int_range(rand, 0, 5);
      for (size_t at = ext + 4; at < ext + 16; at++) /* elements: ids often ours, levels often 127 */
        if (g_rand_boolean(rand))
          p[at] = (uint8_t)(g_rand_boolean(rand) ? 0x10 | g_rand_int_range(rand, 0, 4) : g_rand_boolean(rand) ? 0x7F : 0);
      if (g_rand_int_range(rand, 0, 3) == 0) /* and often the level first, as browsers send it */
        p[ext + 4] = 0x10, p[ext + 5] = (uint8_t)(g_rand_boolean(rand) ? 0x7F : 0xFF);
    }
    size_t len = (size_t)g_rand_int_range(rand, 0, sizeof p + 1);
    int expected = silence_check_expected_drop(p, len, OPUS, RED, LEVEL_ID);
    int got = kernel_drops(&c, p, len);
    if (got != expected) {
      GString *hex = g_string_new(NULL);
      for (size_t k = 0; k < len; k++)
        g_string_append_printf(hex, "%02x", p[k]);
      g_error("packet %u (%zu bytes %s): the kernel %s it, the reading says %s", i, len, hex->str,
              got ? "dropped" : "kept", expected ? "drop" : "keep");
    }
    dropped += (unsigned)got;
  }
  g_test_message("%u of %u random packets dropped", dropped, runs);
  g_assert_cmpuint(dropped, >, runs / 50); /* the random shapes reach the drop often enough to mean something */
  g_rand_free(rand);
  silence_check_close(&c);
}

static void test_arguments_refused(void) {
  struct sock_filter prog[DC_SILENCE_FILTER_MAX];
  g_assert_cmpuint(dc_silence_filter_build(prog, -1, -1, 1), ==, 0);
  g_assert_cmpuint(dc_silence_filter_build(prog, 128, -1, 1), ==, 0);
  g_assert_cmpuint(dc_silence_filter_build(prog, OPUS, 128, 1), ==, 0);
  g_assert_cmpuint(dc_silence_filter_build(prog, OPUS, -1, 0), ==, 0);
  g_assert_cmpuint(dc_silence_filter_build(prog, OPUS, -1, 15), ==, 0);
  size_t n = dc_silence_filter_build(prog, OPUS, RED, 14);
  g_assert_cmpuint(n, >, 0);
  g_assert_cmpuint(n, <=, DC_SILENCE_FILTER_MAX);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  errno = 0;
  g_assert_false(dc_silence_filter_attach(fd, OPUS, -1, 0));
  g_assert_cmpint(errno, ==, EINVAL);
  close(fd);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/silence-filter/browser-packets", test_browser_packets);
  g_test_add_func("/silence-filter/samples-pass", test_samples_pass);
  g_test_add_func("/silence-filter/everything-else-passes", test_everything_else_passes);
  g_test_add_func("/silence-filter/element-walk", test_element_walk);
  g_test_add_func("/silence-filter/random-packets-match-the-reading", test_random_packets_match_the_reading);
  g_test_add_func("/silence-filter/arguments-refused", test_arguments_refused);
  return g_test_run();
}
