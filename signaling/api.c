/* api.c — the operators' side of the server: the REST API under /api/ (README, "Operator
 * API"), the console's sign-in at /console/login, /metrics, and attendance.
 *
 * Who may do what: every request names an operator key, as "Authorization: Bearer <key>"
 * (diemcau-ctl, scripts) or as the console's session cookie (HttpOnly, SameSite=Strict; the
 * page never holds the key). A viewer key may only read; an operator key may change points,
 * groups, meetings and invitations; keys, the audit log and backups are an admin's. Every
 * change is written to the audit log under the key's name.
 *
 * Input: each body is one JSON object of at most 64 KiB; each member is checked for its type
 * before the store sees it, and the store checks the rules (one transaction per change), so a
 * refused request changes nothing and says what was wrong (4xx, {"error": {code, message}}).
 *
 * Times are Unix seconds in JSON; the bridge's time zone (--time-zone, default
 * Asia/Ho_Chi_Minh) places a recurrence's occurrences on the wall clock and writes CSV times.
 *
 * The meetings' routes are in api_meetings.c, attendance and the minutes in api_attendance.c
 * (api_private.h).
 *
 * Left out: paging of long lists (a district has tens of points and a few meetings a day),
 * deleting points and meetings (attendance must outlive them: cancel instead).
 */
#include <glib/gstdio.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signaling/api_private.h"
#include "signaling/protocol.h"
#include "signaling/request.h"
#include "signaling/token.h"

#define MAX_API_BODY 65536
#define CONSOLE_COOKIE "dc_console"
#define CONSOLE_LOGIN_S (12 * 3600) /* a working day; then sign in again */

/* ---- replies ---- */

void api_reply(SoupServerMessage *msg, guint status, JsonNode *node) {
  char *text = json_to_string(node, FALSE);
  json_node_unref(node);
  soup_server_message_set_status(msg, status, NULL);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, text, strlen(text));
}

void api_reply_error(SoupServerMessage *msg, guint status, const char *code, const char *message) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "error");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "code");
  json_builder_add_string_value(b, code);
  json_builder_set_member_name(b, "message");
  json_builder_add_string_value(b, message);
  json_builder_end_object(b);
  json_builder_end_object(b);
  api_reply(msg, status, json_builder_get_root(b));
  g_object_unref(b);
}

void api_reply_store_error(SoupServerMessage *msg, GError *err) {
  if (err->domain == DC_STORE_ERROR && err->code == DC_STORE_ERROR_INVALID)
    api_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", err->message);
  else if (err->domain == DC_STORE_ERROR && err->code == DC_STORE_ERROR_NOT_FOUND)
    api_reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", err->message);
  else {
    g_warning("operator API: %s", err->message);
    api_reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "the store failed; see the bridge log");
  }
  g_error_free(err);
}

/* ---- request bodies ---- */

/* The request body as a JSON object, or NULL after replying 4xx. */
JsonObject *api_body_object(SoupServerMessage *msg, JsonParser **parser) {
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  if (body->length > MAX_API_BODY) {
    api_reply_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too-large", "the body is over 64 KiB");
    return NULL;
  }
  *parser = json_parser_new();
  /* an empty body parses, to no root at all (JSON_NODE_HOLDS_OBJECT(NULL) is a critical) */
  JsonNode *root = body->data && json_parser_load_from_data(*parser, body->data, (gssize)body->length, NULL)
                       ? json_parser_get_root(*parser) : NULL;
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    api_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "bad-json", "the body must be a JSON object");
    return NULL;
  }
  return json_node_get_object(root);
}

bool api_bad_member(SoupServerMessage *msg, const char *name, const char *what) {
  char *text = g_strdup_printf("\"%s\" must be %s", name, what);
  api_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", text);
  g_free(text);
  return false;
}

/* Typed members: false after replying 400 with what is wrong. Optional ones absent leave
 * *out as it was. */
bool api_want_string(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, const char **out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n && !required)
    return true;
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return api_bad_member(msg, name, "a string");
  *out = json_node_get_string(n);
  return true;
}

bool api_want_int(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, int64_t *out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n && !required)
    return true;
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    return api_bad_member(msg, name, "a whole number");
  *out = json_node_get_int(n);
  return true;
}

bool api_want_bool(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, int *out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n && !required)
    return true;
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
    return api_bad_member(msg, name, "true or false");
  *out = json_node_get_boolean(n);
  return true;
}

/* ---- who asks ---- */

static char *hash_hex(const char *text) { return g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1); }

/* The named cookie of the request, or NULL (the value lives until the next call). */
static const char *cookie_value(SoupServerMessage *msg, const char *name) {
  const char *header = soup_message_headers_get_list(soup_server_message_get_request_headers(msg), "Cookie");
  static char value[128]; /* main thread only */
  return header && dc_cookie_value(header, name, value, sizeof value) ? value : NULL;
}

static void too_many(SoupServerMessage *msg) {
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "30");
  api_reply_error(msg, 429 /* Too Many Requests, RFC 6585; libsoup names no constant */, "too-many-attempts",
              "too many refused keys from this address: try again in a minute");
}

static void key_refused(dc_server *srv, const char *address, int64_t now_ms) {
  if (dc_attempts_failed(srv->bad_keys, address, now_ms) == 0)
    g_message("operator API: too many refused keys from %s; refusing it for a while", address ? address : "?");
}

/* The operator key behind the request, or NULL after replying 401/403/429. A cookie counts only
 * from our own pages (Origin), which SameSite=Strict already promises; this holds for a
 * browser that does not keep that promise. */
static dc_api_key *authenticate(dc_server *srv, SoupServerMessage *msg) {
  const char *auth = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  const char *address = soup_server_message_get_remote_host(msg);
  int64_t now_ms = g_get_monotonic_time() / 1000;
  if (!dc_attempts_allowed(srv->bad_keys, address, now_ms)) {
    too_many(msg);
    return NULL;
  }
  if (auth && g_str_has_prefix(auth, "Bearer ")) {
    dc_api_key *k = dc_store_check_api_key(srv->store, auth + 7);
    if (k)
      return k;
  } else if (!auth) {
    const char *cookie = cookie_value(msg, CONSOLE_COOKIE);
    char *hash = cookie ? hash_hex(cookie) : NULL;
    console_login *login = hash ? g_hash_table_lookup(srv->console, hash) : NULL;
    if (login && login->expires_us < g_get_monotonic_time()) {
      g_hash_table_remove(srv->console, hash);
      login = NULL;
    }
    g_free(hash);
    dc_api_key *k = login ? dc_store_get_api_key(srv->store, login->key_id) : NULL;
    if (k && dc_server_origin_allowed(msg))
      return k;
    dc_api_key_free(k);
  }
  if (auth) /* a key that is not one: a guess, or a revoked one (a lapsed console cookie is neither) */
    key_refused(srv, address, now_ms);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate", "Bearer");
  api_reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized",
              "send an operator key in force as \"Authorization: Bearer <key>\", or sign in to the console");
  return NULL;
}

bool api_allowed(SoupServerMessage *msg, const dc_api_key *k, need n) {
  int level = !strcmp(k->role, "admin") ? NEED_ADMIN : !strcmp(k->role, "operator") ? NEED_OPERATOR : NEED_VIEWER;
  if (level >= (int)n)
    return true;
  char *text = g_strdup_printf("the key \"%s\" is a%s %s key: this needs %s", k->name,
                               level == NEED_OPERATOR ? "n" : "", k->role,
                               n == NEED_ADMIN ? "an admin key" : "an operator or admin key");
  api_reply_error(msg, SOUP_STATUS_FORBIDDEN, "forbidden", text);
  g_free(text);
  return false;
}

void api_audit_write(dc_server *srv, const dc_api_key *k, const char *action, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *detail = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  GError *err = NULL;
  if (!dc_store_audit(srv->store, now_s(), k->name, action, detail, &err)) {
    g_warning("audit log: %s", err->message);
    g_error_free(err);
  }
  g_message("operator \"%s\": %s %s", k->name, action, detail);
  g_free(detail);
}

/* ---- JSON of the store's rows ---- */

JsonNode *api_point_json(const dc_point *p) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "id", p->id);
  put_str(b, "name", p->name);
  put_str(b, "kind", p->kind);
  put_str(b, "link_profile", p->link_profile);
  put_str(b, "contact", p->contact);
  put_bool(b, "has_device_key", p->has_device_key);
  json_builder_end_object(b);
  return finish(b);
}

void api_meeting_members(JsonBuilder *b, const dc_meeting *m, int64_t now) {
  put_int(b, "id", m->id);
  put_str(b, "title", m->title);
  put_int(b, "starts_at", m->starts_at);
  put_int(b, "ends_at", m->ends_at);
  put_int(b, "opens_at", m->starts_at - m->open_before_s);
  put_int(b, "open_before_s", m->open_before_s);
  put_str(b, "state", dc_meeting_state(m, now));
  put_int(b, "host_point_id", m->host_point_id);
  put_opt_int(b, "series_id", m->series_id);
  put_opt_int(b, "ended_at", m->ended_at);
  put_opt_int(b, "cancelled_at", m->cancelled_at);
  put_bool(b, "record", m->record);
}

JsonNode *api_meeting_json(const dc_meeting *m) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  api_meeting_members(b, m, now_s());
  json_builder_end_object(b);
  return finish(b);
}

JsonNode *api_group_json(const dc_group *g) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "id", g->id);
  put_str(b, "name", g->name);
  json_builder_set_member_name(b, "point_ids");
  json_builder_begin_array(b);
  for (guint i = 0; i < g->point_ids->len; i++)
    json_builder_add_int_value(b, g_array_index(g->point_ids, int64_t, i));
  json_builder_end_array(b);
  json_builder_end_object(b);
  return finish(b);
}

static JsonNode *key_json(const dc_api_key *k) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "id", k->id);
  put_str(b, "name", k->name);
  put_str(b, "role", k->role);
  put_int(b, "created_at", k->created_at);
  put_opt_int(b, "revoked_at", k->revoked_at);
  json_builder_end_object(b);
  return finish(b);
}

JsonNode *api_array_of(GPtrArray *items, JsonNode *(*to_json)(gconstpointer)) {
  JsonArray *a = json_array_new();
  for (guint i = 0; i < items->len; i++)
    json_array_add_element(a, to_json(g_ptr_array_index(items, i)));
  JsonNode *n = json_node_new(JSON_NODE_ARRAY);
  json_node_take_array(n, a);
  return n;
}

/* The signed token for an invitation: what its join link carries. */
static char *invitation_token(dc_server *srv, const dc_invitation *inv) {
  dc_token_claims c = {.invitation_id = inv->id, .meeting_id = inv->meeting_id, .point_id = inv->point_id,
                       .expires_at = inv->expires_at};
  g_strlcpy(c.role, inv->role, sizeof c.role);
  return dc_token_sign(dc_store_secret(srv->store), &c);
}

/* An invitation with its point and join link; in listings the link only while it can still
 * be used, in the reply that made it (with_token) always, with its token. */
JsonNode *api_invitation_json(dc_server *srv, const dc_invitation *inv, const dc_point *p, bool with_token) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "id", inv->id);
  put_int(b, "meeting_id", inv->meeting_id);
  put_int(b, "point_id", inv->point_id);
  put_str(b, "point", p ? p->name : "");
  put_str(b, "role", inv->role);
  put_int(b, "expires_at", inv->expires_at);
  put_bool(b, "revoked", inv->revoked);
  json_builder_set_member_name(b, "join_link");
  if (!with_token && (inv->revoked || inv->expires_at < now_s())) { /* a made one is shown as made */
    json_builder_add_null_value(b);
  } else {
    char *token = invitation_token(srv, inv);
    char *link = dc_server_join_link(srv, inv->meeting_id, token, p ? p->link_profile : NULL);
    json_builder_add_string_value(b, link);
    if (with_token)
      put_str(b, "token", token);
    g_free(link);
    g_free(token);
  }
  json_builder_end_object(b);
  return finish(b);
}

/* ---- keys, audit, backup (admin) ---- */

static void api_keys(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, bool post) {
  if (!api_allowed(msg, k, NEED_ADMIN))
    return;
  GError *err = NULL;
  if (!post) {
    GPtrArray *all = dc_store_list_api_keys(srv->store, &err);
    if (!all)
      return api_reply_store_error(msg, err);
    api_reply(msg, SOUP_STATUS_OK, api_array_of(all, (JsonNode * (*)(gconstpointer)) key_json));
    g_ptr_array_unref(all);
    return;
  }
  JsonParser *parser = NULL;
  JsonObject *o = api_body_object(msg, &parser);
  const char *name, *role;
  if (o && api_want_string(msg, o, "name", true, &name) && api_want_string(msg, o, "role", true, &role)) {
    int64_t id = 0;
    char *key = dc_store_new_api_key(srv->store, name, role, &id, &err);
    dc_api_key *made = key ? dc_store_get_api_key(srv->store, id) : NULL;
    if (made) {
      JsonNode *n = key_json(made);
      json_object_set_string_member(json_node_get_object(n), "key", key); /* shown once */
      api_reply(msg, SOUP_STATUS_CREATED, n);
      api_audit_write(srv, k, "key.create", "%s (%s) #%" G_GINT64_FORMAT, made->name, made->role, made->id);
    } else if (err) {
      api_reply_store_error(msg, err);
    } else {
      api_reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "the key was made but cannot be read back");
    }
    if (key)
      memset(key, 0, strlen(key));
    g_free(key);
    dc_api_key_free(made);
  }
  g_clear_object(&parser);
}

static void api_revoke_key(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id) {
  if (!api_allowed(msg, k, NEED_ADMIN))
    return;
  GError *err = NULL;
  if (!dc_store_revoke_api_key(srv->store, id, now_s(), &err))
    return api_reply_store_error(msg, err);
  /* its console sign-ins end with it (authenticate asks the store each time) */
  api_audit_write(srv, k, "key.revoke", "#%" G_GINT64_FORMAT, id);
  api_reply_done(msg, "revoked_key", id, 0);
}

static JsonNode *audit_json(const dc_audit_entry *e) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "id", e->id);
  put_int(b, "at", e->at);
  put_str(b, "who", e->who);
  put_str(b, "action", e->action);
  put_str(b, "detail", e->detail);
  json_builder_end_object(b);
  return finish(b);
}

static void api_audit(dc_server *srv, SoupServerMessage *msg, GHashTable *query, const dc_api_key *k) {
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  int64_t limit = 200;
  if (!api_query_int(msg, query, "limit", &limit))
    return;
  GError *err = NULL;
  GPtrArray *all = dc_store_list_audit(srv->store, (int)CLAMP(limit, 1, 10000), &err);
  if (!all)
    return api_reply_store_error(msg, err);
  api_reply(msg, SOUP_STATUS_OK, api_array_of(all, (JsonNode * (*)(gconstpointer)) audit_json));
  g_ptr_array_unref(all);
}

/* GET /api/backup: SQLite's online backup of the store, as the file itself. */
static void api_backup(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k) {
  if (!api_allowed(msg, k, NEED_ADMIN))
    return;
  GError *err = NULL;
  char *dir = g_dir_make_tmp("diemcau-backup-XXXXXX", &err);
  char *path = dir ? g_build_filename(dir, "diemcau.db", NULL) : NULL;
  char *data = NULL;
  gsize len = 0;
  if (path && dc_store_backup(srv->store, path, &err) && g_file_get_contents(path, &data, &len, &err)) {
    soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Content-Disposition",
                                 "attachment; filename=\"diemcau-backup.db\"");
    soup_server_message_set_response(msg, "application/vnd.sqlite3", SOUP_MEMORY_TAKE, data, len);
    api_audit_write(srv, k, "store.backup", "%zu bytes", (size_t)len);
  } else {
    g_warning("backup: %s", err ? err->message : "failed");
    api_reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "the backup failed; see the bridge log");
    g_clear_error(&err);
  }
  if (path)
    g_unlink(path);
  if (dir)
    g_rmdir(dir);
  g_free(path);
  g_free(dir);
}

static void api_whoami(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "key_id", k->id);
  put_str(b, "name", k->name);
  put_str(b, "role", k->role);
  put_str(b, "time_zone", srv->tz_name);
  put_int(b, "now", now_s());
  put_str(b, "version", DC_VERSION);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_OK, finish(b));
}

/* ---- the devices' own API ---- */

/* The meeting behind one of the point's invitations, as the device API shows it. */
static void add_device_meeting(dc_server *srv, JsonBuilder *b, const char *member, int64_t inv_id, bool with_link) {
  json_builder_set_member_name(b, member);
  dc_invitation *inv = inv_id > 0 ? dc_store_get_invitation(srv->store, inv_id, NULL) : NULL;
  dc_meeting *m = inv ? dc_store_get_meeting(srv->store, inv->meeting_id, NULL) : NULL;
  if (!m) {
    json_builder_add_null_value(b);
  } else {
    json_builder_add_value(b, api_meeting_json(m));
    if (with_link) {
      char *token = invitation_token(srv, inv);
      dc_point *pt = dc_store_get_point(srv->store, inv->point_id, NULL);
      char *link = dc_server_join_link(srv, m->id, token, pt ? pt->link_profile : NULL);
      dc_point_free(pt);
      put_str(b, "join_link", link);
      g_free(link);
      g_free(token);
    }
  }
  dc_meeting_free(m);
  dc_invitation_free(inv);
}

/* GET /api/device/meeting, "Authorization: Device <key>": which meeting the point may join
 * now (with a join link), and the next one. See signaling/PROTOCOL.md, "Device API". */
static void api_device_meeting(dc_server *srv, SoupServerMessage *msg, const char *key) {
  int64_t point_id = dc_store_device_point(srv->store, key);
  dc_point *point = point_id ? dc_store_get_point(srv->store, point_id, NULL) : NULL;
  if (!point) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate", "Device");
    api_reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "invalid-device-key",
                "this device key is not one the bridge issued, or it was replaced");
    return;
  }
  GError *err = NULL;
  int64_t now = now_s();
  int64_t open = dc_store_point_invitation(srv->store, point_id, now, DC_MEETING_GRACE_S, true, &err);
  int64_t next = open < 0 ? -1 : dc_store_point_invitation(srv->store, point_id, now, DC_MEETING_GRACE_S, false, &err);
  if (open < 0 || next < 0) {
    dc_point_free(point);
    return api_reply_store_error(msg, err);
  }
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "point");
  json_builder_add_value(b, api_point_json(point));
  put_int(b, "now", now);
  add_device_meeting(srv, b, "meeting", open, true);
  add_device_meeting(srv, b, "next", next, false);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_OK, finish(b));
  dc_point_free(point);
}

/* ---- routing ---- */

void dc_api_handle(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user) {
  dc_server *srv = user;
  const char *method = soup_server_message_get_method(msg);
  bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), patch = !strcmp(method, "PATCH"),
       put = !strcmp(method, "PUT"), del = !strcmp(method, "DELETE");
  if (!strcmp(path, "/api/device/meeting")) { /* the devices' own API, with their own keys */
    const char *auth = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
    if (!get)
      api_reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed", "that method is not allowed here");
    else
      api_device_meeting(srv, msg, auth && g_str_has_prefix(auth, "Device ") ? auth + 7 : NULL);
    return;
  }
  char seg[DC_API_MAX_SEGMENTS][DC_API_SEGMENT_LEN];
  int n = dc_api_path_segments(path, seg);
  int64_t id = 0, id2 = 0;
  /* the fourth segment is an id but in /api/meetings/ID/recordings/NAME */
  bool named = n == 4 && !strcmp(seg[2], "recordings");
  if (n < 1 || (n >= 2 && !dc_api_parse_id(seg[1], &id)) || (n >= 4 && !named && !dc_api_parse_id(seg[3], &id2))) {
    api_reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such API path");
    return;
  }
  dc_api_key *k = authenticate(srv, msg);
  if (!k)
    return;
  /* reading needs any key; each writer checks its own role */
  const char *a = seg[0], *b = n >= 3 ? seg[2] : "";
  bool found = true, method_ok = true;
#define ROUTE(where, methods, call)                                                                                    \
  else if (where) {                                                                                                    \
    if ((method_ok = (methods)))                                                                                       \
      call;                                                                                                            \
  }
  if (false) {
  }
  ROUTE(n == 1 && !strcmp(a, "whoami"), get, api_whoami(srv, msg, k))
  ROUTE(n == 1 && !strcmp(a, "points"), get || post, api_points(srv, msg, k, post))
  ROUTE(n == 2 && !strcmp(a, "points"), get || patch, api_point(srv, msg, k, id, patch))
  ROUTE(n == 3 && !strcmp(a, "points") && !strcmp(b, "device-key"), post, api_device_key(srv, msg, k, id))
  ROUTE(n == 1 && !strcmp(a, "groups"), get || post, api_groups(srv, msg, k, post))
  ROUTE(n == 2 && !strcmp(a, "groups"), get, api_group(srv, msg, id))
  ROUTE(n == 4 && !strcmp(a, "groups") && !strcmp(b, "points"), put || del, api_group_member(srv, msg, k, id, id2, put))
  ROUTE(n == 1 && !strcmp(a, "meetings"), get || post, api_meetings(srv, msg, query, k, post))
  ROUTE(n == 2 && !strcmp(a, "meetings") && patch, true, api_edit_meeting(srv, msg, k, id))
  ROUTE(n == 2 && !strcmp(a, "meetings"), get, api_meeting(srv, msg, id))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "invitations") && post, true, api_invite(srv, msg, k, id))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "invitations"), get, api_meeting(srv, msg, id))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "end"), post, api_end(srv, msg, k, id, false))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "cancel"), post, api_end(srv, msg, k, id, true))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "live"), get, api_live(srv, msg, id))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "attendance"), get, api_attendance(srv, msg, query, id))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "minutes"), get, api_minutes(srv, msg, query, id))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "events"), get, api_events(srv, msg, id))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "recording"), post, api_record(srv, msg, k, id))
  ROUTE(n == 3 && !strcmp(a, "meetings") && !strcmp(b, "recordings"), get, api_recordings(srv, msg, id))
  ROUTE(named && !strcmp(a, "meetings"), get, api_recording_file(srv, msg, k, id, seg[3]))
  ROUTE(n == 3 && !strcmp(a, "invitations") && !strcmp(b, "revoke"), post, api_revoke(srv, msg, k, id))
  ROUTE(n == 1 && !strcmp(a, "keys"), get || post, api_keys(srv, msg, k, post))
  ROUTE(n == 3 && !strcmp(a, "keys") && !strcmp(b, "revoke"), post, api_revoke_key(srv, msg, k, id))
  ROUTE(n == 1 && !strcmp(a, "audit"), get, api_audit(srv, msg, query, k))
  ROUTE(n == 1 && !strcmp(a, "backup"), get, api_backup(srv, msg, k))
  else found = false;
#undef ROUTE
  if (!found)
    api_reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such API path");
  else if (!method_ok)
    api_reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed", "that method is not allowed here");
  dc_api_key_free(k);
}

/* ---- console sign-in ---- */

/* 32 random bytes from OpenSSL, base64url: a console session's cookie. */
static char *random_token(void) {
  uint8_t raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return NULL;
  char *b64 = g_base64_encode(raw, sizeof raw);
  g_strdelimit(b64, "+", '-');
  g_strdelimit(b64, "/", '_');
  g_strdelimit(b64, "=", '\0');
  return b64;
}

static void set_cookie(dc_server *srv, SoupServerMessage *msg, const char *value, int max_age) {
  char *cookie = g_strdup_printf(CONSOLE_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", value,
                                 max_age, srv->secure ? "; Secure" : "");
  soup_message_headers_append(soup_server_message_get_response_headers(msg), "Set-Cookie", cookie);
  g_free(cookie);
}

/* POST /console/login {"key"}: a session cookie for the key (the page never keeps the key);
 * POST /console/logout: the cookie's session ends. */
void dc_console_handle(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user) {
  dc_server *srv = user;
  if (strcmp(soup_server_message_get_method(msg), "POST")) {
    api_reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed", "that method is not allowed here");
    return;
  }
  if (!dc_server_origin_allowed(msg)) {
    api_reply_error(msg, SOUP_STATUS_FORBIDDEN, "forbidden", "sign in from this bridge's own console page");
    return;
  }
  if (!strcmp(path, "/console/logout")) {
    const char *cookie = cookie_value(msg, CONSOLE_COOKIE);
    if (cookie) {
      char *hash = hash_hex(cookie);
      g_hash_table_remove(srv->console, hash);
      g_free(hash);
    }
    set_cookie(srv, msg, "", 0);
    api_reply_done(msg, "signed_out", 1, 0);
    return;
  }
  if (strcmp(path, "/console/login")) {
    api_reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such path");
    return;
  }
  JsonParser *parser = NULL;
  JsonObject *o = api_body_object(msg, &parser);
  const char *key;
  const char *address = soup_server_message_get_remote_host(msg);
  int64_t now_ms = g_get_monotonic_time() / 1000;
  if (o && !dc_attempts_allowed(srv->bad_keys, address, now_ms)) {
    too_many(msg);
  } else if (o && api_want_string(msg, o, "key", true, &key)) {
    dc_api_key *k = dc_store_check_api_key(srv->store, g_strstrip((char *)key));
    if (!k) {
      key_refused(srv, address, now_ms);
      g_message("console: a sign-in with a key that is not in force was refused");
      api_reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized", "this operator key is not one in force");
    } else {
      char *token = random_token();
      char *hash = token ? hash_hex(token) : NULL;
      if (!token) {
        api_reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "no random bytes for a session");
        dc_api_key_free(k);
        g_clear_object(&parser);
        return;
      }
      console_login *login = g_new(console_login, 1);
      *login = (console_login){k->id, g_get_monotonic_time() + (int64_t)CONSOLE_LOGIN_S * G_USEC_PER_SEC};
      g_hash_table_replace(srv->console, hash, login);
      set_cookie(srv, msg, token, CONSOLE_LOGIN_S);
      memset(token, 0, strlen(token));
      g_free(token);
      api_whoami(srv, msg, k);
      g_message("console: \"%s\" signed in", k->name);
      dc_api_key_free(k);
    }
  }
  g_clear_object(&parser);
}

/* ---- /metrics ---- */

static bool from_loopback(SoupServerMessage *msg) {
  GSocketAddress *addr = soup_server_message_get_remote_address(msg);
  return addr && G_IS_INET_SOCKET_ADDRESS(addr) &&
         g_inet_address_get_is_loopback(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(addr)));
}

void dc_metrics_handle(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user) {
  dc_server *srv = user;
  if (strcmp(path, "/metrics")) {
    soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }
  if (soup == srv->soup && !from_loopback(msg)) { /* on the public listener: this machine only */
    api_reply_error(msg, SOUP_STATUS_FORBIDDEN, "forbidden",
                "/metrics answers only this machine here; see --metrics-listen");
    return;
  }
  GString *out = g_string_new("");
  dc_metrics_write(out, srv->bridge);
  unsigned sessions = 0, joined = 0;
  for (GList *l = srv->sessions; l; l = l->next, sessions++)
    joined += ((session *)l->data)->participant != NULL;
  g_string_append_printf(out, "# HELP diemcau_signaling_connections Signaling WebSocket connections, and those joined.\n"
                              "# TYPE diemcau_signaling_connections gauge\n"
                              "diemcau_signaling_connections{state=\"open\"} %u\n"
                              "diemcau_signaling_connections{state=\"joined\"} %u\n", sessions, joined);
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  gsize len = out->len;
  soup_server_message_set_response(msg, "text/plain; version=0.0.4; charset=utf-8", SOUP_MEMORY_TAKE,
                                   g_string_free(out, FALSE), len);
}
