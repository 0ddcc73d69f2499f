/* Unit tests for signaling/request: /api/ paths and the console's cookie, good and bad. */
#include <glib.h>
#include <string.h>

#include "signaling/request.h"

static void test_paths(void) {
  char seg[DC_API_MAX_SEGMENTS][DC_API_SEGMENT_LEN];
  g_assert_cmpint(dc_api_path_segments("/api/meetings/12/live", seg), ==, 3);
  g_assert_cmpstr(seg[0], ==, "meetings");
  g_assert_cmpstr(seg[2], ==, "live");
  g_assert_cmpint(dc_api_path_segments("/api/groups/3/points/4", seg), ==, 4);
  g_assert_cmpint(dc_api_path_segments("/api", seg), ==, 0);
  const char *bad[] = {"/apix/meetings", "/api/meetings/", "/api//x", "/api/a/b/c/d/e/f/g", "/other",
                       "/api/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
    g_assert_cmpint(dc_api_path_segments(bad[i], seg), ==, -1);
  int64_t id = 0;
  g_assert_true(dc_api_parse_id("42", &id));
  g_assert_cmpint(id, ==, 42);
  const char *bad_ids[] = {"", "0", "-1", "+1", "1x", " 1", "1234567890123456789", "0x10"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad_ids); i++)
    g_assert_false(dc_api_parse_id(bad_ids[i], &id));
}

static void test_cookies(void) {
  char v[16];
  g_assert_true(dc_cookie_value("dc_console=abc", "dc_console", v, sizeof v));
  g_assert_cmpstr(v, ==, "abc");
  g_assert_true(dc_cookie_value("a=1; dc_console=xyz ; b=2", "dc_console", v, sizeof v));
  g_assert_cmpstr(v, ==, "xyz");
  g_assert_true(dc_cookie_value("dc_console=", "dc_console", v, sizeof v));
  g_assert_cmpstr(v, ==, "");
  g_assert_false(dc_cookie_value("xdc_console=abc", "dc_console", v, sizeof v)); /* another name */
  g_assert_false(dc_cookie_value("dc_consolex=abc", "dc_console", v, sizeof v));
  g_assert_false(dc_cookie_value("dc_console", "dc_console", v, sizeof v));
  g_assert_false(dc_cookie_value("dc_console=0123456789abcdefXYZ", "dc_console", v, sizeof v)); /* too long */
  g_assert_false(dc_cookie_value("", "dc_console", v, sizeof v));
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/request/paths", test_paths);
  g_test_add_func("/request/cookies", test_cookies);
  return g_test_run();
}
