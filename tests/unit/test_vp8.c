/* Unit tests for media/vp8: every optional field, key-frame detection, rewrites that keep
 * the sender's field widths, and truncation. */
#include <glib.h>
#include <string.h>

#include "media/vp8.h"

static void test_minimal(void) {
  /* S=1 PID=0, no extension; VP8 payload header with P=0: a key frame */
  const uint8_t p[] = {0x10, 0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a};
  dc_vp8_desc d;
  g_assert_cmpint(dc_vp8_parse(p, sizeof p, &d), ==, DC_OK);
  g_assert_cmpuint(d.len, ==, 1);
  g_assert_true(d.start_of_partition);
  g_assert_true(d.keyframe);
  g_assert_false(d.has_picture_id);
  const uint8_t inter[] = {0x10, 0x51, 0x00}; /* P=1: an inter frame */
  g_assert_cmpint(dc_vp8_parse(inter, sizeof inter, &d), ==, DC_OK);
  g_assert_false(d.keyframe);
  const uint8_t middle[] = {0x00, 0x50, 0x00}; /* not the start of a partition */
  g_assert_cmpint(dc_vp8_parse(middle, sizeof middle, &d), ==, DC_OK);
  g_assert_false(d.keyframe);
}

static void test_all_fields(void) {
  /* X=1 N=1 S=1 PID=0 | I L T K | M=1 PictureID 0x1234 | TL0PICIDX 9 | TID 2 Y KEYIDX 5 */
  uint8_t p[] = {0xB0, 0xF0, 0x92, 0x34, 0x09, (2 << 6) | 0x20 | 5, 0x50, 0x00};
  dc_vp8_desc d;
  g_assert_cmpint(dc_vp8_parse(p, sizeof p, &d), ==, DC_OK);
  g_assert_true(d.non_reference);
  g_assert_true(d.has_picture_id && d.long_picture_id);
  g_assert_cmpuint(d.picture_id, ==, 0x1234);
  g_assert_true(d.has_tl0picidx);
  g_assert_cmpuint(d.tl0picidx, ==, 9);
  g_assert_true(d.has_tid && d.layer_sync && d.has_keyidx);
  g_assert_cmpuint(d.tid, ==, 2);
  g_assert_cmpuint(d.keyidx, ==, 5);
  g_assert_cmpuint(d.len, ==, 6);
  g_assert_true(d.keyframe);
  dc_vp8_set_picture_id(p, &d, 0x7FFF);
  dc_vp8_set_tl0picidx(p, &d, 200);
  dc_vp8_desc e;
  g_assert_cmpint(dc_vp8_parse(p, sizeof p, &e), ==, DC_OK);
  g_assert_cmpuint(e.picture_id, ==, 0x7FFF);
  g_assert_cmpuint(e.tl0picidx, ==, 200);
  g_assert_cmpuint(e.len, ==, d.len);
  g_assert_cmpuint(e.tid, ==, 2); /* untouched */
  dc_vp8_set_picture_id(p, &d, 0x8001); /* wraps within 15 bits */
  g_assert_cmpint(dc_vp8_parse(p, sizeof p, &e), ==, DC_OK);
  g_assert_cmpuint(e.picture_id, ==, 0x0001);
}

static void test_short_picture_id(void) {
  uint8_t p[] = {0x90, 0x80, 0x45, 0x01}; /* X, I, M=0: 7-bit PictureID 0x45; inter frame */
  dc_vp8_desc d;
  g_assert_cmpint(dc_vp8_parse(p, sizeof p, &d), ==, DC_OK);
  g_assert_false(d.long_picture_id);
  g_assert_cmpuint(d.picture_id, ==, 0x45);
  dc_vp8_set_picture_id(p, &d, 0x1FF); /* kept to 7 bits, no byte moves */
  g_assert_cmpint(dc_vp8_parse(p, sizeof p, &d), ==, DC_OK);
  g_assert_cmpuint(d.picture_id, ==, 0x7F);
  g_assert_cmpuint(d.len, ==, 3);
  uint8_t none[] = {0x10, 0x00};
  dc_vp8_parse(none, sizeof none, &d);
  dc_vp8_set_picture_id(none, &d, 5); /* no field: nothing written */
  dc_vp8_set_tl0picidx(none, &d, 5);
  g_assert_cmpuint(none[0], ==, 0x10);
  g_assert_cmpuint(none[1], ==, 0x00);
}

static void test_truncated(void) {
  const uint8_t full[] = {0xB0, 0xF0, 0x92, 0x34, 0x09, 0x45, 0x50};
  dc_vp8_desc d;
  for (size_t n = 0; n < sizeof full; n++) /* every prefix ends inside, or with no data */
    g_assert_cmpint(dc_vp8_parse(full, n, &d), ==, DC_ERR_TRUNCATED);
  g_assert_cmpint(dc_vp8_parse(full, sizeof full, &d), ==, DC_OK);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vp8/minimal", test_minimal);
  g_test_add_func("/vp8/all-fields", test_all_fields);
  g_test_add_func("/vp8/short-picture-id", test_short_picture_id);
  g_test_add_func("/vp8/truncated", test_truncated);
  return g_test_run();
}
