/* Unit tests for signaling/store: schema migration, rules enforced by the schema, reopen,
 * API keys stored as hashes. Each test uses a fresh database in a temporary directory. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "signaling/store.h"

typedef struct {
  char *dir, *path;
  dc_store *store;
} fixture;

static void setup(fixture *f, gconstpointer data) {
  f->dir = g_dir_make_tmp("diemcau-store-XXXXXX", NULL);
  f->path = g_build_filename(f->dir, "diemcau.db", NULL);
  GError *err = NULL;
  f->store = dc_store_open(f->path, &err);
  g_assert_no_error(err);
}

static void teardown(fixture *f, gconstpointer data) {
  dc_store_close(f->store);
  const char *suffixes[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char *p = g_strconcat(f->path, suffixes[i], NULL);
    g_unlink(p);
    g_free(p);
  }
  g_rmdir(f->dir);
  g_free(f->path);
  g_free(f->dir);
}

static void test_schema_and_reopen(fixture *f, gconstpointer data) {
  g_assert_cmpint(dc_store_schema_version(f->store), ==, 2);
  uint8_t secret[32];
  memcpy(secret, dc_store_secret(f->store), 32);
  GError *err = NULL;
  int64_t hall = dc_store_add_point(f->store, "UBND huyện", "hall", "hall", &err);
  g_assert_no_error(err);
  dc_store_close(f->store);
  f->store = dc_store_open(f->path, &err); /* reopen: no migration runs twice */
  g_assert_no_error(err);
  g_assert_cmpmem(dc_store_secret(f->store), 32, secret, 32); /* the secret persists */
  dc_point *p = dc_store_get_point(f->store, hall, &err);
  g_assert_no_error(err);
  g_assert_cmpstr(p->name, ==, "UBND huyện");
  dc_point_free(p);
}

static void test_newer_schema_refused(fixture *f, gconstpointer data) {
  dc_store_close(f->store);
  f->store = NULL;
  sqlite3 *db;
  g_assert_cmpint(sqlite3_open(f->path, &db), ==, SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
  sqlite3_close(db);
  GError *err = NULL;
  g_assert_null(dc_store_open(f->path, &err));
  g_assert_nonnull(strstr(err->message, "newer"));
  g_error_free(err);
}

static void test_rules(fixture *f, gconstpointer data) {
  GError *err = NULL;
  int64_t hall = dc_store_add_point(f->store, "Hội trường", "hall", "hall", &err);
  int64_t xa = dc_store_add_point(f->store, "Xã Tà Xùa", "commune", "highland", &err);
  g_assert_no_error(err);
  /* bad values are refused with a rule, and leave nothing behind */
  g_assert_cmpint(dc_store_add_point(f->store, "", "commune", "standard", &err), ==, 0);
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  g_assert_cmpint(dc_store_add_point(f->store, "Xã Tà Xùa", "commune", "standard", &err), ==, 0);
  g_clear_error(&err);
  g_assert_cmpint(dc_store_add_point(f->store, "X", "village", "standard", &err), ==, 0);
  g_clear_error(&err);
  GPtrArray *points = dc_store_list_points(f->store, &err);
  g_assert_cmpuint(points->len, ==, 2);
  g_ptr_array_unref(points);

  int64_t m = dc_store_create_meeting(f->store, "Giao ban tuần", 1000, 5000, hall, &err);
  g_assert_no_error(err);
  g_assert_cmpint(dc_store_create_meeting(f->store, "Ngược", 5000, 1000, hall, &err), ==, 0);
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  g_assert_cmpint(dc_store_create_meeting(f->store, "Không chủ trì", 1, 2, 999, &err), ==, 0);
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID); /* foreign key */
  g_clear_error(&err);
  GPtrArray *meetings = dc_store_list_meetings(f->store, &err);
  g_assert_cmpuint(meetings->len, ==, 1);
  g_ptr_array_unref(meetings);

  int64_t inv = dc_store_create_invitation(f->store, m, xa, "participant", 9000, &err);
  g_assert_no_error(err);
  g_assert_cmpint(dc_store_create_invitation(f->store, m, xa, "emperor", 9000, &err), ==, 0);
  g_clear_error(&err);
  g_assert_cmpint(dc_store_create_invitation(f->store, 77, xa, "participant", 9000, &err), ==, 0);
  g_clear_error(&err);
  dc_invitation *i = dc_store_get_invitation(f->store, inv, &err);
  g_assert_no_error(err);
  g_assert_cmpint(i->meeting_id, ==, m);
  g_assert_cmpstr(i->role, ==, "participant");
  g_assert_false(i->revoked);
  dc_invitation_free(i);
  g_assert_null(dc_store_get_invitation(f->store, 12345, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND);
  g_clear_error(&err);

  g_assert_true(dc_store_set_meeting_state(f->store, m, "ended", &err));
  g_assert_false(dc_store_set_meeting_state(f->store, m, "paused", &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  g_assert_false(dc_store_set_meeting_state(f->store, 4242, "live", &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND);
  g_clear_error(&err);
  dc_meeting *mt = dc_store_get_meeting(f->store, m, &err);
  g_assert_cmpstr(mt->state, ==, "ended");
  dc_meeting_free(mt);
}

static void test_api_keys(fixture *f, gconstpointer data) {
  g_assert_cmpint(dc_store_count_api_keys(f->store), ==, 0);
  GError *err = NULL;
  char *key = dc_store_new_api_key(f->store, &err);
  g_assert_no_error(err);
  g_assert_cmpuint(strlen(key), ==, 43);
  g_assert_true(dc_store_check_api_key(f->store, key));
  g_assert_false(dc_store_check_api_key(f->store, "not-the-key"));
  g_assert_false(dc_store_check_api_key(f->store, ""));
  g_assert_false(dc_store_check_api_key(f->store, NULL));
  g_assert_cmpint(dc_store_count_api_keys(f->store), ==, 1);
  /* only a hash is stored: the key's text appears nowhere in the database file */
  dc_store_close(f->store);
  gchar *contents;
  gsize len;
  g_assert_true(g_file_get_contents(f->path, &contents, &len, NULL));
  g_assert_null(g_strstr_len(contents, (gssize)len, key));
  char *wal = g_strconcat(f->path, "-wal", NULL);
  gchar *wal_contents = NULL;
  if (g_file_get_contents(wal, &wal_contents, &len, NULL))
    g_assert_null(g_strstr_len(wal_contents, (gssize)len, key));
  g_free(wal);
  g_free(wal_contents);
  g_free(contents);
  f->store = dc_store_open(f->path, &err);
  g_assert_true(dc_store_check_api_key(f->store, key));
  g_free(key);
}

/* Device keys: one per point, hashed, a new one withdraws the old; the point's open and
 * next meetings, only through invitations that still stand. */
static void test_device_keys(fixture *f, gconstpointer data) {
  GError *err = NULL;
  int64_t point = dc_store_add_point(f->store, "Xã Ân Sơn", "commune", "highland", &err);
  int64_t other = dc_store_add_point(f->store, "Xã Bok Tới", "commune", "highland", &err);
  g_assert_no_error(err);
  g_assert_null(dc_store_new_device_key(f->store, 999, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND);
  g_clear_error(&err);
  char *k1 = dc_store_new_device_key(f->store, point, &err);
  g_assert_no_error(err);
  g_assert_true(g_str_has_prefix(k1, "dk."));
  g_assert_cmpint(dc_store_device_point(f->store, k1), ==, point);
  char *k2 = dc_store_new_device_key(f->store, point, &err);
  g_assert_cmpint(dc_store_device_point(f->store, k1), ==, 0); /* replaced */
  g_assert_cmpint(dc_store_device_point(f->store, k2), ==, point);
  g_assert_cmpint(dc_store_device_point(f->store, ""), ==, 0);
  g_assert_cmpint(dc_store_device_point(f->store, NULL), ==, 0);
  g_assert_cmpint(dc_store_device_point(f->store, "dk.nothing"), ==, 0);

  int64_t now = 1800000000;
  int64_t past = dc_store_create_meeting(f->store, "Hôm qua", now - 90000, now - 86400, 0, &err);
  int64_t open = dc_store_create_meeting(f->store, "Bây giờ", now - 60, now + 3600, 0, &err);
  int64_t later = dc_store_create_meeting(f->store, "Chiều nay", now + 7200, now + 9000, 0, &err);
  g_assert_no_error(err);
  dc_store_create_invitation(f->store, past, point, "participant", now + 99999, &err);
  int64_t inv_open = dc_store_create_invitation(f->store, open, point, "participant", now + 7200, &err);
  int64_t inv_later = dc_store_create_invitation(f->store, later, point, "participant", now + 99999, &err);
  dc_store_create_invitation(f->store, open, other, "participant", now + 7200, &err);
  g_assert_no_error(err);
  g_assert_cmpint(dc_store_point_invitation(f->store, point, now, 3600, true, &err), ==, inv_open);
  g_assert_cmpint(dc_store_point_invitation(f->store, point, now, 3600, false, &err), ==, inv_later);
  g_assert_cmpint(dc_store_point_invitation(f->store, point, now - 120, 3600, true, &err), ==, 0); /* not begun */
  g_assert_true(dc_store_revoke_invitation(f->store, inv_open, &err));
  g_assert_cmpint(dc_store_point_invitation(f->store, point, now, 3600, true, &err), ==, 0);
  g_assert_true(dc_store_set_meeting_state(f->store, later, "ended", &err));
  g_assert_cmpint(dc_store_point_invitation(f->store, point, now, 3600, false, &err), ==, 0);
  g_assert_no_error(err);
  g_free(k1);
  g_free(k2);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add("/store/schema-and-reopen", fixture, NULL, setup, test_schema_and_reopen, teardown);
  g_test_add("/store/newer-schema-refused", fixture, NULL, setup, test_newer_schema_refused, teardown);
  g_test_add("/store/rules", fixture, NULL, setup, test_rules, teardown);
  g_test_add("/store/api-keys", fixture, NULL, setup, test_api_keys, teardown);
  g_test_add("/store/device-keys", fixture, NULL, setup, test_device_keys, teardown);
  return g_test_run();
}
