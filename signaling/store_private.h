/* store_private.h — what the store's files share (not an interface: store.h is):
 *   store.c          the schema and its migrations, opening, the statement helpers, points,
 *                    groups, attendance's stays, backup
 *   store_meetings.c meetings and their series, invitations, the meeting's events
 *   store_keys.c     operator API keys, device keys, the audit log
 * Every change is one statement or one BEGIN IMMEDIATE transaction; a broken CHECK or foreign
 * key is the caller's bad value (DC_STORE_ERROR_INVALID with the rule), not a failure. */
#ifndef DC_STORE_PRIVATE_H
#define DC_STORE_PRIVATE_H

#include <sqlite3.h>

#include "signaling/store.h"

struct dc_store {
  sqlite3 *db;
  uint8_t secret[32];
};

/* false with DC_STORE_ERROR_FAILED and SQLite's message for `what` */
bool store_fail_db(dc_store *s, GError **error, const char *what);
sqlite3_stmt *store_prepare(dc_store *s, const char *sql, GError **error);
/* Steps and finalizes st: the new row id, or 0 with an error (INVALID with rule). */
int64_t store_insert(dc_store *s, sqlite3_stmt *st, const char *rule, GError **error);
/* Steps and finalizes st, an UPDATE of one row: INVALID with rule, NOT_FOUND with what. */
bool store_update_one(dc_store *s, sqlite3_stmt *st, const char *rule, const char *what, int64_t id,
                      GError **error);
/* Steps and finalizes st: its rows read by read_row, or NULL with an error. */
GPtrArray *store_read_all(dc_store *s, sqlite3_stmt *st, gpointer (*read_row)(sqlite3_stmt *),
                          GDestroyNotify free_row, GError **error);
char *store_col_text(sqlite3_stmt *st, int i); /* a copy; "" for NULL */
/* BEGIN IMMEDIATE; COMMIT, rolling back when it fails */
bool store_begin(dc_store *s, GError **error);
void store_rollback(dc_store *s);
bool store_commit(dc_store *s, GError **error);

#endif
