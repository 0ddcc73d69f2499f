/* store.h — the embedded SQLite store: points, meetings, invitations, operator API keys.
 *
 * One file in the data directory, in WAL mode with foreign keys on. The schema carries its
 * version in PRAGMA user_version and is migrated forward on open, one transaction per step,
 * so a crash mid-migration leaves the previous version intact. Every write is one
 * transaction: a request that fails half-way changes nothing.
 *
 * Points may have a device key (hashed, as API keys are) for their unattended endpoint.
 *
 * Used from the main thread only (the signaling side); the bridge never touches it.
 * Times are Unix seconds (UTC). Secrets: API keys are stored as SHA-256 hashes, never in
 * clear; the invitation signing secret is random, made on first open, and never logged.
 *
 * Meetings have a life cycle computed from their times and two marks, never stored as a
 * state that a clock would have to move (dc_meeting_state): scheduled, then open a set time
 * before the start (points may join and test), live from the start, ended at the end plus
 * DC_MEETING_GRACE_S or when ended by hand, or cancelled. A series of occurrences (a weekly
 * briefing) is one row per occurrence sharing the first one's id as series_id; the caller
 * works out the times (in the operators' time zone). Moving a meeting moves its invitations'
 * expiry with it; cancelling or ending one leaves them refused by the meeting's state.
 *
 * Operator keys have a name and a role (admin, operator, viewer) and may be revoked; the
 * audit log records who did what. Attendance is kept as stays: one row per time a point was
 * in a meeting, with its link quality, updated while it lasts (seen_at), so that a crash
 * loses at most the last update and the next open closes what was left open.
 *
 * Left out: deleting points or meetings (an attendance record must outlive them), per-key
 * rate limits, and pruning the audit log.
 */
#ifndef DC_STORE_H
#define DC_STORE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define DC_STORE_ERROR (dc_store_error_quark())
GQuark dc_store_error_quark(void);
typedef enum {
  DC_STORE_ERROR_FAILED,   /* SQLite failed: disk, corruption; the message says how */
  DC_STORE_ERROR_INVALID,  /* the caller's values break a rule (empty name, bad role...) */
  DC_STORE_ERROR_NOT_FOUND,
} dc_store_error_code;

typedef struct dc_store dc_store;

typedef struct {
  int64_t id;
  char *name;
  char *kind;         /* "hall", "commune" or "other" */
  char *link_profile; /* "hall", "standard" or "highland" */
  char *contact;      /* who to call there, free text ("" when none) */
  bool has_device_key;
} dc_point;

/* Joins stay open this long after a meeting's scheduled end (meetings overrun; the default
 * invitation expiry is the same hour) unless it is ended by hand. */
#define DC_MEETING_GRACE_S 3600
#define DC_MEETING_OPEN_BEFORE_S 900 /* default: points may join and test 15 min early */
/* A meeting's times are Unix seconds from 1970 to the year 3000: GLib's calendar ends at 9999,
 * and a time past it turned every page that shows the meeting into a critical. */
#define DC_MEETING_TIME_MAX INT64_C(32503680000)
bool dc_meeting_times_valid(int64_t starts_at, int64_t ends_at);

typedef struct {
  int64_t id;
  char *title;
  int64_t starts_at, ends_at;
  int64_t host_point_id; /* 0 when none */
  int64_t series_id;     /* the first occurrence's id; 0 when not recurring */
  int64_t open_before_s;
  int64_t ended_at, cancelled_at; /* 0 when not */
  bool locked; /* the host locked it: no new joins */
  bool record; /* recorded from its first join (an operator marked it so) */
} dc_meeting;

/* A Unix time on the wall clock of tz, as g_date_time_format writes it (g_free it). */
char *dc_time_format(GTimeZone *tz, int64_t unix_s, const char *format);

/* "scheduled", "open", "live", "ended" or "cancelled" at now (Unix seconds). */
const char *dc_meeting_state(const dc_meeting *m, int64_t now);
/* Whether points may join at now: open or live. */
bool dc_meeting_joinable(const dc_meeting *m, int64_t now);

typedef struct {
  int64_t id, meeting_id, point_id;
  char *role; /* "host", "participant", "observer" */
  int64_t expires_at;
  bool revoked;
  bool barred; /* the host removed its point from the meeting */
} dc_invitation;

dc_store *dc_store_open(const char *path, GError **error);
void dc_store_close(dc_store *store);
int dc_store_schema_version(dc_store *store);

/* The 32-byte secret that signs invitation tokens. */
const uint8_t *dc_store_secret(dc_store *store);

int64_t dc_store_add_point(dc_store *store, const char *name, const char *kind,
                           const char *link_profile, GError **error);
int64_t dc_store_add_point_contact(dc_store *store, const char *name, const char *kind,
                                   const char *link_profile, const char *contact, GError **error);
/* Changes the fields given (NULL: kept). INVALID for a bad value, NOT_FOUND for no point. */
bool dc_store_edit_point(dc_store *store, int64_t id, const char *name, const char *kind,
                         const char *link_profile, const char *contact, GError **error);
dc_point *dc_store_get_point(dc_store *store, int64_t id, GError **error);
GPtrArray *dc_store_list_points(dc_store *store, GError **error); /* of dc_point* */
void dc_point_free(dc_point *p);

int64_t dc_store_create_meeting(dc_store *store, const char *title, int64_t starts_at,
                                int64_t ends_at, int64_t host_point_id, GError **error);
dc_meeting *dc_store_get_meeting(dc_store *store, int64_t id, GError **error);
GPtrArray *dc_store_list_meetings(dc_store *store, GError **error); /* of dc_meeting* */
/* Those whose time overlaps [from, to), by start. */
GPtrArray *dc_store_list_meetings_between(dc_store *store, int64_t from, int64_t to, GError **error);
/* n occurrences in one transaction (all or none), each with its own times, sharing the
 * first's id as series_id when n > 1; open_before_s < 0 takes the default. Returns the
 * first id, 0 with an error. */
int64_t dc_store_create_series(dc_store *store, const char *title, const int64_t *starts_at,
                               const int64_t *ends_at, int n, int64_t host_point_id,
                               int64_t open_before_s, GError **error);
/* Changes title and times (NULL / 0: kept) of a meeting that has not ended or been
 * cancelled at now; its invitations' expiry moves by as much as its end did. */
bool dc_store_edit_meeting(dc_store *store, int64_t id, const char *title, int64_t starts_at,
                           int64_t ends_at, int64_t open_before_s, int64_t now, GError **error);
/* Ended by hand at now (a second end keeps the first time); INVALID when cancelled. */
bool dc_store_end_meeting(dc_store *store, int64_t id, int64_t now, GError **error);
/* Cancelled at now; INVALID when it has already ended or been cancelled. */
bool dc_store_cancel_meeting(dc_store *store, int64_t id, int64_t now, GError **error);
void dc_meeting_free(dc_meeting *m);

int64_t dc_store_create_invitation(dc_store *store, int64_t meeting_id, int64_t point_id,
                                   const char *role, int64_t expires_at, GError **error);
dc_invitation *dc_store_get_invitation(dc_store *store, int64_t id, GError **error);
/* A meeting's invitations, oldest first (revoked ones too). */
GPtrArray *dc_store_list_invitations(dc_store *store, int64_t meeting_id, GError **error);
/* Invites each point of the group that has no standing invitation to the meeting yet, in one
 * transaction; the new invitations' ids are appended to ids. */
bool dc_store_invite_group(dc_store *store, int64_t meeting_id, int64_t group_id, const char *role,
                           int64_t expires_at, GArray *ids, GError **error);
/* The host's controls (issue 14): a locked meeting takes no new joins; a barred invitation
 * may not rejoin its meeting until the host lets it back. NOT_FOUND for no such row. */
bool dc_store_set_meeting_locked(dc_store *store, int64_t id, bool locked, GError **error);
/* whole_series: id is a series' first occurrence, and every occurrence is marked */
bool dc_store_set_meeting_record(dc_store *store, int64_t id, bool record, bool whole_series, GError **error);
bool dc_store_set_invitation_barred(dc_store *store, int64_t id, bool barred, GError **error);
/* Whether anyone has been in the meeting with this invitation (a rejoin, not a new join). */
bool dc_store_invitation_has_stayed(dc_store *store, int64_t invitation_id);

/* The meeting's log (for the minutes draft): at_ms is Unix milliseconds; kind one of join,
 * leave, speaker (point and name of the dominant speaker, both "" for silence), floor-given,
 * floor-taken, host-mute, host-unmute, mute-all, unmute-all, muted, unmuted (its own), hand-raised,
 * hand-lowered, removed, readmitted, locked, unlocked, ended, recording-started,
 * recording-stopped (point: who), recording-failed (detail: why). */
typedef struct {
  int64_t at_ms;
  char *kind, *point, *name, *detail;
} dc_meeting_event;
bool dc_store_event(dc_store *store, int64_t meeting_id, int64_t at_ms, const char *kind, const char *point,
                    const char *name, const char *detail, GError **error);
GPtrArray *dc_store_list_events(dc_store *store, int64_t meeting_id, GError **error); /* by time */
void dc_meeting_event_free(dc_meeting_event *e);

/* Marks it revoked: no join with it from now on. NOT_FOUND when there is no such one. */
bool dc_store_revoke_invitation(dc_store *store, int64_t id, GError **error);
void dc_invitation_free(dc_invitation *inv);

/* ---- groups of points ---- */
typedef struct {
  int64_t id;
  char *name;
  GArray *point_ids; /* int64_t, by id */
} dc_group;
int64_t dc_store_add_group(dc_store *store, const char *name, GError **error);
dc_group *dc_store_get_group(dc_store *store, int64_t id, GError **error);
GPtrArray *dc_store_list_groups(dc_store *store, GError **error); /* of dc_group* */
/* Adding a member twice or removing a non-member is no error; NOT_FOUND for no such group
 * or point. */
bool dc_store_group_set_member(dc_store *store, int64_t group_id, int64_t point_id, bool member,
                               GError **error);
void dc_group_free(dc_group *g);

/* ---- operator keys and the audit log ---- */
typedef struct {
  int64_t id;
  char *name;
  char *role; /* "admin", "operator" or "viewer" */
  int64_t created_at, revoked_at; /* revoked_at 0: in force */
} dc_api_key;

/* Makes a new operator key, stores its hash, and returns the key (32 random bytes,
 * base64url) for the caller to show once; *id (when given) is its row. */
char *dc_store_new_api_key(dc_store *store, const char *name, const char *role, int64_t *id,
                           GError **error);
/* The key's record when it is one of ours and not revoked, else NULL. */
dc_api_key *dc_store_check_api_key(dc_store *store, const char *key);
/* The key with that row id when it is still in force, else NULL (console sign-ins). */
dc_api_key *dc_store_get_api_key(dc_store *store, int64_t id);
int dc_store_count_api_keys(dc_store *store); /* in force */
GPtrArray *dc_store_list_api_keys(dc_store *store, GError **error); /* of dc_api_key* */
/* INVALID when it would leave no admin key in force. */
bool dc_store_revoke_api_key(dc_store *store, int64_t id, int64_t now, GError **error);
void dc_api_key_free(dc_api_key *k);

typedef struct {
  int64_t id, at;
  char *who, *action, *detail;
} dc_audit_entry;
/* who: the key's name; action: "meeting.create" and the like; detail: what, for a person. */
bool dc_store_audit(dc_store *store, int64_t at, const char *who, const char *action,
                    const char *detail, GError **error);
GPtrArray *dc_store_list_audit(dc_store *store, int limit, GError **error); /* newest first */
void dc_audit_entry_free(dc_audit_entry *e);

/* ---- attendance ---- */
typedef struct {
  int64_t id, meeting_id, invitation_id, point_id;
  char *name;       /* what the participant typed */
  int64_t joined_at, left_at; /* left_at 0: still there */
  int64_t seen_at;  /* last update */
  int rtt_ms;       /* median over the stay, -1 unknown */
  double loss_down_pct, loss_up_pct; /* mean over the stay, -1 unknown */
  int64_t video_off_s; /* with its main picture off for want of bandwidth */
} dc_stay;
int64_t dc_store_stay_begin(dc_store *store, int64_t meeting_id, int64_t invitation_id, int64_t point_id,
                            const char *name, int64_t now, GError **error);
/* The stay's quality so far; left: it ended at now. */
bool dc_store_stay_update(dc_store *store, const dc_stay *stay, int64_t now, bool left, GError **error);
/* After a crash: stays left open end at their last update. Returns how many. */
int dc_store_close_open_stays(dc_store *store);
GPtrArray *dc_store_list_stays(dc_store *store, int64_t meeting_id, GError **error); /* of dc_stay*, by join */
void dc_stay_free(dc_stay *st);

/* SQLite's online backup of the whole store to path (a new file), while it serves. */
bool dc_store_backup(dc_store *store, const char *path, GError **error);

/* A point's device key, for its unattended endpoint: made here, shown once by the caller,
 * kept as a hash; a new one replaces the point's old one. NOT_FOUND for no such point. */
char *dc_store_new_device_key(dc_store *store, int64_t point_id, GError **error);
/* The point a device key belongs to, 0 for none. */
int64_t dc_store_device_point(dc_store *store, const char *key);
/* The point's standing invitation (not revoked, not expired) to a meeting that is open now
 * (open: begun, not ended, at most overrun_s past its end) or, with open false, to the next
 * one to begin. 0 when none, -1 with *error when the store failed. */
int64_t dc_store_point_invitation(dc_store *store, int64_t point_id, int64_t now, int64_t overrun_s,
                                  bool open, GError **error);

#endif
