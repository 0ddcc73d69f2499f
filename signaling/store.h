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
 * Left out for now: the scheduling workflow beyond create/list (recurrence, editing),
 * attendance records, point management beyond create/list.
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
  char *kind;         /* "hall" or "commune" */
  char *link_profile; /* "hall", "standard" or "highland" */
} dc_point;

typedef struct {
  int64_t id;
  char *title;
  int64_t starts_at, ends_at;
  char *state; /* "scheduled", "live", "ended" */
  int64_t host_point_id; /* 0 when none */
} dc_meeting;

typedef struct {
  int64_t id, meeting_id, point_id;
  char *role; /* "host", "participant", "observer" */
  int64_t expires_at;
  bool revoked;
} dc_invitation;

dc_store *dc_store_open(const char *path, GError **error);
void dc_store_close(dc_store *store);
int dc_store_schema_version(dc_store *store);

/* The 32-byte secret that signs invitation tokens. */
const uint8_t *dc_store_secret(dc_store *store);

int64_t dc_store_add_point(dc_store *store, const char *name, const char *kind,
                           const char *link_profile, GError **error);
dc_point *dc_store_get_point(dc_store *store, int64_t id, GError **error);
GPtrArray *dc_store_list_points(dc_store *store, GError **error); /* of dc_point* */
void dc_point_free(dc_point *p);

int64_t dc_store_create_meeting(dc_store *store, const char *title, int64_t starts_at,
                                int64_t ends_at, int64_t host_point_id, GError **error);
dc_meeting *dc_store_get_meeting(dc_store *store, int64_t id, GError **error);
GPtrArray *dc_store_list_meetings(dc_store *store, GError **error); /* of dc_meeting* */
bool dc_store_set_meeting_state(dc_store *store, int64_t id, const char *state, GError **error);
void dc_meeting_free(dc_meeting *m);

int64_t dc_store_create_invitation(dc_store *store, int64_t meeting_id, int64_t point_id,
                                   const char *role, int64_t expires_at, GError **error);
dc_invitation *dc_store_get_invitation(dc_store *store, int64_t id, GError **error);
/* Marks it revoked: no join with it from now on. NOT_FOUND when there is no such one. */
bool dc_store_revoke_invitation(dc_store *store, int64_t id, GError **error);
void dc_invitation_free(dc_invitation *inv);

/* Makes a new operator key, stores its hash, and returns the key (32 random bytes,
 * base64url) for the caller to show once. */
char *dc_store_new_api_key(dc_store *store, GError **error);
bool dc_store_check_api_key(dc_store *store, const char *key);
int dc_store_count_api_keys(dc_store *store);

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
