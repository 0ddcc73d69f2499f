/* store.c — SQLite store; see store.h. */
#include "signaling/store.h"

#include <openssl/rand.h>
#include <sqlite3.h>
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

static bool migrate(dc_store *s, GError **error) {
  int have = dc_store_schema_version(s), want = (int)G_N_ELEMENTS(migrations);
  if (have > want) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_FAILED,
                "store: schema version %d is newer than this program knows (%d); "
                "use the newer diemcau or another data directory", have, want);
    return false;
  }
  for (int v = have; v < want; v++) {
    char *bump = g_strdup_printf("PRAGMA user_version = %d", v + 1);
    bool ok = exec(s, "BEGIN IMMEDIATE", error) && exec(s, migrations[v], error) &&
              exec(s, bump, error) && exec(s, "COMMIT", error);
    g_free(bump);
    if (!ok) {
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      g_prefix_error(error, "migrating to schema %d: ", v + 1);
      return false;
    }
  }
  return true;
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
  sqlite3_stmt *st = prepare(s, "INSERT INTO points (name, kind, link_profile) VALUES (?, ?, ?)", error);
  if (!st)
    return 0;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, link_profile, -1, SQLITE_TRANSIENT);
  return insert(s, st,
                "a point needs a unique name of 1-120 characters, kind hall or commune, and "
                "link profile hall, standard or highland",
                error);
}

static dc_point *read_point(sqlite3_stmt *st) {
  dc_point *p = g_new0(dc_point, 1);
  p->id = sqlite3_column_int64(st, 0);
  p->name = col_text(st, 1);
  p->kind = col_text(st, 2);
  p->link_profile = col_text(st, 3);
  return p;
}

void dc_point_free(dc_point *p) {
  if (!p)
    return;
  g_free(p->name);
  g_free(p->kind);
  g_free(p->link_profile);
  g_free(p);
}

dc_point *dc_store_get_point(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = prepare(s, "SELECT id, name, kind, link_profile FROM points WHERE id = ?", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, id);
  dc_point *p = sqlite3_step(st) == SQLITE_ROW ? read_point(st) : NULL;
  sqlite3_finalize(st);
  if (!p)
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no point with id %" G_GINT64_FORMAT, id);
  return p;
}

GPtrArray *dc_store_list_points(dc_store *s, GError **error) {
  sqlite3_stmt *st = prepare(s, "SELECT id, name, kind, link_profile FROM points ORDER BY id", error);
  if (!st)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)dc_point_free);
  while (sqlite3_step(st) == SQLITE_ROW)
    g_ptr_array_add(out, read_point(st));
  sqlite3_finalize(st);
  return out;
}

int64_t dc_store_create_meeting(dc_store *s, const char *title, int64_t starts_at, int64_t ends_at,
                                int64_t host_point_id, GError **error) {
  sqlite3_stmt *st = prepare(
      s, "INSERT INTO meetings (title, starts_at, ends_at, host_point_id) VALUES (?, ?, ?, ?)", error);
  if (!st)
    return 0;
  sqlite3_bind_text(st, 1, title, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, starts_at);
  sqlite3_bind_int64(st, 3, ends_at);
  if (host_point_id)
    sqlite3_bind_int64(st, 4, host_point_id);
  else
    sqlite3_bind_null(st, 4);
  return insert(s, st,
                "a meeting needs a title of 1-200 characters, an end after its start, and an "
                "existing host point",
                error);
}

static dc_meeting *read_meeting(sqlite3_stmt *st) {
  dc_meeting *m = g_new0(dc_meeting, 1);
  m->id = sqlite3_column_int64(st, 0);
  m->title = col_text(st, 1);
  m->starts_at = sqlite3_column_int64(st, 2);
  m->ends_at = sqlite3_column_int64(st, 3);
  m->state = col_text(st, 4);
  m->host_point_id = sqlite3_column_int64(st, 5);
  return m;
}

void dc_meeting_free(dc_meeting *m) {
  if (!m)
    return;
  g_free(m->title);
  g_free(m->state);
  g_free(m);
}

#define MEETING_COLUMNS "SELECT id, title, starts_at, ends_at, state, host_point_id FROM meetings"

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
  sqlite3_stmt *st = prepare(s, MEETING_COLUMNS " ORDER BY starts_at, id", error);
  if (!st)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)dc_meeting_free);
  while (sqlite3_step(st) == SQLITE_ROW)
    g_ptr_array_add(out, read_meeting(st));
  sqlite3_finalize(st);
  return out;
}

bool dc_store_set_meeting_state(dc_store *s, int64_t id, const char *state, GError **error) {
  sqlite3_stmt *st = prepare(s, "UPDATE meetings SET state = ? WHERE id = ?", error);
  if (!st)
    return false;
  sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, id);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if ((rc & 0xFF) == SQLITE_CONSTRAINT) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID,
                "meeting state must be scheduled, live or ended");
    return false;
  }
  if (rc != SQLITE_DONE)
    return fail_db(s, error, "updating a meeting");
  if (sqlite3_changes(s->db) == 0) {
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no meeting with id %" G_GINT64_FORMAT, id);
    return false;
  }
  return true;
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

dc_invitation *dc_store_get_invitation(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = prepare(s,
                             "SELECT id, meeting_id, point_id, role, expires_at, revoked "
                             "FROM invitations WHERE id = ?",
                             error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, id);
  dc_invitation *inv = NULL;
  if (sqlite3_step(st) == SQLITE_ROW) {
    inv = g_new0(dc_invitation, 1);
    inv->id = sqlite3_column_int64(st, 0);
    inv->meeting_id = sqlite3_column_int64(st, 1);
    inv->point_id = sqlite3_column_int64(st, 2);
    inv->role = col_text(st, 3);
    inv->expires_at = sqlite3_column_int64(st, 4);
    inv->revoked = sqlite3_column_int(st, 5) != 0;
  }
  sqlite3_finalize(st);
  if (!inv)
    g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_NOT_FOUND, "no invitation with id %" G_GINT64_FORMAT, id);
  return inv;
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
  /* open: begun, not ended, not past its end and overrun; the latest begun first. Else the
   * next to begin. Either way an invitation that still stands. */
  const char *sql = open ? "SELECT i.id FROM invitations i JOIN meetings m ON m.id = i.meeting_id "
                           "WHERE i.point_id = ?1 AND i.revoked = 0 AND i.expires_at >= ?2 AND m.state != 'ended' "
                           "AND m.starts_at <= ?2 AND ?2 <= m.ends_at + ?3 ORDER BY m.starts_at DESC, i.id DESC LIMIT 1"
                         : "SELECT i.id FROM invitations i JOIN meetings m ON m.id = i.meeting_id "
                           "WHERE i.point_id = ?1 AND i.revoked = 0 AND i.expires_at >= ?2 AND m.state != 'ended' "
                           "AND m.starts_at > ?2 ORDER BY m.starts_at ASC, i.id DESC LIMIT 1";
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

char *dc_store_new_api_key(dc_store *s, GError **error) {
  char *key = random_key("", error);
  if (!key)
    return NULL;
  uint8_t hash[32];
  sha256(key, hash);
  sqlite3_stmt *st = prepare(s, "INSERT INTO api_keys (sha256) VALUES (?)", error);
  if (st) {
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    if (insert(s, st, "duplicate key", error))
      return key;
  }
  g_free(key);
  return NULL;
}

bool dc_store_check_api_key(dc_store *s, const char *key) {
  if (!key || !*key || strlen(key) > 256)
    return false;
  uint8_t hash[32];
  sha256(key, hash);
  sqlite3_stmt *st = prepare(s, "SELECT 1 FROM api_keys WHERE sha256 = ?", NULL);
  if (!st)
    return false;
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
  bool ok = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return ok;
}

int dc_store_count_api_keys(dc_store *s) {
  sqlite3_stmt *st = prepare(s, "SELECT count(*) FROM api_keys", NULL);
  int n = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  return n;
}
