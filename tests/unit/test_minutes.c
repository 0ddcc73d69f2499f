/* Unit tests for signaling/minutes: a meeting's log and attendance made into the draft:
 * present and absent points, turns merged and short ones dropped, the chair's actions, and the
 * same bytes twice. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "signaling/minutes.h"

static void test_draft(void) {
  char *dir = g_dir_make_tmp("diemcau-minutes-XXXXXX", NULL), *path = g_build_filename(dir, "d.db", NULL);
  GError *err = NULL;
  dc_store *s = dc_store_open(path, &err);
  g_assert_no_error(err);
  int64_t t0 = 1800000000; /* 2027-01-15 08:00 UTC, 15:00 in Hanoi */
  int64_t hall = dc_store_add_point(s, "Hội trường huyện", "hall", "hall", &err);
  int64_t a = dc_store_add_point(s, "Xã A", "commune", "highland", &err);
  int64_t b = dc_store_add_point(s, "Xã <B>", "commune", "standard", &err);
  int64_t m = dc_store_create_meeting(s, "Giao ban & tổng kết", t0, t0 + 3600, hall, &err);
  int64_t ih = dc_store_create_invitation(s, m, hall, "host", t0 + 7200, &err);
  int64_t ia = dc_store_create_invitation(s, m, a, "participant", t0 + 7200, &err);
  dc_store_create_invitation(s, m, b, "participant", t0 + 7200, &err);
  g_assert_no_error(err);
  int64_t sh = dc_store_stay_begin(s, m, ih, hall, "Chủ tịch", t0, &err);
  int64_t sa = dc_store_stay_begin(s, m, ia, a, "Văn thư", t0, &err);
  dc_stay q = {.id = sh, .rtt_ms = -1, .loss_down_pct = -1, .loss_up_pct = -1};
  dc_store_stay_update(s, &q, t0 + 10, true, &err);
  q.id = sa;
  dc_store_stay_update(s, &q, t0 + 10, true, &err);
  int64_t ms = t0 * 1000;
  const struct {
    int64_t at;
    const char *kind, *point, *name;
  } log[] = {{0, "join", "Hội trường huyện", "Chủ tịch"}, {0, "join", "Xã A", "Văn thư"},
             {0, "speaker", "Xã A", "Văn thư"},          {500, "floor-given", "Xã A", "Văn thư"},
             {2000, "speaker", "Hội trường huyện", "Chủ tịch"}, /* 0.5 s: a cough */
             {2500, "speaker", "Xã A", "Văn thư"},       {6000, "speaker", "", ""},
             {7000, "speaker", "Hội trường huyện", "Chủ tịch"}, {10000, "ended", "Hội trường huyện", "Chủ tịch"}};
  for (size_t i = 0; i < G_N_ELEMENTS(log); i++)
    g_assert_true(dc_store_event(s, m, ms + log[i].at, log[i].kind, log[i].point, log[i].name, NULL, &err));
  g_assert_true(dc_store_end_meeting(s, m, t0 + 10, &err));
  GTimeZone *tz = g_time_zone_new_identifier("Asia/Ho_Chi_Minh");
  char *json = dc_minutes_json(s, m, tz, &err), *again = dc_minutes_json(s, m, tz, &err);
  g_assert_no_error(err);
  g_assert_cmpstr(json, ==, again); /* canonical */
  JsonParser *p = json_parser_new();
  g_assert_true(json_parser_load_from_data(p, json, -1, NULL));
  JsonObject *o = json_node_get_object(json_parser_get_root(p));
  g_assert_cmpstr(json_object_get_string_member(o, "chair"), ==, "Hội trường huyện");
  g_assert_cmpstr(json_object_get_string_member(o, "starts_at"), ==, "2027-01-15T15:00:00+07:00");
  JsonArray *present = json_object_get_array_member(o, "present"), *absent = json_object_get_array_member(o, "absent");
  g_assert_cmpuint(json_array_get_length(present), ==, 2);
  g_assert_cmpuint(json_array_get_length(absent), ==, 1);
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(absent, 0), "point"), ==, "Xã <B>");
  JsonArray *turns = json_object_get_array_member(o, "speaking");
  g_assert_cmpuint(json_array_get_length(turns), ==, 2); /* A (merged across the cough), then the hall */
  JsonObject *t1 = json_array_get_object_element(turns, 0), *t2 = json_array_get_object_element(turns, 1);
  g_assert_cmpstr(json_object_get_string_member(t1, "point"), ==, "Xã A");
  g_assert_cmpint(json_object_get_int_member(t1, "seconds"), ==, 6);
  g_assert_cmpstr(json_object_get_string_member(t2, "point"), ==, "Hội trường huyện");
  g_assert_cmpint(json_object_get_int_member(t2, "seconds"), ==, 3);
  JsonArray *totals = json_object_get_array_member(o, "speaking_totals");
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(totals, 0), "point"), ==, "Xã A");
  JsonArray *acts = json_object_get_array_member(o, "chair_actions");
  g_assert_cmpuint(json_array_get_length(acts), ==, 2); /* floor-given, ended */
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(acts, 0), "action"), ==, "floor-given");
  char *html = dc_minutes_html(s, m, tz, &err), *html2 = dc_minutes_html(s, m, tz, &err);
  g_assert_cmpstr(html, ==, html2);
  g_assert_nonnull(strstr(html, "Giao ban &amp; tổng kết")); /* escaped */
  g_assert_nonnull(strstr(html, "Xã &lt;B&gt;"));
  g_assert_nonnull(strstr(html, "trao lời cho Xã A"));
  g_assert_null(dc_minutes_json(s, 9999, tz, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND);
  g_clear_error(&err);
  g_object_unref(p);
  g_free(json), g_free(again), g_free(html), g_free(html2);
  g_time_zone_unref(tz);
  dc_store_close(s);
  const char *suffixes[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char *f = g_strconcat(path, suffixes[i], NULL);
    g_unlink(f);
    g_free(f);
  }
  g_rmdir(dir);
  g_free(path), g_free(dir);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/minutes/draft", test_draft);
  return g_test_run();
}
