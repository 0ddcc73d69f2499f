/* store_meetings.c — the store's meetings (one-off and weekly series, their state on the
 * clock, edits while they may change), invitations, and each meeting's event log (see store.h
 * and store_private.h). */
#include "signaling/store_private.h"

#include <string.h>

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
  if (!store_begin(s, error))
    return 0;
  int64_t first = 0;
  for (int i = 0; i < n; i++) {
    sqlite3_stmt *st = store_prepare(s,
                               "INSERT INTO meetings (title, starts_at, ends_at, host_point_id, series_id,"
                               " open_before_s) VALUES (?, ?, ?, ?, ?, ?)",
                               error);
    if (!st) {
      store_rollback(s);
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
    int64_t id = store_insert(s, st, MEETING_RULE, error);
    if (!id) {
      store_rollback(s);
      return 0;
    }
    if (!first)
      first = id;
  }
  if (n > 1) { /* the first is its own series */
    sqlite3_stmt *st = store_prepare(s, "UPDATE meetings SET series_id = id WHERE id = ?", error);
    if (!st) {
      store_rollback(s);
      return 0;
    }
    sqlite3_bind_int64(st, 1, first);
    if (!store_update_one(s, st, MEETING_RULE, "meeting", first, error)) {
      store_rollback(s);
      return 0;
    }
  }
  return store_commit(s, error) ? first : 0;
}

static dc_meeting *read_meeting(sqlite3_stmt *st) {
  dc_meeting *m = g_new0(dc_meeting, 1);
  m->id = sqlite3_column_int64(st, 0);
  m->title = store_col_text(st, 1);
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
  sqlite3_stmt *st = store_prepare(s, MEETING_COLUMNS " WHERE id = ?", error);
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
  sqlite3_stmt *st = store_prepare(s, MEETING_COLUMNS " WHERE ends_at >= ? AND starts_at < ? ORDER BY starts_at, id", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  return store_read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_meeting, (GDestroyNotify)dc_meeting_free, error);
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
  if (!store_begin(s, error))
    return false;
  dc_meeting *m = changeable_meeting(s, id, now, "changed", error);
  if (!m) {
    store_rollback(s);
    return false;
  }
  int64_t new_ends = ends_at ? ends_at : m->ends_at;
  sqlite3_stmt *st = store_prepare(s,
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
    ok = store_update_one(s, st, MEETING_RULE, "meeting", id, error);
  }
  if (ok && new_ends != m->ends_at) { /* its links stay good for as long after the new end */
    st = store_prepare(s, "UPDATE invitations SET expires_at = expires_at + ? WHERE meeting_id = ?", error);
    ok = st != NULL;
    if (ok) {
      sqlite3_bind_int64(st, 1, new_ends - m->ends_at);
      sqlite3_bind_int64(st, 2, id);
      ok = sqlite3_step(st) == SQLITE_DONE || store_fail_db(s, error, "moving invitations");
      sqlite3_finalize(st);
    }
  }
  dc_meeting_free(m);
  if (!ok) {
    store_rollback(s);
    return false;
  }
  return store_commit(s, error);
}

static bool mark_meeting(dc_store *s, int64_t id, int64_t now, bool cancel, GError **error) {
  if (!store_begin(s, error))
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
    sqlite3_stmt *st = store_prepare(s, cancel ? "UPDATE meetings SET cancelled_at = ? WHERE id = ?"
                                         : "UPDATE meetings SET ended_at = ? WHERE id = ?", error);
    ok = st != NULL;
    if (ok) {
      sqlite3_bind_int64(st, 1, now);
      sqlite3_bind_int64(st, 2, id);
      ok = store_update_one(s, st, MEETING_RULE, "meeting", id, error);
    }
  }
  dc_meeting_free(m);
  if (!ok) {
    store_rollback(s);
    return false;
  }
  return store_commit(s, error);
}

bool dc_store_end_meeting(dc_store *s, int64_t id, int64_t now, GError **error) {
  return mark_meeting(s, id, now, false, error);
}

bool dc_store_cancel_meeting(dc_store *s, int64_t id, int64_t now, GError **error) {
  return mark_meeting(s, id, now, true, error);
}


int64_t dc_store_create_invitation(dc_store *s, int64_t meeting_id, int64_t point_id,
                                   const char *role, int64_t expires_at, GError **error) {
  sqlite3_stmt *st = store_prepare(s,
                             "INSERT INTO invitations (meeting_id, point_id, role, expires_at) "
                             "VALUES (?, ?, ?, ?)",
                             error);
  if (!st)
    return 0;
  sqlite3_bind_int64(st, 1, meeting_id);
  sqlite3_bind_int64(st, 2, point_id);
  sqlite3_bind_text(st, 3, role, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 4, expires_at);
  return store_insert(s, st,
                "an invitation needs an existing meeting and point, and role host, participant "
                "or observer",
                error);
}

static dc_invitation *read_invitation(sqlite3_stmt *st) {
  dc_invitation *inv = g_new0(dc_invitation, 1);
  inv->id = sqlite3_column_int64(st, 0);
  inv->meeting_id = sqlite3_column_int64(st, 1);
  inv->point_id = sqlite3_column_int64(st, 2);
  inv->role = store_col_text(st, 3);
  inv->expires_at = sqlite3_column_int64(st, 4);
  inv->revoked = sqlite3_column_int(st, 5) != 0;
  inv->barred = sqlite3_column_int(st, 6) != 0;
  return inv;
}

#define INVITATION_COLUMNS "SELECT id, meeting_id, point_id, role, expires_at, revoked, barred FROM invitations"

/* A flag column of one row: UPDATE table SET column = value WHERE id = id. */
static bool set_flag(dc_store *s, const char *sql, int64_t id, bool value, const char *what, GError **error) {
  sqlite3_stmt *st = store_prepare(s, sql, error);
  if (!st)
    return false;
  sqlite3_bind_int(st, 1, value);
  sqlite3_bind_int64(st, 2, id);
  return store_update_one(s, st, what, what, id, error);
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
  sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM stays WHERE invitation_id = ? LIMIT 1", NULL);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, invitation_id);
  bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return found;
}

bool dc_store_event(dc_store *s, int64_t meeting_id, int64_t at_ms, const char *kind, const char *point,
                    const char *name, const char *detail, GError **error) {
  sqlite3_stmt *st = store_prepare(s,
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
  return store_insert(s, st, "an event needs an existing meeting", error) != 0;
}

static dc_meeting_event *read_event(sqlite3_stmt *st) {
  dc_meeting_event *e = g_new0(dc_meeting_event, 1);
  e->at_ms = sqlite3_column_int64(st, 0);
  e->kind = store_col_text(st, 1);
  e->point = store_col_text(st, 2);
  e->name = store_col_text(st, 3);
  e->detail = store_col_text(st, 4);
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
  sqlite3_stmt *st = store_prepare(s, "SELECT at_ms, kind, point, name, detail FROM meeting_events WHERE meeting_id = ?"
                                " ORDER BY at_ms, id", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, meeting_id);
  return store_read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_event, (GDestroyNotify)dc_meeting_event_free, error);
}

dc_invitation *dc_store_get_invitation(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = store_prepare(s, INVITATION_COLUMNS " WHERE id = ?", error);
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
  sqlite3_stmt *st = store_prepare(s, INVITATION_COLUMNS " WHERE meeting_id = ? ORDER BY id", error);
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, meeting_id);
  return store_read_all(s, st, (gpointer(*)(sqlite3_stmt *))read_invitation, (GDestroyNotify)dc_invitation_free, error);
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
  if (!store_begin(s, error)) {
    dc_group_free(g);
    return false;
  }
  guint had = ids->len;
  bool ok = true;
  for (guint i = 0; ok && i < g->point_ids->len; i++) {
    int64_t point = g_array_index(g->point_ids, int64_t, i);
    sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM invitations WHERE meeting_id = ? AND point_id = ? AND revoked = 0", error);
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
  if (!ok || !store_commit(s, error)) {
    if (!ok)
      store_rollback(s);
    g_array_set_size(ids, had);
    return false;
  }
  return true;
}

bool dc_store_revoke_invitation(dc_store *s, int64_t id, GError **error) {
  sqlite3_stmt *st = store_prepare(s, "UPDATE invitations SET revoked = 1 WHERE id = ?", error);
  if (!st)
    return false;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return store_fail_db(s, error, "revoking an invitation");
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
