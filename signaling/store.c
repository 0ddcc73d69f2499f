/* store.c — the SQLite store (see store.h): its schema and migrations, opening it, the
 * statement helpers the store's files share (store_private.h), points, groups, attendance's
 * stays and the backup. Meetings and invitations are in store_meetings.c, keys and the audit
 * log in store_keys.c. */
#include "signaling/store_private.h"

#include <glib/gstdio.h>
#include <openssl/rand.h>
#include <string.h>

G_DEFINE_QUARK(diemcau-store-error-quark, dc_store_error)

/* Each entry moves the schema from version i to i + 1. Append; never edit a past step. */
static const char *const migrations[] = {
    /* 1: points, meetings, invitations, API keys, settings */
    "CREATE TABLE points ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 120),"
    "  kind TEXT NOT NULL CHECK (kind IN ('hall', 'commune')),"
    "  link_profile TEXT NOT NULL CHECK (link_profile IN ('hall', 'standard', 'highland')),"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
    "CREATE TABLE meetings ("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),"
    "  starts_at INTEGER NOT NULL,"
    "  ends_at INTEGER NOT NULL CHECK (ends_at > starts_at),"
    "  state TEXT NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'live', 'ended')),"
    "  host_point_id INTEGER REFERENCES points(id),"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
    "CREATE TABLE invitations ("
    "  id INTEGER PRIMARY KEY,"
    "  meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,"
    "  point_id INTEGER NOT NULL REFERENCES points(id),"
    "  role TEXT NOT NULL CHECK (role IN ('host', 'participant', 'observer')),"
    "  expires_at INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
    "CREATE INDEX invitations_meeting ON invitations(meeting_id);"
    "CREATE TABLE api_keys ("
    "  id INTEGER PRIMARY KEY,"
    "  sha256 BLOB NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value BLOB NOT NULL);",
    /* 2: a device key per point, for unattended endpoints (hash only) */
    "CREATE TABLE device_keys ("
    "  point_id INTEGER PRIMARY KEY REFERENCES points(id) ON DELETE CASCADE,"
    "  sha256 BLOB NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()));",
    /* 3: the operators' workflow. Points take kind "other" and a contact; meetings lose
     * their stored state for marks (ended, cancelled) the life cycle is computed from, and
     * gain series and open windows (SQLite changes a CHECK only by rebuilding the table:
     * migrate() runs this with foreign keys off, and checks them before it commits). Groups,
     * named keys with roles, the audit log, attendance. */
    "CREATE TABLE points_v3 ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 120),"
    "  kind TEXT NOT NULL CHECK (kind IN ('hall', 'commune', 'other')),"
    "  link_profile TEXT NOT NULL CHECK (link_profile IN ('hall', 'standard', 'highland')),"
    "  contact TEXT NOT NULL DEFAULT '' CHECK (length(contact) <= 200),"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
    "INSERT INTO points_v3 (id, name, kind, link_profile, created_at)"
    "  SELECT id, name, kind, link_profile, created_at FROM points;"
    "DROP TABLE points;"
    "ALTER TABLE points_v3 RENAME TO points;"
    "CREATE TABLE meetings_v3 ("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),"
    "  starts_at INTEGER NOT NULL,"
    "  ends_at INTEGER NOT NULL CHECK (ends_at > starts_at),"
    "  host_point_id INTEGER REFERENCES points(id),"
    "  series_id INTEGER,"
    "  open_before_s INTEGER NOT NULL DEFAULT 900 CHECK (open_before_s BETWEEN 0 AND 86400),"
    "  ended_at INTEGER,"
    "  cancelled_at INTEGER,"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
    "INSERT INTO meetings_v3 (id, title, starts_at, ends_at, host_point_id, ended_at, created_at)"
    "  SELECT id, title, starts_at, ends_at, host_point_id,"
    "         CASE WHEN state = 'ended' THEN min(ends_at, unixepoch()) END, created_at FROM meetings;"
    "DROP TABLE meetings;"
    "ALTER TABLE meetings_v3 RENAME TO meetings;"
    "CREATE INDEX meetings_starts ON meetings(starts_at);"
    "CREATE TABLE groups ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 120),"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
    "CREATE TABLE group_points ("
    "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  point_id INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (group_id, point_id));"
    "ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT 'first key';"
    "ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'"
    "  CHECK (role IN ('admin', 'operator', 'viewer'));"
    "ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  who TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  detail TEXT NOT NULL);"
    "CREATE TABLE stays ("
    "  id INTEGER PRIMARY KEY,"
    "  meeting_id INTEGER NOT NULL REFERENCES meetings(id),"
    "  invitation_id INTEGER NOT NULL REFERENCES invitations(id),"
    "  point_id INTEGER NOT NULL REFERENCES points(id),"
    "  name TEXT NOT NULL,"
    "  joined_at INTEGER NOT NULL,"
    "  left_at INTEGER,"
    "  seen_at INTEGER NOT NULL,"
    "  rtt_ms INTEGER NOT NULL DEFAULT -1,"
    "  loss_down_pct REAL NOT NULL DEFAULT -1,"
    "  loss_up_pct REAL NOT NULL DEFAULT -1,"
    "  video_off_s INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX stays_meeting ON stays(meeting_id);",
    /* 4: chairing. A meeting the host locked; an invitation the host removed from its
     * meeting; the meeting's log of who spoke, had the floor, joined and left (the minutes
     * draft is made from it). */
    "ALTER TABLE meetings ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE invitations ADD COLUMN barred INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE meeting_events ("
    "  id INTEGER PRIMARY KEY,"
    "  meeting_id INTEGER NOT NULL REFERENCES meetings(id),"
    "  at_ms INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  point TEXT NOT NULL DEFAULT '',"
    "  name TEXT NOT NULL DEFAULT '',"
    "  detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX meeting_events_meeting ON meeting_events(meeting_id, at_ms);",
    /* 5: a meeting the operator marked to be recorded from its first join */
    "ALTER TABLE meetings ADD COLUMN record INTEGER NOT NULL DEFAULT 0;",
};

bool store_fail_db(dc_store *s, GError **error, const char *what) {
  g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_FAILED, "store: %s: %s", what,
              sqlite3_errmsg(s->db));
  return false;
}

static bool exec(dc_store *s, const char *sql, GError **error) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_FAILED, "store: %s", msg ? msg : "error");
    sqlite3_free(msg);
    return false;
  }
  return true;
}

int dc_store_schema_version(dc_store *s) {
  sqlite3_stmt *st;
  int v = -1;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static bool foreign_keys_hold(dc_store *s, GError **error) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
    return store_fail_db(s, error, "checking foreign keys");
  bool broken = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  if (broken)
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_FAILED, "store: a row refers to one that is gone");
  return !broken;
}

static bool migrate(dc_store *s, GError **error) {
  int have = dc_store_schema_version(s), want = (int)G_N_ELEMENTS(migrations);
  if (have > want) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_FAILED,
                "store: schema version %d is newer than this program knows (%d); "
                "use the newer diemcau or another data directory", have, want);
    return false;
  }
  /* a step may rebuild a table others refer to: foreign keys are off while it runs (they
   * cannot change inside a transaction) and checked before each step commits */
  if (have < want && !exec(s, "PRAGMA foreign_keys = OFF", error))
    return false;
  for (int v = have; v < want; v++) {
    char *bump = g_strdup_printf("PRAGMA user_version = %d", v + 1);
    bool ok = exec(s, "BEGIN IMMEDIATE", error) && exec(s, migrations[v], error) &&
              foreign_keys_hold(s, error) && exec(s, bump, error) && exec(s, "COMMIT", error);
    g_free(bump);
    if (!ok) {
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
      g_prefix_error(error, "migrating to schema %d: ", v + 1);
      return false;
    }
  }
  return exec(s, "PRAGMA foreign_keys = ON", error);
}

static bool load_secret(dc_store *s, GError **error) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "SELECT value FROM settings WHERE key = 'token_secret'", -1, &st,
                         NULL) != SQLITE_OK)
    return store_fail_db(s, error, "reading the token secret");
  bool found = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32;
  if (found)
    memcpy(s->secret, sqlite3_column_blob(st, 0), 32);
  sqlite3_finalize(st);
  if (found)
    return true;
  if (RAND_bytes(s->secret, 32) != 1) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_FAILED, "store: no random bytes for a secret");
    return false;
  }
  if (sqlite3_prepare_v2(s->db, "INSERT INTO settings (key, value) VALUES ('token_secret', ?)", -1,
                         &st, NULL) != SQLITE_OK)
    return store_fail_db(s, error, "saving the token secret");
  sqlite3_bind_blob(st, 1, s->secret, 32, SQLITE_STATIC);
  bool ok = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  return ok ? true : store_fail_db(s, error, "saving the token secret");
}

dc_store *dc_store_open(const char *path, GError **error) {
  dc_store *s = g_new0(dc_store, 1);
  int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_FAILED, "store: cannot open %s: %s", path,
                s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    dc_store_close(s);
    return NULL;
  }
  sqlite3_busy_timeout(s->db, 2000);
  if (!exec(s, "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL",
            error) ||
      !migrate(s, error) || !load_secret(s, error)) {
    g_prefix_error(error, "%s: ", path);
    dc_store_close(s);
    return NULL;
  }
  return s;
}

void dc_store_close(dc_store *s) {
  if (!s)
    return;
  sqlite3_close(s->db);
  memset(s->secret, 0, sizeof s->secret);
  g_free(s);
}

const uint8_t *dc_store_secret(dc_store *s) { return s->secret; }

/* ---- statements ---- */

sqlite3_stmt *store_prepare(dc_store *s, const char *sql, GError **error) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
    store_fail_db(s, error, "preparing a query");
    return NULL;
  }
  return st;
}

/* Runs an INSERT and returns the new row id, or 0 with an error. A broken CHECK or foreign
 * key is the caller's bad value, reported as DC_STORE_ERROR_INVALID with `rule`. */
int64_t store_insert(dc_store *s, sqlite3_stmt *st, const char *rule, GError **error) {
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE)
    return sqlite3_last_insert_rowid(s->db);
  if ((rc & 0xFF) == SQLITE_CONSTRAINT)
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "%s", rule);
  else
    store_fail_db(s, error, "writing");
  return 0;
}

bool store_begin(dc_store *s, GError **error) { return exec(s, "BEGIN IMMEDIATE", error); }
void store_rollback(dc_store *s) { sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); }
bool store_commit(dc_store *s, GError **error) {
  if (exec(s, "COMMIT", error))
    return true;
  store_rollback(s);
  return false;
}
char *store_col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return g_strdup(t ? (const char *)t : "");
}

int64_t dc_store_add_point(dc_store *s, const char *name, const char *kind,
                           const char *link_profile, GError **error) {
  return dc_store_add_point_contact(s, name, kind, link_profile, "", error);
}

#define POINT_RULE                                                                          \
  "a point needs a unique name of 1-120 characters, kind hall, commune or other, link "      \
  "profile hall, standard or highland, and a contact of at most 200 characters"

int64_t dc_store_add_point_contact(dc_store *s, const char *name, const char *kind,
                                   const char *link_profile, const char *contact, GError **error) {
  sqlite3_stmt *st = store_prepare(
      s, "INSERT INTO points (name, kind, link_profile, contact) VALUES (?, ?, ?, ?)", error);
  if (!st)
    return 0;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, link_profile, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, contact ? contact : "", -1, SQLITE_TRANSIENT);
  return store_insert(s, st, POINT_RULE, error);
}

/* Runs an UPDATE of one row; INVALID with rule for a broken CHECK, NOT_FOUND with what when
 * no row matched. */
bool store_update_one(dc_store *s, sqlite3_stmt *st, const char *rule, const char *what,
                       int64_t id, GError **error) {
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if ((rc & 0xFF) == SQLITE_CONSTRAINT) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "%s", rule);
    return false;
  }
  if (rc != SQLITE_DONE)
    return store_fail_db(s, error, "updating");
  if (sqlite3_changes(s->db) == 0) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no %s with id %" G_GINT64_FORMAT, what, id);
    return false;
  }
  return true;
}

bool dc_store_edit_point(dc_store *s, int64_t id, const char *name, const char *kind,
                         const char *link_profile, const char *contact, GError **error) {
  sqlite3_stmt *st = store_prepare(s,
                             "UPDATE points SET name = coalesce(?1, name), kind = coalesce(?2, kind),"
                             " link_profile = coalesce(?3, link_profile), contact = coalesce(?4, contact)"
                             " WHERE id = ?5",
                             error);
  if (!st)
    return false;
  const char *values[] = {name, kind, link_profile, contact};
  for (int i = 0; i < 4; i++)
    if (values[i])
      sqlite3_bind_text(st, i + 1, values[i], -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 5, id);
  return store_update_one(s, st, POINT_RULE, "point", id, error);
}

#define POINT_COLUMNS                                                                        \
  "SELECT id, name, kind, link_profile, contact,"                                            \
  " EXISTS (SELECT 1 FROM device_keys d WHERE d.point_id = points.id) FROM points"

static dc_point *read_point(sqlite3_stmt *st) {
  dc_point *p = g_new0(dc_point, 1);
  p->id = sqlite3_column_int64(st, 0);
  p->name = store_col_text(st, 1);
  p->kind = store_col_text(st, 2);
  p->link_profile = store_col_text(st, 3);
  p->contact = store_col_text(st, 4);
  p->has_device_key = sqlite3_column_int(st, 5) != 0;
  return p;
}

void dc_point_free(dc_point *p) {
  if (!p)
    return;
  g_free(p->name);
  g_free(p->kind);
  g_free(p->link_profile);
  g_free(p->contact);
  g_free(p);
}

dc_point *dc_store_get_point(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = store_prepare(s, POINT_COLUMNS " WHERE id = ?", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, id);
  dc_point *p = sqlite3_step(st) == SQLITE_ROW ? read_point(st) : NULL;
  sqlite3_finalize(st);
  if (!p)
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no point with id %" G_GINT64_FORMAT, id);
  return p;
}

/* Every row of a query, read with read_row; NULL with an error when a step fails. */
GPtrArray *store_read_all(dc_store *s, sqlite3_stmt *st, gpointer (*read_row)(sqlite3_stmt *),
                           GDestroyNotify free_row, GError **error) {
  GPtrArray *out = g_ptr_array_new_with_free_func(free_row);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    g_ptr_array_add(out, read_row(st));
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    g_ptr_array_unref(out);
    store_fail_db(s, error, "reading");
    return NULL;
  }
  return out;
}

GPtrArray *dc_store_list_points(dc_store *s, GError **error) {
  sqlite3_stmt *st = store_prepare(s, POINT_COLUMNS " ORDER BY id", error);
  return st ? store_read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_point, (GDestroyNotify)dc_point_free, error) : NULL;
}

/* ---- groups ---- */

int64_t dc_store_add_group(dc_store *s, const char *name, GError **error) {
  sqlite3_stmt *st = store_prepare(s, "INSERT INTO groups (name) VALUES (?)", error);
  if (!st)
    return 0;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  return store_insert(s, st, "a group needs a unique name of 1-120 characters", error);
}

void dc_group_free(dc_group *g) {
  if (!g)
    return;
  g_free(g->name);
  if (g->point_ids)
    g_array_unref(g->point_ids);
  g_free(g);
}

static bool read_members(dc_store *s, dc_group *g, GError **error) {
  sqlite3_stmt *st = store_prepare(s, "SELECT point_id FROM group_points WHERE group_id = ? ORDER BY point_id", error);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, g->id);
  g->point_ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t p = sqlite3_column_int64(st, 0);
    g_array_append_val(g->point_ids, p);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE || store_fail_db(s, error, "reading a group");
}

static dc_group *read_group(sqlite3_stmt *st) {
  dc_group *g = g_new0(dc_group, 1);
  g->id = sqlite3_column_int64(st, 0);
  g->name = store_col_text(st, 1);
  return g;
}

dc_group *dc_store_get_group(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = store_prepare(s, "SELECT id, name FROM groups WHERE id = ?", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, id);
  dc_group *g = sqlite3_step(st) == SQLITE_ROW ? read_group(st) : NULL;
  sqlite3_finalize(st);
  if (!g) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no group with id %" G_GINT64_FORMAT, id);
    return NULL;
  }
  if (!read_members(s, g, error)) {
    dc_group_free(g);
    return NULL;
  }
  return g;
}

GPtrArray *dc_store_list_groups(dc_store *s, GError **error) {
  sqlite3_stmt *st = store_prepare(s, "SELECT id, name FROM groups ORDER BY id", error);
  GPtrArray *all = st ? store_read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_group, (GDestroyNotify)dc_group_free, error) : NULL;
  for (guint i = 0; all && i < all->len; i++)
    if (!read_members(s, g_ptr_array_index(all, i), error))
      g_clear_pointer(&all, g_ptr_array_unref);
  return all;
}

bool dc_store_group_set_member(dc_store *s, int64_t group_id, int64_t point_id, bool member, GError **error) {
  dc_group *g = dc_store_get_group(s, group_id, error);
  dc_point *p = g ? dc_store_get_point(s, point_id, error) : NULL;
  bool found = g && p;
  dc_group_free(g);
  dc_point_free(p);
  if (!found)
    return false;
  sqlite3_stmt *st = store_prepare(s, member ? "INSERT OR IGNORE INTO group_points (group_id, point_id) VALUES (?, ?)"
                                       : "DELETE FROM group_points WHERE group_id = ? AND point_id = ?", error);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, group_id);
  sqlite3_bind_int64(st, 2, point_id);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE || store_fail_db(s, error, "changing a group");
}

/* ---- attendance ---- */

int64_t dc_store_stay_begin(dc_store *s, int64_t meeting_id, int64_t invitation_id, int64_t point_id,
                            const char *name, int64_t now, GError **error) {
  sqlite3_stmt *st = store_prepare(s,
                             "INSERT INTO stays (meeting_id, invitation_id, point_id, name, joined_at, seen_at)"
                             " VALUES (?, ?, ?, ?, ?, ?)",
                             error);
  if (!st)
    return 0;
  sqlite3_bind_int64(st, 1, meeting_id);
  sqlite3_bind_int64(st, 2, invitation_id);
  sqlite3_bind_int64(st, 3, point_id);
  sqlite3_bind_text(st, 4, name ? name : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 5, now);
  sqlite3_bind_int64(st, 6, now);
  return store_insert(s, st, "a stay needs an existing meeting, invitation and point", error);
}

bool dc_store_stay_update(dc_store *s, const dc_stay *stay, int64_t now, bool left, GError **error) {
  sqlite3_stmt *st = store_prepare(s,
                             "UPDATE stays SET seen_at = ?1, left_at = CASE WHEN ?2 THEN ?1 END, rtt_ms = ?3,"
                             " loss_down_pct = ?4, loss_up_pct = ?5, video_off_s = ?6 WHERE id = ?7",
                             error);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int(st, 2, left);
  sqlite3_bind_int(st, 3, stay->rtt_ms);
  sqlite3_bind_double(st, 4, stay->loss_down_pct);
  sqlite3_bind_double(st, 5, stay->loss_up_pct);
  sqlite3_bind_int64(st, 6, stay->video_off_s);
  sqlite3_bind_int64(st, 7, stay->id);
  return store_update_one(s, st, "stay", "stay", stay->id, error);
}

int dc_store_close_open_stays(dc_store *s) {
  if (sqlite3_exec(s->db, "UPDATE stays SET left_at = seen_at WHERE left_at IS NULL", NULL, NULL, NULL) != SQLITE_OK)
    return -1;
  return sqlite3_changes(s->db);
}

static dc_stay *read_stay(sqlite3_stmt *st) {
  dc_stay *v = g_new0(dc_stay, 1);
  v->id = sqlite3_column_int64(st, 0);
  v->meeting_id = sqlite3_column_int64(st, 1);
  v->invitation_id = sqlite3_column_int64(st, 2);
  v->point_id = sqlite3_column_int64(st, 3);
  v->name = store_col_text(st, 4);
  v->joined_at = sqlite3_column_int64(st, 5);
  v->left_at = sqlite3_column_int64(st, 6);
  v->seen_at = sqlite3_column_int64(st, 7);
  v->rtt_ms = sqlite3_column_int(st, 8);
  v->loss_down_pct = sqlite3_column_double(st, 9);
  v->loss_up_pct = sqlite3_column_double(st, 10);
  v->video_off_s = sqlite3_column_int64(st, 11);
  return v;
}

void dc_stay_free(dc_stay *v) {
  if (!v)
    return;
  g_free(v->name);
  g_free(v);
}

GPtrArray *dc_store_list_stays(dc_store *s, int64_t meeting_id, GError **error) {
  sqlite3_stmt *st = store_prepare(s,
                             "SELECT id, meeting_id, invitation_id, point_id, name, joined_at, left_at, seen_at,"
                             " rtt_ms, loss_down_pct, loss_up_pct, video_off_s FROM stays WHERE meeting_id = ?"
                             " ORDER BY joined_at, id",
                             error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, meeting_id);
  return store_read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_stay, (GDestroyNotify)dc_stay_free, error);
}

/* ---- backup ---- */

bool dc_store_backup(dc_store *s, const char *path, GError **error) {
  if (g_file_test(path, G_FILE_TEST_EXISTS)) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "%s exists: a backup goes to a new file", path);
    return false;
  }
  sqlite3 *to = NULL;
  int rc = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc == SQLITE_OK) {
    /* the whole store in one step: a few megabytes at most, and the step holds the reader
     * lock only for its length */
    sqlite3_backup *b = sqlite3_backup_init(to, "main", s->db, "main");
    rc = b ? sqlite3_backup_step(b, -1) : sqlite3_errcode(to);
    if (b)
      sqlite3_backup_finish(b);
    if (rc == SQLITE_DONE)
      rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK)
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_FAILED, "backup to %s: %s", path,
                to ? sqlite3_errmsg(to) : sqlite3_errstr(rc));
  sqlite3_close(to);
  if (rc != SQLITE_OK)
    g_unlink(path);
  return rc == SQLITE_OK;
}
