/* store_keys.c — the store's keys: operator API keys (kept as SHA-256 of the key: the key
 * itself is shown once, at its making), each point's device key, and the audit log of what
 * each key changed (see store.h and store_private.h). */
#include "signaling/store_private.h"

#include <openssl/rand.h>
#include <string.h>

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
  sqlite3_stmt *st = store_prepare(s, "INSERT OR REPLACE INTO device_keys (point_id, sha256) VALUES (?, ?)", error);
  if (st) {
    sqlite3_bind_int64(st, 1, point_id);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_TRANSIENT);
    if (store_insert(s, st, "duplicate key", error))
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
  sqlite3_stmt *st = store_prepare(s, "SELECT point_id FROM device_keys WHERE sha256 = ?", NULL);
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
  sqlite3_stmt *st = store_prepare(s, sql, error);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, point_id);
  sqlite3_bind_int64(st, 2, now);
  sqlite3_bind_int64(st, 3, overrun_s);
  int rc = sqlite3_step(st);
  int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    store_fail_db(s, error, "finding a point's meeting");
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
  sqlite3_stmt *st = store_prepare(s, "INSERT INTO api_keys (sha256, name, role) VALUES (?, ?, ?)", error);
  if (st) {
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, role ? role : "", -1, SQLITE_TRANSIENT);
    int64_t row = store_insert(s, st, KEY_RULE, error);
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
  k->name = store_col_text(st, 1);
  k->role = store_col_text(st, 2);
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
  sqlite3_stmt *st = store_prepare(s, KEY_COLUMNS " WHERE sha256 = ? AND revoked_at IS NULL", NULL);
  if (!st)
    return NULL;
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
  dc_api_key *k = sqlite3_step(st) == SQLITE_ROW ? read_api_key(st) : NULL;
  sqlite3_finalize(st);
  return k;
}

dc_api_key *dc_store_get_api_key(dc_store *s, int64_t id) {
  sqlite3_stmt *st = store_prepare(s, KEY_COLUMNS " WHERE id = ? AND revoked_at IS NULL", NULL);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, id);
  dc_api_key *k = sqlite3_step(st) == SQLITE_ROW ? read_api_key(st) : NULL;
  sqlite3_finalize(st);
  return k;
}

int dc_store_count_api_keys(dc_store *s) {
  sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL", NULL);
  int n = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  return n;
}

GPtrArray *dc_store_list_api_keys(dc_store *s, GError **error) {
  sqlite3_stmt *st = store_prepare(s, KEY_COLUMNS " ORDER BY id", error);
  return st ? store_read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_api_key, (GDestroyNotify)dc_api_key_free, error) : NULL;
}

bool dc_store_revoke_api_key(dc_store *s, int64_t id, int64_t now, GError **error) {
  if (!store_begin(s, error))
    return false;
  sqlite3_stmt *st = store_prepare(s, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", error);
  bool ok = st != NULL;
  if (ok) {
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, id);
    ok = store_update_one(s, st, KEY_RULE, "key in force", id, error);
  }
  if (ok) { /* nobody could make keys any more */
    st = store_prepare(s, "SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL", error);
    ok = st && sqlite3_step(st) == SQLITE_ROW;
    if (ok && sqlite3_column_int(st, 0) == 0) {
      g_set_error(error, DC_STORE_ERROR, DC_STORE_ERROR_INVALID,
                  "this is the last admin key in force: make another admin key before revoking it");
      ok = false;
    } else if (!ok && st) {
      store_fail_db(s, error, "counting keys");
    }
    sqlite3_finalize(st);
  }
  if (!ok) {
    store_rollback(s);
    return false;
  }
  return store_commit(s, error);
}

bool dc_store_audit(dc_store *s, int64_t at, const char *who, const char *action, const char *detail,
                    GError **error) {
  sqlite3_stmt *st = store_prepare(s, "INSERT INTO audit (at, who, action, detail) VALUES (?, ?, ?, ?)", error);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, at);
  sqlite3_bind_text(st, 2, who, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, action, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, detail ? detail : "", -1, SQLITE_TRANSIENT);
  return store_insert(s, st, "audit", error) != 0;
}

static dc_audit_entry *read_audit(sqlite3_stmt *st) {
  dc_audit_entry *e = g_new0(dc_audit_entry, 1);
  e->id = sqlite3_column_int64(st, 0);
  e->at = sqlite3_column_int64(st, 1);
  e->who = store_col_text(st, 2);
  e->action = store_col_text(st, 3);
  e->detail = store_col_text(st, 4);
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
  sqlite3_stmt *st = store_prepare(s, "SELECT id, at, who, action, detail FROM audit ORDER BY id DESC LIMIT ?", error);
  if (!st)
    return NULL;
  sqlite3_bind_int(st, 1, limit);
  return store_read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_audit, (GDestroyNotify)dc_audit_entry_free, error);
}
