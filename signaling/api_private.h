/* api_private.h — what the operator API's files share (not an interface: only they include it).
 *   api.c            replies, request bodies, who asks (keys, roles, the audit log), the store's
 *                    rows as JSON, keys/audit/backup, the devices' API, routing, the console's
 *                    sign-in, /metrics
 *   api_meetings.c   points, groups, meetings and their series, invitations, the live view,
 *                    the meeting's events and recordings
 *   api_attendance.c each stay's link samples, the tick, attendance (JSON, CSV) and the minutes
 * README "Operator API" is the contract; api.c's header says who may do what. */
#ifndef DC_API_PRIVATE_H
#define DC_API_PRIVATE_H

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "signaling/server_private.h"

static inline int64_t now_s(void) { return g_get_real_time() / G_USEC_PER_SEC; }

/* JSON builder shorthands */
static inline void put_int(JsonBuilder *b, const char *name, int64_t v) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, v);
}
static inline void put_str(JsonBuilder *b, const char *name, const char *v) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, v);
}
static inline void put_bool(JsonBuilder *b, const char *name, bool v) {
  json_builder_set_member_name(b, name);
  json_builder_add_boolean_value(b, v);
}
static inline void put_double(JsonBuilder *b, const char *name, double v) { /* -1: unknown, null */
  json_builder_set_member_name(b, name);
  if (v < 0)
    json_builder_add_null_value(b);
  else
    json_builder_add_double_value(b, (double)(int64_t)(v * 10 + 0.5) / 10);
}
static inline void put_opt_int(JsonBuilder *b, const char *name, int64_t v) { /* 0: none, null */
  json_builder_set_member_name(b, name);
  if (v)
    json_builder_add_int_value(b, v);
  else
    json_builder_add_null_value(b);
}
static inline JsonNode *finish(JsonBuilder *b) {
  JsonNode *n = json_builder_get_root(b);
  g_object_unref(b);
  return n;
}

/* ---- replies and request bodies (api.c): each false or NULL after replying 4xx ---- */
void api_reply(SoupServerMessage *msg, guint status, JsonNode *node);
void api_reply_error(SoupServerMessage *msg, guint status, const char *code, const char *message);
void api_reply_store_error(SoupServerMessage *msg, GError *err);
void api_reply_done(SoupServerMessage *msg, const char *what, int64_t id, int removed);
JsonObject *api_body_object(SoupServerMessage *msg, JsonParser **parser);
bool api_bad_member(SoupServerMessage *msg, const char *name, const char *what);
bool api_want_string(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, const char **out);
bool api_want_int(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, int64_t *out);
bool api_want_bool(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, int *out);
bool api_query_int(SoupServerMessage *msg, GHashTable *query, const char *name, int64_t *out);

/* ---- who asks (api.c) ---- */
typedef enum { NEED_VIEWER, NEED_OPERATOR, NEED_ADMIN } need;
bool api_allowed(SoupServerMessage *msg, const dc_api_key *k, need n);
void api_audit_write(dc_server *srv, const dc_api_key *k, const char *action, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* ---- the store's rows as JSON (api.c) ---- */
JsonNode *api_point_json(const dc_point *p);
void api_meeting_members(JsonBuilder *b, const dc_meeting *m, int64_t now);
JsonNode *api_meeting_json(const dc_meeting *m);
JsonNode *api_group_json(const dc_group *g);
JsonNode *api_array_of(GPtrArray *items, JsonNode *(*to_json)(gconstpointer));
JsonNode *api_invitation_json(dc_server *srv, const dc_invitation *inv, const dc_point *p, bool with_token);

/* ---- the routes (api_meetings.c, api_attendance.c) ---- */
void api_points(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, bool post);
void api_point(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id, bool patch);
void api_device_key(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t point_id);
void api_groups(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, bool post);
void api_group(dc_server *srv, SoupServerMessage *msg, int64_t id);
void api_group_member(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t group,
                      int64_t point, bool member);
void api_meetings(dc_server *srv, SoupServerMessage *msg, GHashTable *query, const dc_api_key *k, bool post);
void api_meeting(dc_server *srv, SoupServerMessage *msg, int64_t id);
void api_edit_meeting(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id);
void api_end(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id, bool cancel);
void api_invite(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t meeting_id);
void api_revoke(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id);
void api_live(dc_server *srv, SoupServerMessage *msg, int64_t id);
void api_events(dc_server *srv, SoupServerMessage *msg, int64_t id);
void api_record(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id);
void api_recordings(dc_server *srv, SoupServerMessage *msg, int64_t id);
void api_recording_file(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id,
                        const char *name);
void api_attendance(dc_server *srv, SoupServerMessage *msg, GHashTable *query, int64_t id);
void api_minutes(dc_server *srv, SoupServerMessage *msg, GHashTable *query, int64_t id);

#endif
