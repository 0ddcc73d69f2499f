/* RFC 2198 redundant audio: the payload layout of §3 byte for byte, a round trip, what the
 * writer leaves out, and malformed payloads refused. */
#include <glib.h>
#include <string.h>

#include "media/red.h"

/* Two earlier 20 ms Opus frames and the primary, as Chromium sends them with pt 111 in RED 63. */
static void test_layout(void) {
  const uint8_t older[] = {1, 2, 3}, old[] = {4, 5}, primary[] = {6, 7, 8, 9};
  dc_red_block red[2] = {{111, 1920, older, sizeof older}, {111, 960, old, sizeof old}};
  uint8_t out[64];
  size_t n = dc_red_write(out, sizeof out, red, 2, 111, primary, sizeof primary);
  const uint8_t want[] = {
      0x80 | 111, 1920 >> 6, (1920 & 0x3F) << 2 | 0, 3, /* F, PT, offset 1920, length 3 */
      0x80 | 111, 960 >> 6, (960 & 0x3F) << 2 | 0, 2,
      111,                                               /* the primary's header */
      1, 2, 3, 4, 5, 6, 7, 8, 9};
  g_assert_cmpmem(out, n, want, sizeof want);
  dc_red_block got[DC_RED_MAX_BLOCKS];
  size_t nb;
  g_assert_cmpint(dc_red_parse(out, n, got, G_N_ELEMENTS(got), &nb), ==, DC_OK);
  g_assert_cmpuint(nb, ==, 3);
  g_assert_cmpuint(got[0].ts_offset, ==, 1920);
  g_assert_cmpmem(got[0].data, got[0].len, older, sizeof older);
  g_assert_cmpuint(got[1].ts_offset, ==, 960);
  g_assert_cmpmem(got[1].data, got[1].len, old, sizeof old);
  g_assert_cmpuint(got[2].ts_offset, ==, 0);
  g_assert_cmpuint(got[2].pt, ==, 111);
  g_assert_cmpmem(got[2].data, got[2].len, primary, sizeof primary);
}

/* A payload of the primary alone (RED with no redundancy yet: a stream's first packet). */
static void test_primary_only(void) {
  const uint8_t primary[] = {0xAA, 0xBB};
  uint8_t out[8];
  size_t n = dc_red_write(out, sizeof out, NULL, 0, 111, primary, sizeof primary);
  g_assert_cmpuint(n, ==, 3);
  dc_red_block got[2];
  size_t nb;
  g_assert_cmpint(dc_red_parse(out, n, got, 2, &nb), ==, DC_OK);
  g_assert_cmpuint(nb, ==, 1);
  g_assert_cmpmem(got[0].data, got[0].len, primary, sizeof primary);
}

/* What cannot be written (offset over 14 bits, length over 10, no room) is left out, newest
 * kept first; the primary always goes. */
static void test_writer_leaves_out(void) {
  uint8_t big[1100] = {0}, small[] = {1}, primary[] = {2, 3}, out[16];
  dc_red_block red[3] = {{111, 20000, small, 1}, {111, 960, big, sizeof big}, {111, 960, small, 1}};
  size_t n = dc_red_write(out, sizeof out, red, 3, 111, primary, sizeof primary);
  dc_red_block got[4];
  size_t nb;
  g_assert_cmpint(dc_red_parse(out, n, got, 4, &nb), ==, DC_OK);
  g_assert_cmpuint(nb, ==, 2); /* only the last redundant block could go */
  g_assert_cmpuint(got[0].len, ==, 1);
  /* room for the primary only */
  n = dc_red_write(out, 4, red + 2, 1, 111, primary, sizeof primary);
  g_assert_cmpuint(n, ==, 3);
  g_assert_cmpuint(dc_red_write(out, 2, NULL, 0, 111, primary, sizeof primary), ==, 0);
}

static void test_malformed(void) {
  dc_red_block got[DC_RED_MAX_BLOCKS];
  size_t nb;
  const uint8_t empty[1] = {0};
  g_assert_cmpint(dc_red_parse(empty, 0, got, 8, &nb), ==, DC_ERR_TRUNCATED);
  const uint8_t cut_header[] = {0x80 | 111, 0x0F};
  g_assert_cmpint(dc_red_parse(cut_header, sizeof cut_header, got, 8, &nb), ==, DC_ERR_TRUNCATED);
  const uint8_t no_primary_header[] = {0x80 | 111, 0x0F, 0x00, 0x01};
  g_assert_cmpint(dc_red_parse(no_primary_header, sizeof no_primary_header, got, 8, &nb), ==, DC_ERR_TRUNCATED);
  const uint8_t too_long[] = {0x80 | 111, 0x0F, 0x00, 0x09, 111, 1, 2};
  g_assert_cmpint(dc_red_parse(too_long, sizeof too_long, got, 8, &nb), ==, DC_ERR_TRUNCATED);
  uint8_t many[4 * 9 + 1];
  for (int i = 0; i < 9; i++)
    memcpy(many + 4 * i, (uint8_t[]){0x80 | 111, 0, 0, 0}, 4);
  many[36] = 111;
  g_assert_cmpint(dc_red_parse(many, sizeof many, got, 8, &nb), ==, DC_ERR_MALFORMED);
  g_assert_cmpint(dc_red_parse(many, sizeof many, got, 2, &nb), ==, DC_ERR_MALFORMED);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/red/layout", test_layout);
  g_test_add_func("/red/primary-only", test_primary_only);
  g_test_add_func("/red/writer-leaves-out", test_writer_leaves_out);
  g_test_add_func("/red/malformed", test_malformed);
  return g_test_run();
}
