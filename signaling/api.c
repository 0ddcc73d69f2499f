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
 * Left out: paging of long lists (a district has tens of points and a few meetings a day),
 * deleting points and meetings (attendance must outlive them: cancel instead).
 */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signaling/minutes.h"
#include "signaling/protocol.h"
#include "signaling/request.h"
#include "signaling/server_private.h"
#include "signaling/token.h"

#define MAX_API_BODY 65536
#define CONSOLE_COOKIE "dc_console"
#define CONSOLE_LOGIN_S (12 * 3600) /* a working day; then sign in again */
#define MAX_OCCURRENCES 104         /* two years of a weekly meeting */
#define STAY_SAVE_EVERY_S 10        /* a crash loses at most this much of a stay */

static int64_t now_s(void) { return g_get_real_time() / G_USEC_PER_SEC; }

/* ---- replies ---- */

static void reply(SoupServerMessage *msg, guint status, JsonNode *node) {
  char *text = json_to_string(node, FALSE);
  json_node_unref(node);
  soup_server_message_set_status(msg, status, NULL);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, text, strlen(text));
}

static void reply_error(SoupServerMessage *msg, guint status, const char *code, const char *message) {
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
  reply(msg, status, json_builder_get_root(b));
  g_object_unref(b);
}

static void reply_store_error(SoupServerMessage *msg, GError *err) {
  if (err->domain == DC_STORE_ERROR && err->code == DC_STORE_ERROR_INVALID)
    reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", err->message);
  else if (err->domain == DC_STORE_ERROR && err->code == DC_STORE_ERROR_NOT_FOUND)
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", err->message);
  else {
    g_warning("operator API: %s", err->message);
    reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "the store failed; see the bridge log");
  }
  g_error_free(err);
}

/* JSON builder shorthands */
static void put_int(JsonBuilder *b, const char *name, int64_t v) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, v);
}
static void put_str(JsonBuilder *b, const char *name, const char *v) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, v);
}
static void put_bool(JsonBuilder *b, const char *name, bool v) {
  json_builder_set_member_name(b, name);
  json_builder_add_boolean_value(b, v);
}
static void put_double(JsonBuilder *b, const char *name, double v) { /* -1: unknown, null */
  json_builder_set_member_name(b, name);
  if (v < 0)
    json_builder_add_null_value(b);
  else
    json_builder_add_double_value(b, (double)(int64_t)(v * 10 + 0.5) / 10);
}
static void put_opt_int(JsonBuilder *b, const char *name, int64_t v) { /* 0: none, null */
  json_builder_set_member_name(b, name);
  if (v)
    json_builder_add_int_value(b, v);
  else
    json_builder_add_null_value(b);
}
static JsonNode *finish(JsonBuilder *b) {
  JsonNode *n = json_builder_get_root(b);
  g_object_unref(b);
  return n;
}

/* ---- request bodies ---- */

/* The request body as a JSON object, or NULL after replying 4xx. */
static JsonObject *body_object(SoupServerMessage *msg, JsonParser **parser) {
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  if (body->length > MAX_API_BODY) {
    reply_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too-large", "the body is over 64 KiB");
    return NULL;
  }
  *parser = json_parser_new();
  /* an empty body parses, to no root at all (JSON_NODE_HOLDS_OBJECT(NULL) is a critical) */
  JsonNode *root = body->data && json_parser_load_from_data(*parser, body->data, (gssize)body->length, NULL)
                       ? json_parser_get_root(*parser) : NULL;
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    reply_error(msg, SOUP_STATUS_BAD_REQUEST, "bad-json", "the body must be a JSON object");
    return NULL;
  }
  return json_node_get_object(root);
}

static bool bad_member(SoupServerMessage *msg, const char *name, const char *what) {
  char *text = g_strdup_printf("\"%s\" must be %s", name, what);
  reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", text);
  g_free(text);
  return false;
}

/* Typed members: false after replying 400 with what is wrong. Optional ones absent leave
 * *out as it was. */
static bool want_string(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, const char **out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n && !required)
    return true;
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return bad_member(msg, name, "a string");
  *out = json_node_get_string(n);
  return true;
}

static bool want_int(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, int64_t *out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n && !required)
    return true;
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    return bad_member(msg, name, "a whole number");
  *out = json_node_get_int(n);
  return true;
}

static bool want_bool(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, int *out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n && !required)
    return true;
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
    return bad_member(msg, name, "true or false");
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
  reply_error(msg, 429 /* Too Many Requests, RFC 6585; libsoup names no constant */, "too-many-attempts",
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
  reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized",
              "send an operator key in force as \"Authorization: Bearer <key>\", or sign in to the console");
  return NULL;
}

typedef enum { NEED_VIEWER, NEED_OPERATOR, NEED_ADMIN } need;

static bool allowed(SoupServerMessage *msg, const dc_api_key *k, need n) {
  int level = !strcmp(k->role, "admin") ? NEED_ADMIN : !strcmp(k->role, "operator") ? NEED_OPERATOR : NEED_VIEWER;
  if (level >= (int)n)
    return true;
  char *text = g_strdup_printf("the key \"%s\" is a%s %s key: this needs %s", k->name,
                               level == NEED_OPERATOR ? "n" : "", k->role,
                               n == NEED_ADMIN ? "an admin key" : "an operator or admin key");
  reply_error(msg, SOUP_STATUS_FORBIDDEN, "forbidden", text);
  g_free(text);
  return false;
}

static void audit(dc_server *srv, const dc_api_key *k, const char *action, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static void audit(dc_server *srv, const dc_api_key *k, const char *action, const char *fmt, ...) {
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

static JsonNode *point_json(const dc_point *p) {
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

static void meeting_members(JsonBuilder *b, const dc_meeting *m, int64_t now) {
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

static JsonNode *meeting_json(const dc_meeting *m) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  meeting_members(b, m, now_s());
  json_builder_end_object(b);
  return finish(b);
}

static JsonNode *group_json(const dc_group *g) {
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

static JsonNode *array_of(GPtrArray *items, JsonNode *(*to_json)(gconstpointer)) {
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
static JsonNode *invitation_json(dc_server *srv, const dc_invitation *inv, const dc_point *p, bool with_token) {
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

/* ---- points and groups ---- */

static void api_points(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, bool post) {
  GError *err = NULL;
  if (!post) {
    GPtrArray *all = dc_store_list_points(srv->store, &err);
    if (!all)
      return reply_store_error(msg, err);
    reply(msg, SOUP_STATUS_OK, array_of(all, (JsonNode * (*)(gconstpointer)) point_json));
    g_ptr_array_unref(all);
    return;
  }
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  JsonParser *parser = NULL;
  JsonObject *o = body_object(msg, &parser);
  const char *name, *kind, *profile, *contact = "";
  if (o && want_string(msg, o, "name", true, &name) && want_string(msg, o, "kind", true, &kind) &&
      want_string(msg, o, "link_profile", true, &profile) && want_string(msg, o, "contact", false, &contact)) {
    int64_t id = dc_store_add_point_contact(srv->store, name, kind, profile, contact, &err);
    dc_point *p = id ? dc_store_get_point(srv->store, id, &err) : NULL;
    if (p) {
      audit(srv, k, "point.create", "%s (%s, %s) #%" G_GINT64_FORMAT, p->name, p->kind, p->link_profile, p->id);
      reply(msg, SOUP_STATUS_CREATED, point_json(p));
    } else {
      reply_store_error(msg, err);
    }
    dc_point_free(p);
  }
  g_clear_object(&parser);
}

static void api_point(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id, bool patch) {
  GError *err = NULL;
  if (patch) {
    if (!allowed(msg, k, NEED_OPERATOR))
      return;
    JsonParser *parser = NULL;
    JsonObject *o = body_object(msg, &parser);
    const char *name = NULL, *kind = NULL, *profile = NULL, *contact = NULL;
    bool ok = o && want_string(msg, o, "name", false, &name) && want_string(msg, o, "kind", false, &kind) &&
              want_string(msg, o, "link_profile", false, &profile) && want_string(msg, o, "contact", false, &contact);
    if (ok && !dc_store_edit_point(srv->store, id, name, kind, profile, contact, &err)) {
      reply_store_error(msg, err);
      ok = false;
    }
    g_clear_object(&parser);
    if (!ok)
      return;
  }
  dc_point *p = dc_store_get_point(srv->store, id, &err);
  if (!p)
    return reply_store_error(msg, err);
  if (patch)
    audit(srv, k, "point.edit", "%s (%s, %s) #%" G_GINT64_FORMAT, p->name, p->kind, p->link_profile, p->id);
  reply(msg, SOUP_STATUS_OK, point_json(p));
  dc_point_free(p);
}

/* POST /api/points/ID/device-key (operator): a new key for the point's unattended endpoint,
 * shown once; it replaces the point's old one. */
static void api_device_key(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t point_id) {
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  char *key = dc_store_new_device_key(srv->store, point_id, &err);
  if (!key)
    return reply_store_error(msg, err);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "point_id", point_id);
  put_str(b, "device_key", key);
  json_builder_end_object(b);
  reply(msg, SOUP_STATUS_CREATED, finish(b));
  memset(key, 0, strlen(key));
  g_free(key);
  audit(srv, k, "point.device-key", "a new device key for point #%" G_GINT64_FORMAT, point_id);
}

static void api_groups(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, bool post) {
  GError *err = NULL;
  if (!post) {
    GPtrArray *all = dc_store_list_groups(srv->store, &err);
    if (!all)
      return reply_store_error(msg, err);
    reply(msg, SOUP_STATUS_OK, array_of(all, (JsonNode * (*)(gconstpointer)) group_json));
    g_ptr_array_unref(all);
    return;
  }
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  JsonParser *parser = NULL;
  JsonObject *o = body_object(msg, &parser);
  const char *name;
  if (!o || !want_string(msg, o, "name", true, &name)) {
    g_clear_object(&parser);
    return;
  }
  int64_t id = dc_store_add_group(srv->store, name, &err);
  dc_group *g = id ? dc_store_get_group(srv->store, id, &err) : NULL;
  if (g) {
    audit(srv, k, "group.create", "%s #%" G_GINT64_FORMAT, g->name, g->id);
    reply(msg, SOUP_STATUS_CREATED, group_json(g));
  } else {
    reply_store_error(msg, err);
  }
  dc_group_free(g);
  g_clear_object(&parser);
}

static void api_group(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_group *g = dc_store_get_group(srv->store, id, &err);
  if (!g)
    return reply_store_error(msg, err);
  reply(msg, SOUP_STATUS_OK, group_json(g));
  dc_group_free(g);
}

/* PUT / DELETE /api/groups/ID/points/POINT */
static void api_group_member(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t group,
                             int64_t point, bool member) {
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  if (!dc_store_group_set_member(srv->store, group, point, member, &err))
    return reply_store_error(msg, err);
  audit(srv, k, member ? "group.add-point" : "group.remove-point", "point #%" G_GINT64_FORMAT " %s group #%" G_GINT64_FORMAT,
        point, member ? "to" : "from", group);
  api_group(srv, msg, group);
}

/* ---- meetings ---- */

/* The occurrences of a series: the first at starts/ends, then every `days` days at the same
 * wall-clock time in the bridge's zone (a zone with summer time keeps 07:30 at 07:30). */
static void occurrences(dc_server *srv, int64_t starts, int64_t ends, int days, int count, int64_t *s_out,
                        int64_t *e_out) {
  GDateTime *first = g_date_time_new_from_unix_utc(starts);
  GDateTime *local = g_date_time_to_timezone(first, srv->tz);
  for (int i = 0; i < count; i++) {
    GDateTime *t = g_date_time_add_days(local, i * days);
    s_out[i] = g_date_time_to_unix(t);
    e_out[i] = s_out[i] + (ends - starts);
    g_date_time_unref(t);
  }
  g_date_time_unref(local);
  g_date_time_unref(first);
}

/* GET ?from=&to= (Unix seconds): the meetings whose time overlaps; none: all. */
static bool query_int(SoupServerMessage *msg, GHashTable *query, const char *name, int64_t *out) {
  const char *v = query ? g_hash_table_lookup(query, name) : NULL;
  if (!v)
    return true;
  char *end;
  long long n = strtoll(v, &end, 10);
  if (!*v || *end) {
    char *text = g_strdup_printf("the query's \"%s\" must be a whole number", name);
    reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", text);
    g_free(text);
    return false;
  }
  *out = n;
  return true;
}

static void api_meetings(dc_server *srv, SoupServerMessage *msg, GHashTable *query, const dc_api_key *k, bool post) {
  GError *err = NULL;
  if (!post) {
    int64_t from = G_MININT64, to = G_MAXINT64;
    if (!query_int(msg, query, "from", &from) || !query_int(msg, query, "to", &to))
      return;
    GPtrArray *all = dc_store_list_meetings_between(srv->store, from, to, &err);
    if (!all)
      return reply_store_error(msg, err);
    reply(msg, SOUP_STATUS_OK, array_of(all, (JsonNode * (*)(gconstpointer)) meeting_json));
    g_ptr_array_unref(all);
    return;
  }
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  JsonParser *parser = NULL;
  JsonObject *o = body_object(msg, &parser);
  const char *title, *every = NULL;
  int64_t starts, ends, host = 0, open_before = -1, count = 1;
  int record = 0;
  JsonNode *repeat = o ? json_object_get_member(o, "repeat") : NULL;
  bool ok = o && want_string(msg, o, "title", true, &title) && want_int(msg, o, "starts_at", true, &starts) &&
            want_int(msg, o, "ends_at", true, &ends) && want_int(msg, o, "host_point_id", false, &host) &&
            want_int(msg, o, "open_before_s", false, &open_before) && want_bool(msg, o, "record", false, &record);
  if (ok && repeat) {
    JsonObject *r = JSON_NODE_HOLDS_OBJECT(repeat) ? json_node_get_object(repeat) : NULL;
    ok = r ? want_string(msg, r, "every", true, &every) && want_int(msg, r, "count", true, &count)
           : bad_member(msg, "repeat", "an object {\"every\": \"day\" or \"week\", \"count\": 1-104}");
    if (ok && ((strcmp(every, "day") && strcmp(every, "week")) || count < 1 || count > MAX_OCCURRENCES))
      ok = bad_member(msg, "repeat", "an object {\"every\": \"day\" or \"week\", \"count\": 1-104}");
  }
  if (ok && open_before < -1)
    ok = bad_member(msg, "open_before_s", "0-86400 seconds");
  if (ok && !dc_meeting_times_valid(starts, ends)) /* before the calendar sums below */
    ok = bad_member(msg, starts < 0 || starts > DC_MEETING_TIME_MAX ? "starts_at" : "ends_at",
                    "Unix seconds between 1970 and the year 3000");
  if (!ok) {
    g_clear_object(&parser);
    return;
  }
  int64_t *s_at = g_new(int64_t, count), *e_at = g_new(int64_t, count);
  occurrences(srv, starts, ends, every && !strcmp(every, "day") ? 1 : 7, (int)count, s_at, e_at);
  int64_t id = dc_store_create_series(srv->store, title, s_at, e_at, (int)count, host, open_before, &err);
  g_free(s_at);
  g_free(e_at);
  if (id && record && !dc_store_set_meeting_record(srv->store, id, true, true, &err))
    id = 0;
  dc_meeting *m = id ? dc_store_get_meeting(srv->store, id, &err) : NULL;
  if (m) {
    audit(srv, k, "meeting.create", "%s #%" G_GINT64_FORMAT "%s", m->title, m->id,
          count > 1 ? (!strcmp(every, "day") ? " (daily series)" : " (weekly series)") : "");
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    meeting_members(b, m, now_s());
    put_int(b, "occurrences", count);
    json_builder_end_object(b);
    reply(msg, SOUP_STATUS_CREATED, finish(b));
  } else {
    reply_store_error(msg, err);
  }
  dc_meeting_free(m);
  g_clear_object(&parser);
}

/* GET /api/meetings/ID: the meeting with its invitations and their links. */
static void api_meeting(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  GPtrArray *invs = m ? dc_store_list_invitations(srv->store, id, &err) : NULL;
  if (!invs) {
    dc_meeting_free(m);
    return reply_store_error(msg, err);
  }
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  meeting_members(b, m, now_s());
  json_builder_set_member_name(b, "invitations");
  json_builder_begin_array(b);
  for (guint i = 0; i < invs->len; i++) {
    dc_invitation *inv = invs->pdata[i];
    dc_point *p = dc_store_get_point(srv->store, inv->point_id, NULL);
    json_builder_add_value(b, invitation_json(srv, inv, p, false));
    dc_point_free(p);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  reply(msg, SOUP_STATUS_OK, finish(b));
  g_ptr_array_unref(invs);
  dc_meeting_free(m);
}

/* PATCH /api/meetings/ID: title, times, open window. Those already in it stay; a meeting
 * moved later keeps its links good for as long after its new end. */
static void api_edit_meeting(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id) {
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  JsonParser *parser = NULL;
  JsonObject *o = body_object(msg, &parser);
  const char *title = NULL;
  int64_t starts = 0, ends = 0, open_before = -1;
  int record = -1;
  bool ok = o && want_string(msg, o, "title", false, &title) && want_int(msg, o, "starts_at", false, &starts) &&
            want_int(msg, o, "ends_at", false, &ends) && want_int(msg, o, "open_before_s", false, &open_before) &&
            want_bool(msg, o, "record", false, &record);
  if (ok && open_before < -1)
    ok = bad_member(msg, "open_before_s", "0-86400 seconds");
  if (ok && !dc_store_edit_meeting(srv->store, id, title, starts, ends, open_before, now_s(), &err)) {
    reply_store_error(msg, err);
    ok = false;
  }
  /* after the edit, which checked the meeting: the mark cannot fail on its own then */
  if (ok && record >= 0 && !dc_store_set_meeting_record(srv->store, id, record, false, &err)) {
    reply_store_error(msg, err);
    ok = false;
  }
  g_clear_object(&parser);
  if (!ok)
    return;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, NULL);
  if (m)
    audit(srv, k, "meeting.edit", "%s #%" G_GINT64_FORMAT, m->title, m->id);
  dc_meeting_free(m);
  api_meeting(srv, msg, id);
}

static void reply_done(SoupServerMessage *msg, const char *what, int64_t id, int removed) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, what, id);
  put_int(b, "disconnected", removed);
  json_builder_end_object(b);
  reply(msg, SOUP_STATUS_OK, finish(b));
}

/* POST /api/meetings/ID/end or /cancel: over for everyone, now. */
static void api_end(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id, bool cancel) {
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  if (!(cancel ? dc_store_cancel_meeting : dc_store_end_meeting)(srv->store, id, now_s(), &err))
    return reply_store_error(msg, err);
  int removed = dc_server_remove_sessions(srv, id, 0, cancel ? DC_ERR_CODE_MEETING_CANCELLED : DC_ERR_CODE_MEETING_ENDED,
                                          cancel ? "the operator cancelled this meeting" : "the operator ended this meeting");
  audit(srv, k, cancel ? "meeting.cancel" : "meeting.end", "#%" G_GINT64_FORMAT "; %d participant(s) disconnected", id, removed);
  if (!cancel) /* the minutes say who ended it */
    dc_chair_log(srv, id, "ended", NULL, k->name);
  reply_done(msg, cancel ? "cancelled_meeting" : "ended_meeting", id, removed);
}

/* POST /api/meetings/ID/invitations: {"point_id"} one point, or {"group_id"} each point of a
 * group not invited yet, in one step. */
static void api_invite(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t meeting_id) {
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  JsonParser *parser = NULL;
  JsonObject *o = body_object(msg, &parser);
  const char *role = "participant";
  int64_t point = 0, group = 0, expires = 0;
  if (!o || !want_int(msg, o, "point_id", false, &point) || !want_int(msg, o, "group_id", false, &group) ||
      !want_int(msg, o, "expires_at", false, &expires) || !want_string(msg, o, "role", false, &role) ||
      (!point == !group && !bad_member(msg, "point_id", "given, or else \"group_id\" (one of the two)"))) {
    g_clear_object(&parser);
    return;
  }
  dc_meeting *m = dc_store_get_meeting(srv->store, meeting_id, &err);
  const char *state = m ? dc_meeting_state(m, now_s()) : NULL;
  if (m && (!strcmp(state, "ended") || !strcmp(state, "cancelled"))) {
    char *text = g_strdup_printf("meeting %" G_GINT64_FORMAT " has %s: nobody can be invited to it", meeting_id,
                                 !strcmp(state, "ended") ? "ended" : "been cancelled");
    reply_error(msg, SOUP_STATUS_CONFLICT, "meeting-over", text);
    g_free(text);
  } else if (m) {
    if (!expires)
      expires = m->ends_at + DC_MEETING_GRACE_S; /* as long as the meeting may run */
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    int64_t one = point ? dc_store_create_invitation(srv->store, meeting_id, point, role, expires, &err) : 0;
    if (one)
      g_array_append_val(ids, one);
    if ((point && !one) || (group && !dc_store_invite_group(srv->store, meeting_id, group, role, expires, ids, &err))) {
      reply_store_error(msg, err);
    } else {
      JsonArray *a = json_array_new();
      for (guint i = 0; i < ids->len; i++) {
        dc_invitation *inv = dc_store_get_invitation(srv->store, g_array_index(ids, int64_t, i), NULL);
        dc_point *p = inv ? dc_store_get_point(srv->store, inv->point_id, NULL) : NULL;
        if (inv)
          json_array_add_element(a, invitation_json(srv, inv, p, true));
        dc_point_free(p);
        dc_invitation_free(inv);
      }
      audit(srv, k, "meeting.invite", "%s%" G_GINT64_FORMAT " to %s #%" G_GINT64_FORMAT " as %s: %u invitation(s)",
            point ? "point #" : "group #", point ? point : group, m->title, m->id, role, ids->len);
      if (point) { /* one point: the invitation itself, as before groups */
        JsonNode *first = json_array_get_element(a, 0);
        reply(msg, SOUP_STATUS_CREATED, json_node_copy(first));
        json_array_unref(a);
      } else {
        JsonBuilder *b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "invitations");
        JsonNode *n = json_node_new(JSON_NODE_ARRAY);
        json_node_take_array(n, a);
        json_builder_add_value(b, n);
        json_builder_end_object(b);
        reply(msg, SOUP_STATUS_CREATED, finish(b));
      }
    }
    g_array_unref(ids);
  } else {
    reply_store_error(msg, err);
    err = NULL;
  }
  dc_meeting_free(m);
  g_clear_object(&parser);
}

/* POST /api/invitations/ID/revoke: no join with it from now on, and whoever is in the meeting
 * with it is put out at once. */
static void api_revoke(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id) {
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  dc_invitation *inv = dc_store_get_invitation(srv->store, id, &err);
  if (!inv || !dc_store_revoke_invitation(srv->store, id, &err)) {
    dc_invitation_free(inv);
    return reply_store_error(msg, err);
  }
  int removed = dc_server_remove_sessions(srv, inv->meeting_id, id, DC_ERR_CODE_REVOKED,
                                          "the operator withdrew this invitation link");
  audit(srv, k, "invitation.revoke", "#%" G_GINT64_FORMAT " of meeting #%" G_GINT64_FORMAT "; %d participant(s) disconnected",
        id, inv->meeting_id, removed);
  reply_done(msg, "revoked_invitation", id, removed);
  dc_invitation_free(inv);
}

/* ---- the live view ---- */

static void link_json(JsonBuilder *b, session *s) {
  dc_link_stats st;
  dc_participant_link_stats(s->participant, &st);
  json_builder_set_member_name(b, "link");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "rtt_ms");
  if (st.rtt_ms < 0)
    json_builder_add_null_value(b);
  else
    json_builder_add_int_value(b, st.rtt_ms);
  put_double(b, "loss_down_pct", st.loss_down_pct);
  put_double(b, "loss_up_pct", st.loss_up_pct);
  put_int(b, "kbps_down", st.kbps_down);
  put_int(b, "kbps_up", st.kbps_up);
  put_int(b, "estimate_kbps", st.estimate_kbps);
  put_double(b, "audio_loss_pct", st.audio_loss_pct);
  put_opt_int(b, "video_source", st.main_source);
  put_str(b, "video_layer", st.main_layer);
  put_bool(b, "video_off", st.main_off);
  json_builder_end_object(b);
}

/* GET /api/meetings/ID/live: every invited point, expected, connected or missing, with each
 * of its participants' links; and who speaks. */
static void api_live(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  GPtrArray *invs = m ? dc_store_list_invitations(srv->store, id, &err) : NULL;
  if (!invs) {
    dc_meeting_free(m);
    return reply_store_error(msg, err);
  }
  int64_t now = now_s();
  const int64_t *speaker = g_hash_table_lookup(srv->speakers, &id);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "meeting");
  json_builder_add_value(b, meeting_json(m));
  put_int(b, "now", now);
  put_opt_int(b, "speaker", speaker ? *speaker : 0);
  json_builder_set_member_name(b, "points");
  json_builder_begin_array(b);
  GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal); /* a point invited twice shows once */
  for (guint i = 0; i < invs->len; i++) {
    dc_invitation *inv = invs->pdata[i];
    bool in_use = false; /* a withdrawn invitation shows only while someone is still in with it */
    for (GList *l = srv->sessions; l && inv->revoked; l = l->next)
      in_use |= ((session *)l->data)->participant && ((session *)l->data)->invitation == inv->id;
    if (g_hash_table_contains(seen, &inv->point_id) || (inv->revoked && !in_use))
      continue;
    g_hash_table_add(seen, &inv->point_id);
    dc_point *p = dc_store_get_point(srv->store, inv->point_id, NULL);
    json_builder_begin_object(b);
    put_int(b, "point_id", inv->point_id);
    put_str(b, "name", p ? p->name : "");
    put_str(b, "kind", p ? p->kind : "");
    put_str(b, "link_profile", p ? p->link_profile : "");
    put_str(b, "contact", p ? p->contact : "");
    put_str(b, "role", inv->role);
    json_builder_set_member_name(b, "participants");
    json_builder_begin_array(b);
    bool any = false, up = false;
    for (GList *l = g_list_last(srv->sessions); l; l = l->prev) { /* oldest first */
      session *s = l->data;
      if (!s->participant || s->meeting != id || s->point_id != inv->point_id)
        continue;
      any = true;
      up |= s->connected;
      json_builder_begin_object(b);
      put_int(b, "id", s->id);
      put_str(b, "name", s->name);
      put_int(b, "joined_at", s->joined_at);
      put_bool(b, "media", s->connected);
      put_bool(b, "muted", s->muted);
      put_bool(b, "speaking", speaker && *speaker == s->id);
      link_json(b, s);
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    bool coming_back = false;
    for (GList *l = srv->ghosts; l && !any; l = l->next)
      coming_back |= ((ghost *)l->data)->meeting == id && ((ghost *)l->data)->point_id == inv->point_id;
    put_str(b, "status", up ? "connected" : any ? "joining" : coming_back ? "reconnecting" : "missing");
    json_builder_end_object(b);
    dc_point_free(p);
  }
  g_hash_table_unref(seen);
  json_builder_end_array(b);
  json_builder_end_object(b);
  reply(msg, SOUP_STATUS_OK, finish(b));
  g_ptr_array_unref(invs);
  dc_meeting_free(m);
}

/* ---- attendance ---- */

static int cmp_int(gconstpointer a, gconstpointer b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static int median(GArray *v) {
  if (!v->len)
    return -1;
  g_array_sort(v, cmp_int);
  return g_array_index(v, int, v->len / 2);
}

/* The stay's record from its session's samples. */
static void stay_of(session *s, dc_stay *out) {
  *out = (dc_stay){.id = s->stay,
                   .rtt_ms = s->rtt ? dc_rtt_hist_median(s->rtt) : -1,
                   .loss_down_pct = s->loss_down_n ? s->loss_down_sum / s->loss_down_n : -1,
                   .loss_up_pct = s->loss_up_n ? s->loss_up_sum / s->loss_up_n : -1,
                   .video_off_s = s->video_off_s};
}

void dc_api_stay_begin(dc_server *srv, session *s) {
  GError *err = NULL;
  s->joined_at = now_s();
  g_free(s->rtt);
  s->rtt = g_new0(dc_rtt_hist, 1);
  s->stay = dc_store_stay_begin(srv->store, s->meeting, s->invitation, s->point_id, s->name, s->joined_at, &err);
  if (!s->stay) {
    g_warning("attendance: %s", err->message);
    g_error_free(err);
  }
}

void dc_api_stay_end(dc_server *srv, session *s) {
  if (s->stay) {
    dc_stay st;
    stay_of(s, &st);
    GError *err = NULL;
    if (!dc_store_stay_update(srv->store, &st, now_s(), true, &err)) {
      g_warning("attendance: %s", err->message);
      g_error_free(err);
    }
    s->stay = 0;
  }
  g_clear_pointer(&s->rtt, g_free);
}

static void sample_link(session *s) {
  dc_link_stats st;
  dc_participant_link_stats(s->participant, &st);
  if (s->rtt)
    dc_rtt_hist_add(s->rtt, st.rtt_ms);
  if (st.loss_down_pct >= 0) {
    s->loss_down_sum += st.loss_down_pct;
    s->loss_down_n++;
  }
  if (st.loss_up_pct >= 0) {
    s->loss_up_sum += st.loss_up_pct;
    s->loss_up_n++;
  }
  s->video_off_s += st.main_off;
}

/* Ends, for everyone in it, a meeting that ended by its clock (its end plus the grace). */
static void close_ended_meetings(dc_server *srv, int64_t now) {
  GHashTable *checked = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  GArray *over = g_array_new(FALSE, FALSE, sizeof(int64_t));
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (!s->participant || g_hash_table_contains(checked, &s->meeting))
      continue;
    g_hash_table_add(checked, g_memdup2(&s->meeting, sizeof s->meeting));
    dc_meeting *m = dc_store_get_meeting(srv->store, s->meeting, NULL);
    if (m && !dc_meeting_joinable(m, now))
      g_array_append_val(over, s->meeting);
    dc_meeting_free(m);
  }
  for (guint i = 0; i < over->len; i++) {
    int64_t id = g_array_index(over, int64_t, i);
    int n = dc_server_remove_sessions(srv, id, 0, DC_ERR_CODE_MEETING_ENDED, "this meeting has reached its end");
    g_message("meeting %" G_GINT64_FORMAT " reached its end; %d participant(s) disconnected", id, n);
  }
  g_array_unref(over);
  g_hash_table_unref(checked);
}

void dc_api_tick(dc_server *srv) {
  int64_t now = now_s();
  dc_server_expire_ghosts(srv);
  bool save = ++srv->ticks % STAY_SAVE_EVERY_S == 0;
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (!s->participant || !s->stay)
      continue;
    if (s->connected)
      sample_link(s);
    if (save) {
      dc_stay st;
      stay_of(s, &st);
      dc_store_stay_update(srv->store, &st, now, false, NULL);
    }
  }
  close_ended_meetings(srv, now); /* one indexed read per meeting in progress */
  dc_recording_tick(srv, now);
  if (srv->ticks % 60 == 0) {
    dc_attempts_prune(srv->bad_tokens, g_get_monotonic_time() / 1000);
    dc_attempts_prune(srv->bad_keys, g_get_monotonic_time() / 1000);
  }
}

/* One point's attendance: its stays, their total, and its link over them. */
typedef struct {
  const dc_invitation *inv;
  const dc_point *point;
  GPtrArray *stays; /* dc_stay*, borrowed */
} attendance_row;

static void attendance_summary(const attendance_row *a, int64_t now, int64_t *present, int *rtt, double *down,
                               double *up, int64_t *off) {
  GArray *rtts = g_array_new(FALSE, FALSE, sizeof(int));
  double dsum = 0, usum = 0, dw = 0, uw = 0;
  *present = *off = 0;
  for (guint i = 0; i < a->stays->len; i++) {
    dc_stay *v = a->stays->pdata[i];
    int64_t len = (v->left_at ? v->left_at : now) - v->joined_at;
    *present += len;
    *off += v->video_off_s;
    if (v->rtt_ms >= 0)
      g_array_append_val(rtts, v->rtt_ms);
    if (v->loss_down_pct >= 0) {
      dsum += v->loss_down_pct * (double)len;
      dw += (double)len;
    }
    if (v->loss_up_pct >= 0) {
      usum += v->loss_up_pct * (double)len;
      uw += (double)len;
    }
  }
  *rtt = median(rtts);
  *down = dw > 0 ? dsum / dw : -1;
  *up = uw > 0 ? usum / uw : -1;
  g_array_unref(rtts);
}

static char *local_time(dc_server *srv, int64_t t) {
  if (!t)
    return g_strdup("");
  return dc_time_format(srv->tz, t, "%Y-%m-%dT%H:%M:%S%:z");
}

/* CSV (RFC 4180): a field with a comma, quote or line break is quoted, quotes doubled. */
static void csv_field(GString *out, const char *v, bool last) {
  if (strpbrk(v, ",\"\r\n")) {
    g_string_append_c(out, '"');
    for (const char *c = v; *c; c++) {
      if (*c == '"')
        g_string_append_c(out, '"');
      g_string_append_c(out, *c);
    }
    g_string_append_c(out, '"');
  } else {
    g_string_append(out, v);
  }
  g_string_append(out, last ? "\r\n" : ",");
}

static void csv_number(GString *out, double v, bool last) {
  char buf[32];
  if (v < 0)
    buf[0] = '\0';
  else
    g_snprintf(buf, sizeof buf, "%.1f", v);
  csv_field(out, buf, last);
}

static void api_attendance(dc_server *srv, SoupServerMessage *msg, GHashTable *query, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  GPtrArray *invs = m ? dc_store_list_invitations(srv->store, id, &err) : NULL;
  GPtrArray *stays = invs ? dc_store_list_stays(srv->store, id, &err) : NULL;
  if (!stays) {
    if (invs)
      g_ptr_array_unref(invs);
    dc_meeting_free(m);
    return reply_store_error(msg, err);
  }
  const char *format = query ? g_hash_table_lookup(query, "format") : NULL;
  bool csv = format && !strcmp(format, "csv");
  if (format && !csv && strcmp(format, "json")) {
    reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", "format must be json or csv");
  } else {
    int64_t now = now_s();
    /* one row per invited point, in invitation order; stays go to their point's row */
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(attendance_row));
    GPtrArray *points = g_ptr_array_new_with_free_func((GDestroyNotify)dc_point_free);
    for (guint i = 0; i < invs->len; i++) {
      dc_invitation *inv = invs->pdata[i];
      bool dup = false;
      for (guint r = 0; r < rows->len; r++)
        dup |= g_array_index(rows, attendance_row, r).inv->point_id == inv->point_id;
      if (dup)
        continue;
      dc_point *p = dc_store_get_point(srv->store, inv->point_id, NULL);
      g_ptr_array_add(points, p);
      attendance_row a = {inv, p, g_ptr_array_new()};
      for (guint k = 0; k < stays->len; k++)
        if (((dc_stay *)stays->pdata[k])->point_id == inv->point_id)
          g_ptr_array_add(a.stays, stays->pdata[k]);
      g_array_append_val(rows, a);
    }
    if (csv) {
      GString *out = g_string_new("");
      const char *head[] = {"meeting_id", "meeting", "point_id", "point", "role", "participant", "joined_at",
                            "left_at", "present_s", "rtt_ms", "loss_down_pct", "loss_up_pct", "video_off_s"};
      for (size_t i = 0; i < G_N_ELEMENTS(head); i++)
        csv_field(out, head[i], i + 1 == G_N_ELEMENTS(head));
      for (guint r = 0; r < rows->len; r++) {
        attendance_row *a = &g_array_index(rows, attendance_row, r);
        guint n = MAX(a->stays->len, 1); /* invited and never joined: one row, no times */
        for (guint k = 0; k < n; k++) {
          dc_stay *v = k < a->stays->len ? a->stays->pdata[k] : NULL;
          char num[32];
          g_snprintf(num, sizeof num, "%" G_GINT64_FORMAT, m->id);
          csv_field(out, num, false);
          csv_field(out, m->title, false);
          g_snprintf(num, sizeof num, "%" G_GINT64_FORMAT, a->inv->point_id);
          csv_field(out, num, false);
          csv_field(out, a->point ? a->point->name : "", false);
          csv_field(out, a->inv->role, false);
          csv_field(out, v ? v->name : "", false);
          char *joined = local_time(srv, v ? v->joined_at : 0), *left = local_time(srv, v ? v->left_at : 0);
          csv_field(out, joined, false);
          csv_field(out, left, false);
          g_free(joined);
          g_free(left);
          if (v)
            g_snprintf(num, sizeof num, "%" G_GINT64_FORMAT, (v->left_at ? v->left_at : now) - v->joined_at);
          else
            g_strlcpy(num, "0", sizeof num);
          csv_field(out, num, false);
          csv_number(out, v ? v->rtt_ms : -1, false);
          csv_number(out, v ? v->loss_down_pct : -1, false);
          csv_number(out, v ? v->loss_up_pct : -1, false);
          csv_number(out, v ? (double)v->video_off_s : -1, true);
        }
      }
      soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
      char *disposition = g_strdup_printf("attachment; filename=\"attendance-%" G_GINT64_FORMAT ".csv\"", m->id);
      soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Content-Disposition", disposition);
      g_free(disposition);
      gsize len = out->len;
      soup_server_message_set_response(msg, "text/csv; charset=utf-8", SOUP_MEMORY_TAKE, g_string_free(out, FALSE), len);
    } else {
      JsonBuilder *b = json_builder_new();
      json_builder_begin_object(b);
      json_builder_set_member_name(b, "meeting");
      json_builder_add_value(b, meeting_json(m));
      json_builder_set_member_name(b, "points");
      json_builder_begin_array(b);
      for (guint r = 0; r < rows->len; r++) {
        attendance_row *a = &g_array_index(rows, attendance_row, r);
        int64_t present, off;
        int rtt;
        double down, up;
        attendance_summary(a, now, &present, &rtt, &down, &up, &off);
        json_builder_begin_object(b);
        put_int(b, "point_id", a->inv->point_id);
        put_str(b, "point", a->point ? a->point->name : "");
        put_str(b, "role", a->inv->role);
        put_bool(b, "attended", a->stays->len > 0);
        put_int(b, "present_s", present);
        json_builder_set_member_name(b, "rtt_ms");
        if (rtt < 0)
          json_builder_add_null_value(b);
        else
          json_builder_add_int_value(b, rtt);
        put_double(b, "loss_down_pct", down);
        put_double(b, "loss_up_pct", up);
        put_int(b, "video_off_s", off);
        json_builder_set_member_name(b, "stays");
        json_builder_begin_array(b);
        for (guint k = 0; k < a->stays->len; k++) {
          dc_stay *v = a->stays->pdata[k];
          json_builder_begin_object(b);
          put_str(b, "name", v->name);
          put_int(b, "joined_at", v->joined_at);
          put_opt_int(b, "left_at", v->left_at);
          json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
      }
      json_builder_end_array(b);
      json_builder_end_object(b);
      reply(msg, SOUP_STATUS_OK, finish(b));
    }
    for (guint r = 0; r < rows->len; r++)
      g_ptr_array_unref(g_array_index(rows, attendance_row, r).stays);
    g_array_unref(rows);
    g_ptr_array_unref(points);
  }
  g_ptr_array_unref(stays);
  g_ptr_array_unref(invs);
  dc_meeting_free(m);
}

/* GET /api/meetings/ID/minutes[?format=html]: the minutes draft (signaling/minutes.h). */
static void api_minutes(dc_server *srv, SoupServerMessage *msg, GHashTable *query, int64_t id) {
  const char *format = query ? g_hash_table_lookup(query, "format") : NULL;
  bool html = format && !strcmp(format, "html");
  if (format && !html && strcmp(format, "json"))
    return reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", "format must be json or html");
  GError *err = NULL;
  char *text = html ? dc_minutes_html(srv->store, id, srv->tz, &err) : dc_minutes_json(srv->store, id, srv->tz, &err);
  if (!text)
    return reply_store_error(msg, err);
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
  soup_server_message_set_response(msg, html ? "text/html; charset=utf-8" : "application/json", SOUP_MEMORY_TAKE, text,
                                   strlen(text));
}

/* ---- keys, audit, backup (admin) ---- */

static void api_keys(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, bool post) {
  if (!allowed(msg, k, NEED_ADMIN))
    return;
  GError *err = NULL;
  if (!post) {
    GPtrArray *all = dc_store_list_api_keys(srv->store, &err);
    if (!all)
      return reply_store_error(msg, err);
    reply(msg, SOUP_STATUS_OK, array_of(all, (JsonNode * (*)(gconstpointer)) key_json));
    g_ptr_array_unref(all);
    return;
  }
  JsonParser *parser = NULL;
  JsonObject *o = body_object(msg, &parser);
  const char *name, *role;
  if (o && want_string(msg, o, "name", true, &name) && want_string(msg, o, "role", true, &role)) {
    int64_t id = 0;
    char *key = dc_store_new_api_key(srv->store, name, role, &id, &err);
    dc_api_key *made = key ? dc_store_get_api_key(srv->store, id) : NULL;
    if (made) {
      JsonNode *n = key_json(made);
      json_object_set_string_member(json_node_get_object(n), "key", key); /* shown once */
      reply(msg, SOUP_STATUS_CREATED, n);
      audit(srv, k, "key.create", "%s (%s) #%" G_GINT64_FORMAT, made->name, made->role, made->id);
    } else if (err) {
      reply_store_error(msg, err);
    } else {
      reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "the key was made but cannot be read back");
    }
    if (key)
      memset(key, 0, strlen(key));
    g_free(key);
    dc_api_key_free(made);
  }
  g_clear_object(&parser);
}

static void api_revoke_key(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id) {
  if (!allowed(msg, k, NEED_ADMIN))
    return;
  GError *err = NULL;
  if (!dc_store_revoke_api_key(srv->store, id, now_s(), &err))
    return reply_store_error(msg, err);
  /* its console sign-ins end with it (authenticate asks the store each time) */
  audit(srv, k, "key.revoke", "#%" G_GINT64_FORMAT, id);
  reply_done(msg, "revoked_key", id, 0);
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
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  int64_t limit = 200;
  if (!query_int(msg, query, "limit", &limit))
    return;
  GError *err = NULL;
  GPtrArray *all = dc_store_list_audit(srv->store, (int)CLAMP(limit, 1, 10000), &err);
  if (!all)
    return reply_store_error(msg, err);
  reply(msg, SOUP_STATUS_OK, array_of(all, (JsonNode * (*)(gconstpointer)) audit_json));
  g_ptr_array_unref(all);
}

/* GET /api/backup: SQLite's online backup of the store, as the file itself. */
static void api_backup(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k) {
  if (!allowed(msg, k, NEED_ADMIN))
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
    audit(srv, k, "store.backup", "%zu bytes", (size_t)len);
  } else {
    g_warning("backup: %s", err ? err->message : "failed");
    reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "the backup failed; see the bridge log");
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
  reply(msg, SOUP_STATUS_OK, finish(b));
}

/* GET /api/meetings/ID/events: the meeting's log, to the millisecond: joins and leaves, who
 * the mixer heard speak, mutes, the chair's actions, recordings. The minutes are made from it. */
static void api_events(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  GPtrArray *events = m ? dc_store_list_events(srv->store, id, &err) : NULL;
  dc_meeting_free(m);
  if (!events)
    return reply_store_error(msg, err);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; i < events->len; i++) {
    dc_meeting_event *e = events->pdata[i];
    json_builder_begin_object(b);
    put_int(b, "at_ms", e->at_ms);
    put_str(b, "kind", e->kind);
    put_str(b, "point", e->point);
    put_str(b, "name", e->name);
    put_str(b, "detail", e->detail);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  reply(msg, SOUP_STATUS_OK, finish(b));
  g_ptr_array_unref(events);
}

/* ---- recordings ---- */

static void api_recordings(dc_server *srv, SoupServerMessage *msg, int64_t id);

/* POST /api/meetings/ID/recording {"recording": true|false}: start or stop it. */
static void api_record(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id) {
  if (!allowed(msg, k, NEED_OPERATOR))
    return;
  JsonParser *parser = NULL;
  JsonObject *o = body_object(msg, &parser);
  int on = 0;
  bool ok = o && want_bool(msg, o, "recording", true, &on);
  g_clear_object(&parser);
  if (!ok)
    return;
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  if (!m)
    return reply_store_error(msg, err);
  bool open = dc_meeting_joinable(m, now_s());
  dc_meeting_free(m);
  if (on && !open) {
    reply_error(msg, SOUP_STATUS_CONFLICT, "meeting-not-open", "only a meeting that is open can be recorded");
    return;
  }
  char *by = g_strdup_printf("key %s", k->name);
  if (!dc_recording_set(srv, id, on, by, &err)) {
    bool conflict = err->domain == G_FILE_ERROR && (err->code == G_FILE_ERROR_EXIST || err->code == G_FILE_ERROR_NOENT);
    if (!conflict)
      g_warning("meeting %" G_GINT64_FORMAT ": recording: %s", id, err->message);
    reply_error(msg, conflict ? SOUP_STATUS_CONFLICT : SOUP_STATUS_INTERNAL_SERVER_ERROR,
                conflict ? (on ? "recording-already" : "not-recording") : "recording-failed", err->message);
    g_error_free(err);
  } else {
    audit(srv, k, on ? "meeting.record" : "meeting.record_stop", "#%" G_GINT64_FORMAT, id);
    api_recordings(srv, msg, id);
  }
  g_free(by);
}

/* GET /api/meetings/ID/recordings: whether it records now, why the last one stopped by
 * itself, and its files. */
static void api_recordings(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  if (!m)
    return reply_store_error(msg, err);
  dc_meeting_free(m);
  dc_roster_meeting state = {0};
  dc_recording_fill_roster(srv, id, &state);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "meeting_id", id);
  put_bool(b, "recording", state.recording);
  if (state.recording_error)
    put_str(b, "error", state.recording_error);
  json_builder_set_member_name(b, "files");
  json_builder_begin_array(b);
  GPtrArray *names = dc_recording_list(srv, id);
  char *dir = dc_recording_dir(srv, id);
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    char *path = g_build_filename(dir, name, NULL);
    GStatBuf st;
    if (g_stat(path, &st) == 0) {
      json_builder_begin_object(b);
      put_str(b, "name", name);
      put_str(b, "kind", g_str_has_suffix(name, ".opus") ? "audio" : "video");
      put_str(b, "content_type", g_str_has_suffix(name, ".opus") ? "audio/ogg" : "video/webm");
      put_int(b, "bytes", (int64_t)st.st_size);
      put_int(b, "modified_at", (int64_t)st.st_mtime);
      int64_t started = dc_recording_started_at_ms(srv, id, name);
      if (started)
        put_int(b, "started_at_ms", started);
      char *url = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/recordings/%s", id, name);
      put_str(b, "url", url);
      g_free(url);
      json_builder_end_object(b);
    }
    g_free(path);
  }
  g_free(dir);
  g_ptr_array_unref(names);
  json_builder_end_array(b);
  json_builder_end_object(b);
  reply(msg, SOUP_STATUS_OK, finish(b));
}

/* GET /api/meetings/ID/recordings/NAME: the file, mapped rather than read (hours of video). */
static void api_recording_file(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id,
                               const char *name) {
  if (!dc_recording_name_ok(name)) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such recording");
    return;
  }
  char *dir = dc_recording_dir(srv, id), *path = g_build_filename(dir, name, NULL);
  GMappedFile *f = g_mapped_file_new(path, FALSE, NULL);
  if (!f) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such recording");
  } else {
    GBytes *bytes = g_mapped_file_get_bytes(f);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    char *disposition = g_strdup_printf("attachment; filename=\"meeting-%" G_GINT64_FORMAT "-%s\"", id, name);
    soup_message_headers_replace(h, "Content-Disposition", disposition);
    soup_message_headers_replace(h, "Cache-Control", "no-store");
    soup_message_headers_set_content_type(h, g_str_has_suffix(name, ".opus") ? "audio/ogg" : "video/webm", NULL);
    soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
    if (g_bytes_get_size(bytes)) /* a recording nothing reached is an empty file */
      soup_message_body_append_bytes(soup_server_message_get_response_body(msg), bytes);
    g_bytes_unref(bytes);
    g_mapped_file_unref(f);
    g_free(disposition);
    audit(srv, k, "recording.download", "#%" G_GINT64_FORMAT " %s", id, name);
  }
  g_free(path);
  g_free(dir);
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
    json_builder_add_value(b, meeting_json(m));
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
    reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "invalid-device-key",
                "this device key is not one the bridge issued, or it was replaced");
    return;
  }
  GError *err = NULL;
  int64_t now = now_s();
  int64_t open = dc_store_point_invitation(srv->store, point_id, now, DC_MEETING_GRACE_S, true, &err);
  int64_t next = open < 0 ? -1 : dc_store_point_invitation(srv->store, point_id, now, DC_MEETING_GRACE_S, false, &err);
  if (open < 0 || next < 0) {
    dc_point_free(point);
    return reply_store_error(msg, err);
  }
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "point");
  json_builder_add_value(b, point_json(point));
  put_int(b, "now", now);
  add_device_meeting(srv, b, "meeting", open, true);
  add_device_meeting(srv, b, "next", next, false);
  json_builder_end_object(b);
  reply(msg, SOUP_STATUS_OK, finish(b));
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
      reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed", "that method is not allowed here");
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
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such API path");
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
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such API path");
  else if (!method_ok)
    reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed", "that method is not allowed here");
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
    reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed", "that method is not allowed here");
    return;
  }
  if (!dc_server_origin_allowed(msg)) {
    reply_error(msg, SOUP_STATUS_FORBIDDEN, "forbidden", "sign in from this bridge's own console page");
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
    reply_done(msg, "signed_out", 1, 0);
    return;
  }
  if (strcmp(path, "/console/login")) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such path");
    return;
  }
  JsonParser *parser = NULL;
  JsonObject *o = body_object(msg, &parser);
  const char *key;
  const char *address = soup_server_message_get_remote_host(msg);
  int64_t now_ms = g_get_monotonic_time() / 1000;
  if (o && !dc_attempts_allowed(srv->bad_keys, address, now_ms)) {
    too_many(msg);
  } else if (o && want_string(msg, o, "key", true, &key)) {
    dc_api_key *k = dc_store_check_api_key(srv->store, g_strstrip((char *)key));
    if (!k) {
      key_refused(srv, address, now_ms);
      g_message("console: a sign-in with a key that is not in force was refused");
      reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized", "this operator key is not one in force");
    } else {
      char *token = random_token();
      char *hash = token ? hash_hex(token) : NULL;
      if (!token) {
        reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "no random bytes for a session");
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
    reply_error(msg, SOUP_STATUS_FORBIDDEN, "forbidden",
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
