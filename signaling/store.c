/* store.c — SQLite store; see store.h. */
#include "signaling/store.h"

#include <openssl/rand.h>
#include <sqlite3.h>
#include <glib/gstdio.h>
#include <string.h>

G_DEFINE_QUARK(diemcau-store-error-quark, dc_store_error)

struct dc_store {
  sqlite3 *db;
  uint8_t secret[32];
};

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

static bool fail_db(dc_store *s, GError **error, const char *what) {
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
    return fail_db(s, error, "checking foreign keys");
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
    return fail_db(s, error, "reading the token secret");
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
    return fail_db(s, error, "saving the token secret");
  sqlite3_bind_blob(st, 1, s->secret, 32, SQLITE_STATIC);
  bool ok = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  return ok ? true : fail_db(s, error, "saving the token secret");
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

static sqlite3_stmt *prepare(dc_store *s, const char *sql, GError **error) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
    fail_db(s, error, "preparing a query");
    return NULL;
  }
  return st;
}

/* Runs an INSERT and returns the new row id, or 0 with an error. A broken CHECK or foreign
 * key is the caller's bad value, reported as DC_STORE_ERROR_INVALID with `rule`. */
static int64_t insert(dc_store *s, sqlite3_stmt *st, const char *rule, GError **error) {
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE)
    return sqlite3_last_insert_rowid(s->db);
  if ((rc & 0xFF) == SQLITE_CONSTRAINT)
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "%s", rule);
  else
    fail_db(s, error, "writing");
  return 0;
}

static char *col_text(sqlite3_stmt *st, int i) {
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
  sqlite3_stmt *st = prepare(
      s, "INSERT INTO points (name, kind, link_profile, contact) VALUES (?, ?, ?, ?)", error);
  if (!st)
    return 0;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, link_profile, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, contact ? contact : "", -1, SQLITE_TRANSIENT);
  return insert(s, st, POINT_RULE, error);
}

/* Runs an UPDATE of one row; INVALID with rule for a broken CHECK, NOT_FOUND with what when
 * no row matched. */
static bool update_one(dc_store *s, sqlite3_stmt *st, const char *rule, const char *what,
                       int64_t id, GError **error) {
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if ((rc & 0xFF) == SQLITE_CONSTRAINT) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "%s", rule);
    return false;
  }
  if (rc != SQLITE_DONE)
    return fail_db(s, error, "updating");
  if (sqlite3_changes(s->db) == 0) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no %s with id %" G_GINT64_FORMAT, what, id);
    return false;
  }
  return true;
}

bool dc_store_edit_point(dc_store *s, int64_t id, const char *name, const char *kind,
                         const char *link_profile, const char *contact, GError **error) {
  sqlite3_stmt *st = prepare(s,
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
  return update_one(s, st, POINT_RULE, "point", id, error);
}

#define POINT_COLUMNS                                                                        \
  "SELECT id, name, kind, link_profile, contact,"                                            \
  " EXISTS (SELECT 1 FROM device_keys d WHERE d.point_id = points.id) FROM points"

static dc_point *read_point(sqlite3_stmt *st) {
  dc_point *p = g_new0(dc_point, 1);
  p->id = sqlite3_column_int64(st, 0);
  p->name = col_text(st, 1);
  p->kind = col_text(st, 2);
  p->link_profile = col_text(st, 3);
  p->contact = col_text(st, 4);
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
  sqlite3_stmt *st = prepare(s, POINT_COLUMNS " WHERE id = ?", error);
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
static GPtrArray *read_all(dc_store *s, sqlite3_stmt *st, gpointer (*read_row)(sqlite3_stmt *),
                           GDestroyNotify free_row, GError **error) {
  GPtrArray *out = g_ptr_array_new_with_free_func(free_row);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    g_ptr_array_add(out, read_row(st));
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    g_ptr_array_unref(out);
    fail_db(s, error, "reading");
    return NULL;
  }
  return out;
}

GPtrArray *dc_store_list_points(dc_store *s, GError **error) {
  sqlite3_stmt *st = prepare(s, POINT_COLUMNS " ORDER BY id", error);
  return st ? read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_point, (GDestroyNotify)dc_point_free, error) : NULL;
}

/* ---- meetings ---- */

char *dc_time_format(GTimeZone *tz, int64_t unix_s, const char *format) {
  GDateTime *u = g_date_time_new_from_unix_utc(unix_s);
  GDateTime *l = u ? g_date_time_to_timezone(u, tz) : NULL;
  char *text = l ? g_date_time_format(l, format) : g_strdup("?"); /* outside GLib's calendar */
  if (l)
    g_date_time_unref(l);
  if (u)
    g_date_time_unref(u);
  return text;
}

bool dc_meeting_times_valid(int64_t starts_at, int64_t ends_at) {
  return starts_at >= 0 && starts_at <= DC_MEETING_TIME_MAX && ends_at >= 0 && ends_at <= DC_MEETING_TIME_MAX;
}

const char *dc_meeting_state(const dc_meeting *m, int64_t now) {
  if (m->cancelled_at)
    return "cancelled";
  if (m->ended_at || now > m->ends_at + DC_MEETING_GRACE_S)
    return "ended";
  if (now >= m->starts_at)
    return "live";
  if (now >= m->starts_at - m->open_before_s)
    return "open";
  return "scheduled";
}

bool dc_meeting_joinable(const dc_meeting *m, int64_t now) {
  const char *state = dc_meeting_state(m, now);
  return !strcmp(state, "open") || !strcmp(state, "live");
}

#define MEETING_RULE                                                                          \
  "a meeting needs a title of 1-200 characters, an end after its start (both between 1970 "   \
  "and the year 3000), an existing host point, and an open window of 0-86400 seconds"

int64_t dc_store_create_meeting(dc_store *s, const char *title, int64_t starts_at, int64_t ends_at,
                                int64_t host_point_id, GError **error) {
  return dc_store_create_series(s, title, &starts_at, &ends_at, 1, host_point_id, -1, error);
}

static bool begin(dc_store *s, GError **error) { return exec(s, "BEGIN IMMEDIATE", error); }
static void rollback(dc_store *s) { sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); }
static bool commit(dc_store *s, GError **error) {
  if (exec(s, "COMMIT", error))
    return true;
  rollback(s);
  return false;
}

int64_t dc_store_create_series(dc_store *s, const char *title, const int64_t *starts_at,
                               const int64_t *ends_at, int n, int64_t host_point_id,
                               int64_t open_before_s, GError **error) {
  if (n < 1) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "a series needs at least one occurrence");
    return 0;
  }
  for (int i = 0; i < n; i++)
    if (!dc_meeting_times_valid(starts_at[i], ends_at[i])) {
      g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "%s", MEETING_RULE);
      return 0;
    }
  if (!begin(s, error))
    return 0;
  int64_t first = 0;
  for (int i = 0; i < n; i++) {
    sqlite3_stmt *st = prepare(s,
                               "INSERT INTO meetings (title, starts_at, ends_at, host_point_id, series_id,"
                               " open_before_s) VALUES (?, ?, ?, ?, ?, ?)",
                               error);
    if (!st) {
      rollback(s);
      return 0;
    }
    sqlite3_bind_text(st, 1, title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, starts_at[i]);
    sqlite3_bind_int64(st, 3, ends_at[i]);
    if (host_point_id)
      sqlite3_bind_int64(st, 4, host_point_id);
    if (n > 1 && first)
      sqlite3_bind_int64(st, 5, first);
    sqlite3_bind_int64(st, 6, open_before_s < 0 ? DC_MEETING_OPEN_BEFORE_S : open_before_s);
    int64_t id = insert(s, st, MEETING_RULE, error);
    if (!id) {
      rollback(s);
      return 0;
    }
    if (!first)
      first = id;
  }
  if (n > 1) { /* the first is its own series */
    sqlite3_stmt *st = prepare(s, "UPDATE meetings SET series_id = id WHERE id = ?", error);
    if (!st) {
      rollback(s);
      return 0;
    }
    sqlite3_bind_int64(st, 1, first);
    if (!update_one(s, st, MEETING_RULE, "meeting", first, error)) {
      rollback(s);
      return 0;
    }
  }
  return commit(s, error) ? first : 0;
}

static dc_meeting *read_meeting(sqlite3_stmt *st) {
  dc_meeting *m = g_new0(dc_meeting, 1);
  m->id = sqlite3_column_int64(st, 0);
  m->title = col_text(st, 1);
  m->starts_at = sqlite3_column_int64(st, 2);
  m->ends_at = sqlite3_column_int64(st, 3);
  m->host_point_id = sqlite3_column_int64(st, 4);
  m->series_id = sqlite3_column_int64(st, 5);
  m->open_before_s = sqlite3_column_int64(st, 6);
  m->ended_at = sqlite3_column_int64(st, 7);
  m->cancelled_at = sqlite3_column_int64(st, 8);
  m->locked = sqlite3_column_int(st, 9) != 0;
  m->record = sqlite3_column_int(st, 10) != 0;
  return m;
}

void dc_meeting_free(dc_meeting *m) {
  if (!m)
    return;
  g_free(m->title);
  g_free(m);
}

#define MEETING_COLUMNS                                                                       \
  "SELECT id, title, starts_at, ends_at, host_point_id, series_id, open_before_s, ended_at,"  \
  " cancelled_at, locked, record FROM meetings"

dc_meeting *dc_store_get_meeting(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = prepare(s, MEETING_COLUMNS " WHERE id = ?", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, id);
  dc_meeting *m = sqlite3_step(st) == SQLITE_ROW ? read_meeting(st) : NULL;
  sqlite3_finalize(st);
  if (!m)
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no meeting with id %" G_GINT64_FORMAT, id);
  return m;
}

GPtrArray *dc_store_list_meetings(dc_store *s, GError **error) {
  return dc_store_list_meetings_between(s, G_MININT64, G_MAXINT64, error);
}

GPtrArray *dc_store_list_meetings_between(dc_store *s, int64_t from, int64_t to, GError **error) {
  sqlite3_stmt *st = prepare(s, MEETING_COLUMNS " WHERE ends_at >= ? AND starts_at < ? ORDER BY starts_at, id", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  return read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_meeting, (GDestroyNotify)dc_meeting_free, error);
}

/* The meeting, when it may still change at now; else NULL with INVALID saying why. */
static dc_meeting *changeable_meeting(dc_store *s, int64_t id, int64_t now, const char *change, GError **error) {
  dc_meeting *m = dc_store_get_meeting(s, id, error);
  if (!m)
    return NULL;
  const char *state = dc_meeting_state(m, now);
  if (!strcmp(state, "ended") || !strcmp(state, "cancelled")) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "meeting %" G_GINT64_FORMAT " has %s: it cannot be %s",
                id, !strcmp(state, "ended") ? "ended" : "been cancelled", change);
    dc_meeting_free(m);
    return NULL;
  }
  return m;
}

bool dc_store_edit_meeting(dc_store *s, int64_t id, const char *title, int64_t starts_at, int64_t ends_at,
                           int64_t open_before_s, int64_t now, GError **error) {
  if (!dc_meeting_times_valid(starts_at, ends_at)) { /* 0: unchanged */
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "%s", MEETING_RULE);
    return false;
  }
  if (!begin(s, error))
    return false;
  dc_meeting *m = changeable_meeting(s, id, now, "changed", error);
  if (!m) {
    rollback(s);
    return false;
  }
  int64_t new_ends = ends_at ? ends_at : m->ends_at;
  sqlite3_stmt *st = prepare(s,
                             "UPDATE meetings SET title = coalesce(?1, title), starts_at = ?2, ends_at = ?3,"
                             " open_before_s = ?4 WHERE id = ?5",
                             error);
  bool ok = st != NULL;
  if (ok) {
    if (title)
      sqlite3_bind_text(st, 1, title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, starts_at ? starts_at : m->starts_at);
    sqlite3_bind_int64(st, 3, new_ends);
    sqlite3_bind_int64(st, 4, open_before_s >= 0 ? open_before_s : m->open_before_s);
    sqlite3_bind_int64(st, 5, id);
    ok = update_one(s, st, MEETING_RULE, "meeting", id, error);
  }
  if (ok && new_ends != m->ends_at) { /* its links stay good for as long after the new end */
    st = prepare(s, "UPDATE invitations SET expires_at = expires_at + ? WHERE meeting_id = ?", error);
    ok = st != NULL;
    if (ok) {
      sqlite3_bind_int64(st, 1, new_ends - m->ends_at);
      sqlite3_bind_int64(st, 2, id);
      ok = sqlite3_step(st) == SQLITE_DONE || fail_db(s, error, "moving invitations");
      sqlite3_finalize(st);
    }
  }
  dc_meeting_free(m);
  if (!ok) {
    rollback(s);
    return false;
  }
  return commit(s, error);
}

static bool mark_meeting(dc_store *s, int64_t id, int64_t now, bool cancel, GError **error) {
  if (!begin(s, error))
    return false;
  dc_meeting *m = dc_store_get_meeting(s, id, error);
  bool ok = m != NULL;
  if (ok && m->cancelled_at) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "meeting %" G_GINT64_FORMAT " was cancelled", id);
    ok = false;
  } else if (ok && cancel && !strcmp(dc_meeting_state(m, now), "ended")) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "meeting %" G_GINT64_FORMAT " has already ended", id);
    ok = false;
  } else if (ok && (cancel || !m->ended_at)) {
    sqlite3_stmt *st = prepare(s, cancel ? "UPDATE meetings SET cancelled_at = ? WHERE id = ?"
                                         : "UPDATE meetings SET ended_at = ? WHERE id = ?", error);
    ok = st != NULL;
    if (ok) {
      sqlite3_bind_int64(st, 1, now);
      sqlite3_bind_int64(st, 2, id);
      ok = update_one(s, st, MEETING_RULE, "meeting", id, error);
    }
  }
  dc_meeting_free(m);
  if (!ok) {
    rollback(s);
    return false;
  }
  return commit(s, error);
}

bool dc_store_end_meeting(dc_store *s, int64_t id, int64_t now, GError **error) {
  return mark_meeting(s, id, now, false, error);
}

bool dc_store_cancel_meeting(dc_store *s, int64_t id, int64_t now, GError **error) {
  return mark_meeting(s, id, now, true, error);
}


int64_t dc_store_create_invitation(dc_store *s, int64_t meeting_id, int64_t point_id,
                                   const char *role, int64_t expires_at, GError **error) {
  sqlite3_stmt *st = prepare(s,
                             "INSERT INTO invitations (meeting_id, point_id, role, expires_at) "
                             "VALUES (?, ?, ?, ?)",
                             error);
  if (!st)
    return 0;
  sqlite3_bind_int64(st, 1, meeting_id);
  sqlite3_bind_int64(st, 2, point_id);
  sqlite3_bind_text(st, 3, role, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 4, expires_at);
  return insert(s, st,
                "an invitation needs an existing meeting and point, and role host, participant "
                "or observer",
                error);
}

static dc_invitation *read_invitation(sqlite3_stmt *st) {
  dc_invitation *inv = g_new0(dc_invitation, 1);
  inv->id = sqlite3_column_int64(st, 0);
  inv->meeting_id = sqlite3_column_int64(st, 1);
  inv->point_id = sqlite3_column_int64(st, 2);
  inv->role = col_text(st, 3);
  inv->expires_at = sqlite3_column_int64(st, 4);
  inv->revoked = sqlite3_column_int(st, 5) != 0;
  inv->barred = sqlite3_column_int(st, 6) != 0;
  return inv;
}

#define INVITATION_COLUMNS "SELECT id, meeting_id, point_id, role, expires_at, revoked, barred FROM invitations"

/* A flag column of one row: UPDATE table SET column = value WHERE id = id. */
static bool set_flag(dc_store *s, const char *sql, int64_t id, bool value, const char *what, GError **error) {
  sqlite3_stmt *st = prepare(s, sql, error);
  if (!st)
    return false;
  sqlite3_bind_int(st, 1, value);
  sqlite3_bind_int64(st, 2, id);
  return update_one(s, st, what, what, id, error);
}

bool dc_store_set_meeting_locked(dc_store *s, int64_t id, bool locked, GError **error) {
  return set_flag(s, "UPDATE meetings SET locked = ? WHERE id = ?", id, locked, "meeting", error);
}

bool dc_store_set_meeting_record(dc_store *s, int64_t id, bool record, bool whole_series, GError **error) {
  return set_flag(s, whole_series ? "UPDATE meetings SET record = ?1 WHERE id = ?2 OR series_id = ?2"
                                  : "UPDATE meetings SET record = ? WHERE id = ?",
                  id, record, "meeting", error);
}

bool dc_store_set_invitation_barred(dc_store *s, int64_t id, bool barred, GError **error) {
  return set_flag(s, "UPDATE invitations SET barred = ? WHERE id = ?", id, barred, "invitation", error);
}

bool dc_store_invitation_has_stayed(dc_store *s, int64_t invitation_id) {
  sqlite3_stmt *st = prepare(s, "SELECT 1 FROM stays WHERE invitation_id = ? LIMIT 1", NULL);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, invitation_id);
  bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return found;
}

bool dc_store_event(dc_store *s, int64_t meeting_id, int64_t at_ms, const char *kind, const char *point,
                    const char *name, const char *detail, GError **error) {
  sqlite3_stmt *st = prepare(s,
                             "INSERT INTO meeting_events (meeting_id, at_ms, kind, point, name, detail)"
                             " VALUES (?, ?, ?, ?, ?, ?)",
                             error);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, meeting_id);
  sqlite3_bind_int64(st, 2, at_ms);
  sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, point ? point : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, name ? name : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 6, detail ? detail : "", -1, SQLITE_TRANSIENT);
  return insert(s, st, "an event needs an existing meeting", error) != 0;
}

static dc_meeting_event *read_event(sqlite3_stmt *st) {
  dc_meeting_event *e = g_new0(dc_meeting_event, 1);
  e->at_ms = sqlite3_column_int64(st, 0);
  e->kind = col_text(st, 1);
  e->point = col_text(st, 2);
  e->name = col_text(st, 3);
  e->detail = col_text(st, 4);
  return e;
}

void dc_meeting_event_free(dc_meeting_event *e) {
  if (!e)
    return;
  g_free(e->kind);
  g_free(e->point);
  g_free(e->name);
  g_free(e->detail);
  g_free(e);
}

GPtrArray *dc_store_list_events(dc_store *s, int64_t meeting_id, GError **error) {
  sqlite3_stmt *st = prepare(s, "SELECT at_ms, kind, point, name, detail FROM meeting_events WHERE meeting_id = ?"
                                " ORDER BY at_ms, id", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, meeting_id);
  return read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_event, (GDestroyNotify)dc_meeting_event_free, error);
}

dc_invitation *dc_store_get_invitation(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = prepare(s, INVITATION_COLUMNS " WHERE id = ?", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, id);
  dc_invitation *inv = sqlite3_step(st) == SQLITE_ROW ? read_invitation(st) : NULL;
  sqlite3_finalize(st);
  if (!inv)
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no invitation with id %" G_GINT64_FORMAT, id);
  return inv;
}

GPtrArray *dc_store_list_invitations(dc_store *s, int64_t meeting_id, GError **error) {
  sqlite3_stmt *st = prepare(s, INVITATION_COLUMNS " WHERE meeting_id = ? ORDER BY id", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, meeting_id);
  return read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_invitation, (GDestroyNotify)dc_invitation_free, error);
}

bool dc_store_invite_group(dc_store *s, int64_t meeting_id, int64_t group_id, const char *role,
                           int64_t expires_at, GArray *ids, GError **error) {
  if (!role || (strcmp(role, "host") && strcmp(role, "participant") && strcmp(role, "observer"))) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, "role must be host, participant or observer");
    return false;
  }
  dc_group *g = dc_store_get_group(s, group_id, error);
  if (!g)
    return false;
  if (!begin(s, error)) {
    dc_group_free(g);
    return false;
  }
  guint had = ids->len;
  bool ok = true;
  for (guint i = 0; ok && i < g->point_ids->len; i++) {
    int64_t point = g_array_index(g->point_ids, int64_t, i);
    sqlite3_stmt *st = prepare(s, "SELECT 1 FROM invitations WHERE meeting_id = ? AND point_id = ? AND revoked = 0", error);
    if (!(ok = st != NULL))
      break;
    sqlite3_bind_int64(st, 1, meeting_id);
    sqlite3_bind_int64(st, 2, point);
    bool invited = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (invited)
      continue;
    int64_t id = dc_store_create_invitation(s, meeting_id, point, role, expires_at, error);
    if ((ok = id != 0))
      g_array_append_val(ids, id);
  }
  dc_group_free(g);
  if (!ok || !commit(s, error)) {
    if (!ok)
      rollback(s);
    g_array_set_size(ids, had);
    return false;
  }
  return true;
}

bool dc_store_revoke_invitation(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = prepare(s, "UPDATE invitations SET revoked = 1 WHERE id = ?", error);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return fail_db(s, error, "revoking an invitation");
  if (sqlite3_changes(s->db) == 0) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no invitation with id %" G_GINT64_FORMAT, id);
    return false;
  }
  return true;
}

void dc_invitation_free(dc_invitation *inv) {
  if (!inv)
    return;
  g_free(inv->role);
  g_free(inv);
}

/* ---- API keys ---- */

static void sha256(const char *text, uint8_t out[32]) {
  GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
  gsize len = 32;
  g_checksum_update(c, (const guchar *)text, (gssize)strlen(text));
  g_checksum_get_digest(c, out, &len);
  g_checksum_free(c);
}

/* 32 random bytes, base64url, after prefix. */
static char *random_key(const char *prefix, GError **error) {
  uint8_t raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_FAILED, "store: no random bytes for a key");
    return NULL;
  }
  char *b64 = g_base64_encode(raw, sizeof raw);
  g_strdelimit(b64, "+", '-');
  g_strdelimit(b64, "/", '_');
  g_strdelimit(b64, "=", '\0');
  char *key = g_strconcat(prefix, b64, NULL);
  g_free(b64);
  return key;
}

char *dc_store_new_device_key(dc_store *s, int64_t point_id, GError **error) {
  dc_point *p = dc_store_get_point(s, point_id, error);
  if (!p)
    return NULL;
  dc_point_free(p);
  char *key = random_key("dk.", error);
  if (!key)
    return NULL;
  uint8_t hash[32];
  sha256(key, hash);
  /* one key per point: a new one replaces (and so withdraws) the old */
  sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO device_keys (point_id, sha256) VALUES (?, ?)", error);
  if (st) {
    sqlite3_bind_int64(st, 1, point_id);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_TRANSIENT);
    if (insert(s, st, "duplicate key", error))
      return key;
  }
  g_free(key);
  return NULL;
}

int64_t dc_store_device_point(dc_store *s, const char *key) {
  if (!key || !*key || strlen(key) > 256)
    return 0;
  uint8_t hash[32];
  sha256(key, hash);
  sqlite3_stmt *st = prepare(s, "SELECT point_id FROM device_keys WHERE sha256 = ?", NULL);
  if (!st)
    return 0;
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
  int64_t point = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  return point;
}

int64_t dc_store_point_invitation(dc_store *s, int64_t point_id, int64_t now, int64_t overrun_s, bool open,
                                  GError **error) {
  /* open: its open window begun, not ended, not past its end and overrun; the latest begun
   * first. Else the next to open. Either way an invitation that still stands, to a meeting
   * neither ended nor cancelled (dc_meeting_state). */
  const char *sql = open ? "SELECT i.id FROM invitations i JOIN meetings m ON m.id = i.meeting_id "
                           "WHERE i.point_id = ?1 AND i.revoked = 0 AND i.expires_at >= ?2 AND m.ended_at IS NULL "
                           "AND m.cancelled_at IS NULL AND m.starts_at - m.open_before_s <= ?2 AND ?2 <= m.ends_at + ?3 "
                           "ORDER BY m.starts_at DESC, i.id DESC LIMIT 1"
                         : "SELECT i.id FROM invitations i JOIN meetings m ON m.id = i.meeting_id "
                           "WHERE i.point_id = ?1 AND i.revoked = 0 AND i.expires_at >= ?2 AND m.ended_at IS NULL "
                           "AND m.cancelled_at IS NULL AND m.starts_at - m.open_before_s > ?2 "
                           "ORDER BY m.starts_at ASC, i.id DESC LIMIT 1";
  sqlite3_stmt *st = prepare(s, sql, error);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, point_id);
  sqlite3_bind_int64(st, 2, now);
  sqlite3_bind_int64(st, 3, overrun_s);
  int rc = sqlite3_step(st);
  int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    fail_db(s, error, "finding a point's meeting");
    return -1;
  }
  return id;
}

#define KEY_RULE "a key needs a name of 1-80 characters and role admin, operator or viewer"

char *dc_store_new_api_key(dc_store *s, const char *name, const char *role, int64_t *id, GError **error) {
  if (!name || !*name || g_utf8_strlen(name, -1) > 80) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID, KEY_RULE);
    return NULL;
  }
  char *key = random_key("", error);
  if (!key)
    return NULL;
  uint8_t hash[32];
  sha256(key, hash);
  sqlite3_stmt *st = prepare(s, "INSERT INTO api_keys (sha256, name, role) VALUES (?, ?, ?)", error);
  if (st) {
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, role ? role : "", -1, SQLITE_TRANSIENT);
    int64_t row = insert(s, st, KEY_RULE, error);
    if (row) {
      if (id)
        *id = row;
      return key;
    }
  }
  g_free(key);
  return NULL;
}

static dc_api_key *read_api_key(sqlite3_stmt *st) {
  dc_api_key *k = g_new0(dc_api_key, 1);
  k->id = sqlite3_column_int64(st, 0);
  k->name = col_text(st, 1);
  k->role = col_text(st, 2);
  k->created_at = sqlite3_column_int64(st, 3);
  k->revoked_at = sqlite3_column_int64(st, 4);
  return k;
}

void dc_api_key_free(dc_api_key *k) {
  if (!k)
    return;
  g_free(k->name);
  g_free(k->role);
  g_free(k);
}

#define KEY_COLUMNS "SELECT id, name, role, created_at, revoked_at FROM api_keys"

dc_api_key *dc_store_check_api_key(dc_store *s, const char *key) {
  if (!key || !*key || strlen(key) > 256)
    return NULL;
  uint8_t hash[32];
  sha256(key, hash);
  sqlite3_stmt *st = prepare(s, KEY_COLUMNS " WHERE sha256 = ? AND revoked_at IS NULL", NULL);
  if (!st)
    return NULL;
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
  dc_api_key *k = sqlite3_step(st) == SQLITE_ROW ? read_api_key(st) : NULL;
  sqlite3_finalize(st);
  return k;
}

dc_api_key *dc_store_get_api_key(dc_store *s, int64_t id) {
  sqlite3_stmt *st = prepare(s, KEY_COLUMNS " WHERE id = ? AND revoked_at IS NULL", NULL);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, id);
  dc_api_key *k = sqlite3_step(st) == SQLITE_ROW ? read_api_key(st) : NULL;
  sqlite3_finalize(st);
  return k;
}

int dc_store_count_api_keys(dc_store *s) {
  sqlite3_stmt *st = prepare(s, "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL", NULL);
  int n = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  return n;
}

GPtrArray *dc_store_list_api_keys(dc_store *s, GError **error) {
  sqlite3_stmt *st = prepare(s, KEY_COLUMNS " ORDER BY id", error);
  return st ? read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_api_key, (GDestroyNotify)dc_api_key_free, error) : NULL;
}

bool dc_store_revoke_api_key(dc_store *s, int64_t id, int64_t now, GError **error) {
  if (!begin(s, error))
    return false;
  sqlite3_stmt *st = prepare(s, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", error);
  bool ok = st != NULL;
  if (ok) {
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, id);
    ok = update_one(s, st, KEY_RULE, "key in force", id, error);
  }
  if (ok) { /* nobody could make keys any more */
    st = prepare(s, "SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL", error);
    ok = st && sqlite3_step(st) == SQLITE_ROW;
    if (ok && sqlite3_column_int(st, 0) == 0) {
      g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID,
                  "this is the last admin key in force: make another admin key before revoking it");
      ok = false;
    } else if (!ok && st) {
      fail_db(s, error, "counting keys");
    }
    sqlite3_finalize(st);
  }
  if (!ok) {
    rollback(s);
    return false;
  }
  return commit(s, error);
}

bool dc_store_audit(dc_store *s, int64_t at, const char *who, const char *action, const char *detail,
                    GError **error) {
  sqlite3_stmt *st = prepare(s, "INSERT INTO audit (at, who, action, detail) VALUES (?, ?, ?, ?)", error);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, at);
  sqlite3_bind_text(st, 2, who, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, action, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, detail ? detail : "", -1, SQLITE_TRANSIENT);
  return insert(s, st, "audit", error) != 0;
}

static dc_audit_entry *read_audit(sqlite3_stmt *st) {
  dc_audit_entry *e = g_new0(dc_audit_entry, 1);
  e->id = sqlite3_column_int64(st, 0);
  e->at = sqlite3_column_int64(st, 1);
  e->who = col_text(st, 2);
  e->action = col_text(st, 3);
  e->detail = col_text(st, 4);
  return e;
}

void dc_audit_entry_free(dc_audit_entry *e) {
  if (!e)
    return;
  g_free(e->who);
  g_free(e->action);
  g_free(e->detail);
  g_free(e);
}

GPtrArray *dc_store_list_audit(dc_store *s, int limit, GError **error) {
  sqlite3_stmt *st = prepare(s, "SELECT id, at, who, action, detail FROM audit ORDER BY id DESC LIMIT ?", error);
  if (!st)
    return NULL;
  sqlite3_bind_int(st, 1, limit);
  return read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_audit, (GDestroyNotify)dc_audit_entry_free, error);
}

/* ---- groups ---- */

int64_t dc_store_add_group(dc_store *s, const char *name, GError **error) {
  sqlite3_stmt *st = prepare(s, "INSERT INTO groups (name) VALUES (?)", error);
  if (!st)
    return 0;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  return insert(s, st, "a group needs a unique name of 1-120 characters", error);
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
  sqlite3_stmt *st = prepare(s, "SELECT point_id FROM group_points WHERE group_id = ? ORDER BY point_id", error);
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
  return rc == SQLITE_DONE || fail_db(s, error, "reading a group");
}

static dc_group *read_group(sqlite3_stmt *st) {
  dc_group *g = g_new0(dc_group, 1);
  g->id = sqlite3_column_int64(st, 0);
  g->name = col_text(st, 1);
  return g;
}

dc_group *dc_store_get_group(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = prepare(s, "SELECT id, name FROM groups WHERE id = ?", error);
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
  sqlite3_stmt *st = prepare(s, "SELECT id, name FROM groups ORDER BY id", error);
  GPtrArray *all = st ? read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_group, (GDestroyNotify)dc_group_free, error) : NULL;
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
  sqlite3_stmt *st = prepare(s, member ? "INSERT OR IGNORE INTO group_points (group_id, point_id) VALUES (?, ?)"
                                       : "DELETE FROM group_points WHERE group_id = ? AND point_id = ?", error);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, group_id);
  sqlite3_bind_int64(st, 2, point_id);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE || fail_db(s, error, "changing a group");
}

/* ---- attendance ---- */

int64_t dc_store_stay_begin(dc_store *s, int64_t meeting_id, int64_t invitation_id, int64_t point_id,
                            const char *name, int64_t now, GError **error) {
  sqlite3_stmt *st = prepare(s,
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
  return insert(s, st, "a stay needs an existing meeting, invitation and point", error);
}

bool dc_store_stay_update(dc_store *s, const dc_stay *stay, int64_t now, bool left, GError **error) {
  sqlite3_stmt *st = prepare(s,
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
  return update_one(s, st, "stay", "stay", stay->id, error);
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
  v->name = col_text(st, 4);
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
  sqlite3_stmt *st = prepare(s,
                             "SELECT id, meeting_id, invitation_id, point_id, name, joined_at, left_at, seen_at,"
                             " rtt_ms, loss_down_pct, loss_up_pct, video_off_s FROM stays WHERE meeting_id = ?"
                             " ORDER BY joined_at, id",
                             error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, meeting_id);
  return read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_stay, (GDestroyNotify)dc_stay_free, error);
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
