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
  g_assert_cmpint(dc_store_schema_version(f->store), ==, 5);
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

  g_assert_true(dc_store_end_meeting(f->store, m, 3000, &err));
  g_assert_false(dc_store_end_meeting(f->store, 4242, 3000, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND);
  g_clear_error(&err);
  dc_meeting *mt = dc_store_get_meeting(f->store, m, &err);
  g_assert_cmpstr(dc_meeting_state(mt, 3001), ==, "ended");
  g_assert_cmpint(mt->ended_at, ==, 3000);
  dc_meeting_free(mt);
}

static void test_api_keys(fixture *f, gconstpointer data) {
  g_assert_cmpint(dc_store_count_api_keys(f->store), ==, 0);
  GError *err = NULL;
  char *key = dc_store_new_api_key(f->store, "first key", "admin", NULL, &err);
  g_assert_no_error(err);
  g_assert_cmpuint(strlen(key), ==, 43);
  dc_api_key *k = dc_store_check_api_key(f->store, key);
  g_assert_nonnull(k);
  g_assert_cmpstr(k->role, ==, "admin");
  dc_api_key_free(k);
  g_assert_null(dc_store_check_api_key(f->store, "not-the-key"));
  g_assert_null(dc_store_check_api_key(f->store, ""));
  g_assert_null(dc_store_check_api_key(f->store, NULL));
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
  k = dc_store_check_api_key(f->store, key);
  g_assert_nonnull(k);

  /* roles and revocation: the last admin key cannot go, a revoked key opens nothing */
  g_assert_null(dc_store_new_api_key(f->store, "x", "root", NULL, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  g_assert_null(dc_store_new_api_key(f->store, "", "viewer", NULL, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  g_assert_false(dc_store_revoke_api_key(f->store, k->id, 100, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  int64_t viewer_id = 0;
  char *viewer = dc_store_new_api_key(f->store, "Chị Lan (xem)", "viewer", &viewer_id, &err);
  g_assert_no_error(err);
  g_assert_cmpint(dc_store_count_api_keys(f->store), ==, 2);
  g_assert_true(dc_store_revoke_api_key(f->store, viewer_id, 100, &err));
  g_assert_null(dc_store_check_api_key(f->store, viewer));
  g_assert_false(dc_store_revoke_api_key(f->store, viewer_id, 100, &err)); /* twice */
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND);
  g_clear_error(&err);
  GPtrArray *keys = dc_store_list_api_keys(f->store, &err);
  g_assert_cmpuint(keys->len, ==, 2);
  g_assert_cmpint(((dc_api_key *)keys->pdata[1])->revoked_at, ==, 100);
  g_ptr_array_unref(keys);
  g_assert_cmpint(dc_store_count_api_keys(f->store), ==, 1);
  dc_api_key_free(k);
  g_free(viewer);
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
  g_assert_cmpint(dc_store_point_invitation(f->store, point, now - 120, 3600, true, &err), ==, inv_open); /* open early */
  g_assert_cmpint(dc_store_point_invitation(f->store, point, now - 60 - DC_MEETING_OPEN_BEFORE_S - 1, 3600, true, &err), ==, 0); /* not open yet */
  g_assert_true(dc_store_revoke_invitation(f->store, inv_open, &err));
  g_assert_cmpint(dc_store_point_invitation(f->store, point, now, 3600, true, &err), ==, 0);
  g_assert_true(dc_store_cancel_meeting(f->store, later, now, &err));
  g_assert_cmpint(dc_store_point_invitation(f->store, point, now, 3600, false, &err), ==, 0);
  g_assert_no_error(err);
  g_free(k1);
  g_free(k2);
}

/* The life cycle in simulated time: scheduled, open, live, ended by time or by hand,
 * cancelled; a series; moving a meeting moves its invitations; ended and cancelled ones
 * cannot change. */
static void test_life_cycle(fixture *f, gconstpointer data) {
  GError *err = NULL;
  int64_t t0 = 1800000000; /* start */
  int64_t m = dc_store_create_meeting(f->store, "Giao ban", t0, t0 + 3600, 0, &err);
  g_assert_no_error(err);
  dc_meeting *mt = dc_store_get_meeting(f->store, m, &err);
  g_assert_cmpint(mt->open_before_s, ==, DC_MEETING_OPEN_BEFORE_S);
  struct {
    int64_t at;
    const char *state;
    bool joinable;
  } steps[] = {{t0 - 901, "scheduled", false}, {t0 - 900, "open", true}, {t0 - 1, "open", true},
               {t0, "live", true}, {t0 + 3600 + DC_MEETING_GRACE_S, "live", true},
               {t0 + 3601 + DC_MEETING_GRACE_S, "ended", false}};
  for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
    g_assert_cmpstr(dc_meeting_state(mt, steps[i].at), ==, steps[i].state);
    g_assert_true(dc_meeting_joinable(mt, steps[i].at) == steps[i].joinable);
  }
  dc_meeting_free(mt);

  /* moved an hour later: its invitation's expiry moves with it */
  int64_t point = dc_store_add_point(f->store, "Xã A", "commune", "standard", &err);
  int64_t inv = dc_store_create_invitation(f->store, m, point, "participant", t0 + 7200, &err);
  g_assert_true(dc_store_edit_meeting(f->store, m, "Giao ban (dời)", t0 + 3600, t0 + 7200, -1, t0 - 3600, &err));
  g_assert_no_error(err);
  dc_invitation *i = dc_store_get_invitation(f->store, inv, &err);
  g_assert_cmpint(i->expires_at, ==, t0 + 7200 + 3600);
  dc_invitation_free(i);
  /* a bad edit changes nothing (end before start) */
  g_assert_false(dc_store_edit_meeting(f->store, m, NULL, t0 + 9000, 0, -1, t0 - 3600, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  mt = dc_store_get_meeting(f->store, m, &err);
  g_assert_cmpstr(mt->title, ==, "Giao ban (dời)");
  g_assert_cmpint(mt->starts_at, ==, t0 + 3600);
  dc_meeting_free(mt);
  i = dc_store_get_invitation(f->store, inv, &err);
  g_assert_cmpint(i->expires_at, ==, t0 + 7200 + 3600);
  dc_invitation_free(i);

  /* ended by hand: ended from then on, and it cannot change or be cancelled */
  g_assert_true(dc_store_end_meeting(f->store, m, t0 + 4000, &err));
  g_assert_true(dc_store_end_meeting(f->store, m, t0 + 5000, &err)); /* again: the first time stays */
  mt = dc_store_get_meeting(f->store, m, &err);
  g_assert_cmpint(mt->ended_at, ==, t0 + 4000);
  g_assert_cmpstr(dc_meeting_state(mt, t0 + 4000), ==, "ended");
  dc_meeting_free(mt);
  g_assert_false(dc_store_edit_meeting(f->store, m, "x", 0, 0, -1, t0 + 4001, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  g_assert_false(dc_store_cancel_meeting(f->store, m, t0 + 4001, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);

  /* a weekly series: its occurrences, one transaction; a bad one leaves none */
  int64_t starts[4], ends[4];
  for (int k = 0; k < 4; k++) {
    starts[k] = t0 + k * 7 * 86400;
    ends[k] = starts[k] + 5400;
  }
  GPtrArray *before = dc_store_list_meetings(f->store, &err);
  ends[3] = starts[3] - 1;
  g_assert_cmpint(dc_store_create_series(f->store, "Tuần", starts, ends, 4, 0, 600, &err), ==, 0);
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  GPtrArray *after = dc_store_list_meetings(f->store, &err);
  g_assert_cmpuint(after->len, ==, before->len);
  g_ptr_array_unref(after);
  ends[3] = starts[3] + 5400;
  int64_t first = dc_store_create_series(f->store, "Tuần", starts, ends, 4, 0, 600, &err);
  g_assert_no_error(err);
  after = dc_store_list_meetings_between(f->store, t0 + 86400, G_MAXINT64, &err);
  g_assert_cmpuint(after->len, ==, 3);
  for (guint k = 0; k < after->len; k++) {
    dc_meeting *o = after->pdata[k];
    g_assert_cmpint(o->series_id, ==, first);
    g_assert_cmpint(o->open_before_s, ==, 600);
  }
  g_ptr_array_unref(after);
  g_ptr_array_unref(before);
  /* cancelled: no longer joinable, and not twice */
  g_assert_true(dc_store_cancel_meeting(f->store, first, t0 - 10, &err));
  mt = dc_store_get_meeting(f->store, first, &err);
  g_assert_cmpstr(dc_meeting_state(mt, t0), ==, "cancelled");
  g_assert_false(dc_meeting_joinable(mt, t0));
  dc_meeting_free(mt);
  g_assert_false(dc_store_cancel_meeting(f->store, first, t0, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  g_assert_false(dc_store_end_meeting(f->store, first, t0, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
}

static void test_groups_and_stays(fixture *f, gconstpointer data) {
  GError *err = NULL;
  int64_t a = dc_store_add_point_contact(f->store, "Xã A", "commune", "highland", "Anh Tú 0912 345 678", &err);
  int64_t b = dc_store_add_point(f->store, "Xã B", "commune", "standard", &err);
  int64_t c = dc_store_add_point(f->store, "Trạm y tế", "other", "standard", &err);
  g_assert_no_error(err);
  g_assert_true(dc_store_edit_point(f->store, b, NULL, NULL, "highland", "Chị Mai", &err));
  g_assert_false(dc_store_edit_point(f->store, b, "Xã A", NULL, NULL, NULL, &err)); /* name taken */
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  dc_point *p = dc_store_get_point(f->store, b, &err);
  g_assert_cmpstr(p->name, ==, "Xã B");
  g_assert_cmpstr(p->link_profile, ==, "highland");
  g_assert_cmpstr(p->contact, ==, "Chị Mai");
  dc_point_free(p);

  int64_t g = dc_store_add_group(f->store, "Tất cả các xã", &err);
  g_assert_no_error(err);
  g_assert_cmpint(dc_store_add_group(f->store, "Tất cả các xã", &err), ==, 0);
  g_clear_error(&err);
  g_assert_true(dc_store_group_set_member(f->store, g, a, true, &err));
  g_assert_true(dc_store_group_set_member(f->store, g, b, true, &err));
  g_assert_true(dc_store_group_set_member(f->store, g, b, true, &err)); /* twice: no error */
  g_assert_false(dc_store_group_set_member(f->store, g, 999, true, &err));
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND);
  g_clear_error(&err);
  dc_group *grp = dc_store_get_group(f->store, g, &err);
  g_assert_cmpuint(grp->point_ids->len, ==, 2);
  dc_group_free(grp);

  int64_t m = dc_store_create_meeting(f->store, "Họp", 1000, 5000, 0, &err);
  dc_store_create_invitation(f->store, m, b, "participant", 9000, &err); /* b already invited */
  GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
  g_assert_true(dc_store_invite_group(f->store, m, g, "participant", 9000, ids, &err));
  g_assert_cmpuint(ids->len, ==, 1); /* a only */
  g_assert_false(dc_store_invite_group(f->store, m, g, "chair", 9000, ids, &err)); /* bad role */
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  g_assert_cmpuint(ids->len, ==, 1);
  g_array_unref(ids);
  GPtrArray *invs = dc_store_list_invitations(f->store, m, &err);
  g_assert_cmpuint(invs->len, ==, 2);
  dc_invitation *inv_a = invs->pdata[1];
  g_assert_cmpint(inv_a->point_id, ==, a);

  /* attendance: two stays for a, one left open by a crash and closed at its last update */
  int64_t s1 = dc_store_stay_begin(f->store, m, inv_a->id, a, "Anh Tú", 1100, &err);
  g_assert_no_error(err);
  dc_stay q = {.id = s1, .rtt_ms = 180, .loss_down_pct = 2.5, .loss_up_pct = 0.5, .video_off_s = 12};
  g_assert_true(dc_store_stay_update(f->store, &q, 1500, true, &err));
  int64_t s2 = dc_store_stay_begin(f->store, m, inv_a->id, a, "Anh Tú", 1600, &err);
  q.id = s2;
  g_assert_true(dc_store_stay_update(f->store, &q, 1700, false, &err));
  dc_store_close(f->store);
  f->store = dc_store_open(f->path, &err);
  g_assert_no_error(err);
  g_assert_cmpint(dc_store_close_open_stays(f->store), ==, 1);
  GPtrArray *stays = dc_store_list_stays(f->store, m, &err);
  g_assert_cmpuint(stays->len, ==, 2);
  dc_stay *first = stays->pdata[0], *second = stays->pdata[1];
  g_assert_cmpint(first->left_at, ==, 1500);
  g_assert_cmpint(first->rtt_ms, ==, 180);
  g_assert_cmpint(second->left_at, ==, 1700);
  g_assert_cmpstr(second->name, ==, "Anh Tú");
  g_ptr_array_unref(stays);
  g_ptr_array_unref(invs);
  (void)c;

  /* the audit log, newest first */
  g_assert_true(dc_store_audit(f->store, 10, "first key", "group.create", "Tất cả các xã", &err));
  g_assert_true(dc_store_audit(f->store, 11, "first key", "meeting.end", "Họp", &err));
  GPtrArray *log = dc_store_list_audit(f->store, 10, &err);
  g_assert_cmpuint(log->len, ==, 2);
  g_assert_cmpstr(((dc_audit_entry *)log->pdata[0])->action, ==, "meeting.end");
  g_ptr_array_unref(log);

  /* the online backup is a store of its own, with everything in it */
  char *copy = g_build_filename(f->dir, "backup.db", NULL);
  g_assert_true(dc_store_backup(f->store, copy, &err));
  g_assert_no_error(err);
  g_assert_false(dc_store_backup(f->store, copy, &err)); /* never over a file */
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
  dc_store *restored = dc_store_open(copy, &err);
  g_assert_no_error(err);
  GPtrArray *points = dc_store_list_points(restored, &err);
  g_assert_cmpuint(points->len, ==, 3);
  g_ptr_array_unref(points);
  dc_store_close(restored);
  const char *suffixes[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char *path = g_strconcat(copy, suffixes[i], NULL);
    g_unlink(path);
    g_free(path);
  }
  g_free(copy);
}

/* A store made by the previous schema (2) moves to 3 keeping its rows: points, a meeting
 * ended by hand, invitations, keys (now the admin "first key"), device keys. */
static void test_migration_from_2(fixture *f, gconstpointer data) {
  dc_store_close(f->store);
  f->store = NULL;
  g_unlink(f->path);
  sqlite3 *db;
  g_assert_cmpint(sqlite3_open(f->path, &db), ==, SQLITE_OK);
  const char *v2 =
      "PRAGMA foreign_keys = ON;"
      "CREATE TABLE points (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL"
      " CHECK (kind IN ('hall', 'commune')), link_profile TEXT NOT NULL, created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
      "CREATE TABLE meetings (id INTEGER PRIMARY KEY, title TEXT NOT NULL, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,"
      " state TEXT NOT NULL DEFAULT 'scheduled', host_point_id INTEGER REFERENCES points(id), created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
      "CREATE TABLE invitations (id INTEGER PRIMARY KEY, meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,"
      " point_id INTEGER NOT NULL REFERENCES points(id), role TEXT NOT NULL, expires_at INTEGER NOT NULL,"
      " revoked INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
      "CREATE INDEX invitations_meeting ON invitations(meeting_id);"
      "CREATE TABLE api_keys (id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
      "CREATE TABLE settings (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
      "CREATE TABLE device_keys (point_id INTEGER PRIMARY KEY REFERENCES points(id) ON DELETE CASCADE,"
      " sha256 BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
      "INSERT INTO points (id, name, kind, link_profile) VALUES (1, 'Hội trường', 'hall', 'hall'), (2, 'Xã A', 'commune', 'highland');"
      "INSERT INTO meetings (id, title, starts_at, ends_at, state, host_point_id) VALUES (1, 'Cũ', 1000, 2000, 'ended', 1),"
      " (2, 'Mới', 4000000000, 4000003600, 'scheduled', 1);"
      "INSERT INTO invitations (meeting_id, point_id, role, expires_at) VALUES (2, 2, 'participant', 4000007200);"
      "INSERT INTO api_keys (sha256) VALUES (x'00');"
      "INSERT INTO device_keys (point_id, sha256) VALUES (2, x'01');"
      "PRAGMA user_version = 2;";
  g_assert_cmpint(sqlite3_exec(db, v2, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close(db);
  GError *err = NULL;
  f->store = dc_store_open(f->path, &err);
  g_assert_no_error(err);
  g_assert_cmpint(dc_store_schema_version(f->store), ==, 5);
  dc_meeting *old = dc_store_get_meeting(f->store, 1, &err), *next = dc_store_get_meeting(f->store, 2, &err);
  g_assert_no_error(err);
  g_assert_cmpstr(dc_meeting_state(old, 1500), ==, "ended");
  g_assert_cmpstr(dc_meeting_state(next, 4000000000), ==, "live");
  g_assert_cmpint(next->host_point_id, ==, 1);
  dc_meeting_free(old);
  dc_meeting_free(next);
  dc_point *p = dc_store_get_point(f->store, 2, &err);
  g_assert_true(p->has_device_key);
  g_assert_cmpstr(p->contact, ==, "");
  dc_point_free(p);
  GPtrArray *keys = dc_store_list_api_keys(f->store, &err);
  g_assert_cmpuint(keys->len, ==, 1);
  g_assert_cmpstr(((dc_api_key *)keys->pdata[0])->role, ==, "admin");
  g_ptr_array_unref(keys);
  GPtrArray *invs = dc_store_list_invitations(f->store, 2, &err);
  g_assert_cmpuint(invs->len, ==, 1);
  g_ptr_array_unref(invs);
  /* foreign keys are back on: an invitation to no meeting is refused */
  g_assert_cmpint(dc_store_create_invitation(f->store, 99, 2, "participant", 1, &err), ==, 0);
  g_assert_error(err, DC_STORE_ERROR, DC_STORE_ERROR_INVALID);
  g_clear_error(&err);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add("/store/schema-and-reopen", fixture, NULL, setup, test_schema_and_reopen, teardown);
  g_test_add("/store/newer-schema-refused", fixture, NULL, setup, test_newer_schema_refused, teardown);
  g_test_add("/store/rules", fixture, NULL, setup, test_rules, teardown);
  g_test_add("/store/api-keys", fixture, NULL, setup, test_api_keys, teardown);
  g_test_add("/store/device-keys", fixture, NULL, setup, test_device_keys, teardown);
  g_test_add("/store/life-cycle", fixture, NULL, setup, test_life_cycle, teardown);
  g_test_add("/store/groups-and-stays", fixture, NULL, setup, test_groups_and_stays, teardown);
  g_test_add("/store/migration-from-2", fixture, NULL, setup, test_migration_from_2, teardown);
  return g_test_run();
}
