/* server.c — page, signaling WebSocket and operator API; see server.h. */
#include "signaling/server.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signaling/protocol.h"
#include "signaling/token.h"

#define MAX_BAD_FRAMES 5          /* refused frames in a row before we hang up */
#define MAX_WS_PAYLOAD (256 * 1024) /* libsoup closes above this; we answer too-large below */
#define MAX_API_BODY 65536
/* Meetings overrun their schedule: joins stay open this long after ends_at (the default
 * invitation expiry is the same hour) unless an operator ends the meeting. */
#define DC_MEETING_OVERRUN_S 3600

struct dc_server {
  SoupServer *soup;
  dc_store *store;
  dc_bridge *bridge;
  char *web_dir;
  char *base_url;
  GList *sessions; /* session* */
  GHashTable *speakers; /* meeting -> its current dominant speaker, for newcomers */
  int64_t next_participant;
  bool shutting_down;
};

typedef struct {
  dc_server *server;
  SoupWebsocketConnection *conn;
  dc_participant *participant;
  int64_t id, meeting, invitation;
  char *name, *point, *role;
  bool muted;
  bool connected; /* its media is up */
  int bad;
} session;

/* ---- WebSocket sessions ---- */

static void send_text(session *s, char *text) {
  if (soup_websocket_connection_get_state(s->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(s->conn, text);
  g_free(text);
}

static void send_error(session *s, const char *code, const char *message) {
  send_text(s, dc_protocol_error(code, message));
}

static void broadcast_roster(dc_server *srv, int64_t meeting) {
  if (srv->shutting_down) /* everyone is told the bridge stops; a roster per leave is N^2 */
    return;
  GArray *entries = g_array_new(FALSE, TRUE, sizeof(dc_roster_entry));
  for (GList *l = g_list_last(srv->sessions); l; l = l->prev) { /* oldest first */
    session *s = l->data;
    if (s->participant && s->meeting == meeting) {
      dc_roster_entry e = {s->id, s->name, s->point, s->role, s->muted, s->connected};
      g_array_append_val(entries, e);
    }
  }
  char *text = dc_protocol_roster((dc_roster_entry *)entries->data, entries->len);
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (s->participant && s->meeting == meeting)
      send_text(s, g_strdup(text));
  }
  g_free(text);
  g_array_unref(entries);
}

void dc_server_speaker_changed(gpointer server, int64_t meeting, int64_t participant) {
  dc_server *srv = server;
  g_hash_table_insert(srv->speakers, g_memdup2(&meeting, sizeof meeting),
                      g_memdup2(&participant, sizeof participant));
  char *text = dc_protocol_speaker(participant);
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (s->participant && s->meeting == meeting)
      send_text(s, g_strdup(text));
  }
  g_free(text);
}

static void on_participant_candidate(gpointer user, const char *candidate) {
  session *s = user;
  send_text(s, dc_protocol_candidate(candidate, NULL));
}

static void on_participant_slots(gpointer user, const int64_t *sources, int n) {
  session *s = user;
  send_text(s, dc_protocol_slots(sources, n));
}

static void on_participant_state(gpointer user, dc_transport_state state, const char *reason) {
  session *s = user;
  static const char *const names[] = {"new", "connected", "failed", "closed"};
  g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": media %s%s%s",
            s->meeting, s->id, names[state], reason ? ": " : "", reason ? reason : "");
  if (state == DC_TRANSPORT_FAILED) /* the offer was fine: the network path is not */
    send_error(s, DC_ERR_CODE_MEDIA_FAILED, reason ? reason : "the media connection failed");
  bool connected = state == DC_TRANSPORT_CONNECTED;
  if (connected != s->connected && state != DC_TRANSPORT_NEW) {
    s->connected = connected;
    broadcast_roster(s->server, s->meeting);
  }
}

static void leave(session *s) {
  if (!s->participant)
    return;
  dc_participant_leave(s->participant);
  s->participant = NULL;
  g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT " (%s) left", s->meeting,
            s->id, s->point);
  broadcast_roster(s->server, s->meeting);
}

/* Operator actions on people already in a meeting: each session that matches is told why,
 * leaves the room and is hung up. Returns how many. */
static int remove_sessions(dc_server *srv, int64_t meeting, int64_t invitation, const char *code,
                           const char *why) {
  int n = 0;
  GList *matched = NULL;
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (s->participant && s->meeting == meeting && (!invitation || s->invitation == invitation))
      matched = g_list_prepend(matched, s);
  }
  for (GList *l = matched; l; l = l->next, n++) {
    session *s = l->data;
    send_error(s, code, why);
    leave(s);
    soup_websocket_connection_close(s->conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, why);
  }
  g_list_free(matched);
  return n;
}

static void handle_join(session *s, const dc_client_msg *m) {
  dc_server *srv = s->server;
  if (s->participant) {
    send_error(s, DC_ERR_CODE_ALREADY_JOINED, "this connection has already joined a meeting");
    return;
  }
  GError *err = NULL;
  dc_token_claims c;
  if (!dc_token_verify(dc_store_secret(srv->store), m->token, g_get_real_time() / G_USEC_PER_SEC,
                       &c, &err)) {
    send_error(s, err->code == DC_TOKEN_ERROR_EXPIRED ? DC_ERR_CODE_EXPIRED_TOKEN
                                                       : DC_ERR_CODE_INVALID_TOKEN,
               err->message);
    g_error_free(err);
    return;
  }
  dc_invitation *inv = dc_store_get_invitation(srv->store, c.invitation_id, NULL);
  dc_meeting *meeting = dc_store_get_meeting(srv->store, m->meeting, NULL);
  dc_point *point = inv ? dc_store_get_point(srv->store, inv->point_id, NULL) : NULL;
  int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  /* The token's own claims are checked above; the store has the last word on all of them
   * (a token re-signed with the secret cannot outlive its invitation or its meeting). */
  if (!inv || c.meeting_id != m->meeting || inv->meeting_id != m->meeting || !point ||
      inv->point_id != c.point_id || strcmp(inv->role, c.role))
    send_error(s, DC_ERR_CODE_INVALID_TOKEN, "the invitation link is not valid for this meeting");
  else if (inv->revoked)
    send_error(s, DC_ERR_CODE_REVOKED, "this invitation link was withdrawn by the operator");
  else if (now > inv->expires_at)
    send_error(s, DC_ERR_CODE_EXPIRED_TOKEN, "this invitation link has expired");
  else if (!meeting)
    send_error(s, DC_ERR_CODE_UNKNOWN_MEETING, "there is no such meeting");
  else if (!strcmp(meeting->state, "ended") || now > meeting->ends_at + DC_MEETING_OVERRUN_S)
    send_error(s, DC_ERR_CODE_MEETING_ENDED, "this meeting has ended");
  else {
    s->id = ++srv->next_participant;
    s->invitation = inv->id;
    s->meeting = m->meeting;
    s->name = g_strdup(m->name);
    s->point = g_strdup(point->name);
    s->role = g_strdup(inv->role);
    dc_participant_events ev = {.candidate = on_participant_candidate, .state = on_participant_state,
                                .slots = on_participant_slots};
    s->participant = dc_room_join(dc_bridge_room(srv->bridge, m->meeting), s->id, s->name, m->profile, &ev, s);
    g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT " joined: %s at %s (%s)",
              s->meeting, s->id, s->name, s->point, s->role);
    send_text(s, dc_protocol_joined(s->id, s->point, s->role));
    broadcast_roster(srv, s->meeting);
    const int64_t *speaker = g_hash_table_lookup(srv->speakers, &s->meeting);
    if (speaker && *speaker)
      send_text(s, dc_protocol_speaker(*speaker));
  }
  dc_point_free(point);
  dc_meeting_free(meeting);
  dc_invitation_free(inv);
}

static void handle(session *s, const dc_client_msg *m) {
  if (m->type == DC_MSG_JOIN) {
    handle_join(s, m);
    return;
  }
  if (!s->participant) {
    send_error(s, DC_ERR_CODE_NOT_JOINED, "send join first");
    return;
  }
  GError *err = NULL;
  switch (m->type) {
  case DC_MSG_OFFER: {
    char *answer = dc_participant_offer(s->participant, m->sdp, &err);
    if (!answer) {
      g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": offer refused: %s",
                s->meeting, s->id, err->message);
      send_error(s, DC_ERR_CODE_BAD_OFFER, err->message);
      g_error_free(err);
      return;
    }
    send_text(s, dc_protocol_answer(answer));
    g_free(answer);
    return;
  }
  case DC_MSG_CANDIDATE: dc_participant_add_candidate(s->participant, m->candidate); return;
  case DC_MSG_MUTE:
    s->muted = m->audio_muted;
    dc_participant_set_muted(s->participant, m->audio_muted);
    broadcast_roster(s->server, s->meeting);
    return;
  case DC_MSG_PIN:
  case DC_MSG_UNPIN:
    if (strcmp(s->role, "host")) {
      send_error(s, DC_ERR_CODE_NOT_ALLOWED, "only the meeting's host can pin a point");
      return;
    }
    if (!dc_room_pin(dc_bridge_room(s->server->bridge, s->meeting), m->type == DC_MSG_PIN ? m->participant : 0)) {
      send_error(s, DC_ERR_CODE_UNKNOWN_PARTICIPANT, "no such participant in this meeting");
      return;
    }
    g_message("meeting %" G_GINT64_FORMAT ": host %" G_GINT64_FORMAT " %s %" G_GINT64_FORMAT, s->meeting,
              s->id, m->type == DC_MSG_PIN ? "pinned" : "unpinned", m->participant);
    return;
  case DC_MSG_LEAVE:
    leave(s);
    soup_websocket_connection_close(s->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, "left");
    return;
  case DC_MSG_JOIN: return;
  }
}

static void on_ws_message(SoupWebsocketConnection *conn, gint type, GBytes *message, gpointer user) {
  session *s = user;
  gsize len;
  const char *data = g_bytes_get_data(message, &len);
  dc_client_msg m;
  const char *code;
  char *text = NULL;
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    code = DC_ERR_CODE_BAD_MESSAGE;
    text = g_strdup("send text frames, not binary");
  } else if (dc_protocol_parse(data ? data : "", len, &m, &code, &text)) {
    s->bad = 0;
    handle(s, &m);
    dc_client_msg_clear(&m);
    return;
  }
  send_error(s, code, text);
  g_free(text);
  if (++s->bad >= MAX_BAD_FRAMES) {
    g_message("closing a signaling connection after %d refused messages in a row", s->bad);
    soup_websocket_connection_close(conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many bad messages");
  }
}

static void on_ws_closed(SoupWebsocketConnection *conn, gpointer user) {
  session *s = user;
  dc_server *srv = s->server;
  srv->sessions = g_list_remove(srv->sessions, s);
  leave(s);
  g_signal_handlers_disconnect_by_data(conn, s);
  g_object_unref(conn);
  g_free(s->name);
  g_free(s->point);
  g_free(s->role);
  g_free(s);
}

/* A browser names the page that opened the socket in Origin; ours is served by this same
 * server, so its host and port are the ones the request was sent to (Host). Anything else
 * is another site's page trying to use the visitor's browser. Clients that are not
 * browsers send no Origin; they need a token like everyone. */
static bool origin_allowed(SoupServerMessage *msg) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  const char *origin = soup_message_headers_get_one(h, "Origin");
  const char *host = soup_message_headers_get_one(h, "Host");
  if (!origin)
    return true;
  GUri *uri = g_uri_parse(origin, G_URI_FLAGS_NONE, NULL);
  bool ok = false;
  if (uri && host && g_uri_get_host(uri)) {
    const char *scheme = g_uri_get_scheme(uri);
    int port = g_uri_get_port(uri);
    if (port < 0)
      port = scheme && !g_ascii_strcasecmp(scheme, "https") ? 443 : 80;
    const char *h_host = host, *colon = strrchr(host, ':'), *bracket = strrchr(host, ']');
    int h_port = port;
    size_t h_len = strlen(host);
    if (colon && (!bracket || colon > bracket)) {
      h_port = atoi(colon + 1);
      h_len = (size_t)(colon - host);
    }
    const char *u_host = g_uri_get_host(uri);
    /* GUri gives an IPv6 literal without brackets; Host keeps them */
    if (h_len >= 2 && h_host[0] == '[') {
      h_host++;
      h_len -= 2;
    }
    ok = strlen(u_host) == h_len && !g_ascii_strncasecmp(u_host, h_host, h_len) && port == h_port;
  }
  if (uri)
    g_uri_unref(uri);
  return ok;
}

static void on_ws(SoupServer *soup, SoupServerMessage *msg, const char *path,
                  SoupWebsocketConnection *conn, gpointer user) {
  dc_server *srv = user;
  if (!origin_allowed(msg)) {
    g_message("refused a signaling connection from a page of another origin");
    soup_websocket_connection_close(conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                    "this bridge serves its own meeting page only");
    return;
  }
  session *s = g_new0(session, 1);
  s->server = srv;
  s->conn = g_object_ref(conn);
  soup_websocket_connection_set_max_incoming_payload_size(conn, MAX_WS_PAYLOAD);
  soup_websocket_connection_set_keepalive_interval(conn, 20);
  g_signal_connect(conn, "message", G_CALLBACK(on_ws_message), s);
  g_signal_connect(conn, "closed", G_CALLBACK(on_ws_closed), s);
  srv->sessions = g_list_prepend(srv->sessions, s);
  if (srv->shutting_down)
    soup_websocket_connection_close(conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "the bridge is stopping");
}

/* ---- the page ---- */

static void on_static(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                      gpointer user) {
  dc_server *srv = user;
  static const struct {
    const char *url, *file, *type;
  } files[] = {{"/", "index.html", "text/html; charset=utf-8"},
               {"/join", "index.html", "text/html; charset=utf-8"},
               {"/app.js", "app.js", "text/javascript; charset=utf-8"},
               {"/style.css", "style.css", "text/css; charset=utf-8"}};
  const char *method = soup_server_message_get_method(msg);
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    soup_server_message_set_status(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
    return;
  }
  if (!strcmp(path, "/favicon.ico")) { /* none: say so without an error in the console */
    soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, NULL);
    return;
  }
  for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
    if (strcmp(path, files[i].url))
      continue;
    char *file = g_build_filename(srv->web_dir, files[i].file, NULL);
    char *body;
    gsize len;
    if (g_file_get_contents(file, &body, &len, NULL)) {
      soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
      soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-cache");
      soup_server_message_set_response(msg, files[i].type, SOUP_MEMORY_TAKE, body, len);
    } else {
      g_warning("cannot read %s: is the web directory right?", file);
      soup_server_message_set_status(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL);
    }
    g_free(file);
    return;
  }
  soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
}

/* ---- operator API ---- */

static void api_reply(SoupServerMessage *msg, guint status, JsonNode *node) {
  char *text = json_to_string(node, FALSE);
  json_node_unref(node);
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, text, strlen(text));
}

static void api_error(SoupServerMessage *msg, guint status, const char *code, const char *message) {
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

static void api_store_error(SoupServerMessage *msg, GError *err) {
  if (err->domain == DC_STORE_ERROR && err->code == DC_STORE_ERROR_INVALID)
    api_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", err->message);
  else if (err->domain == DC_STORE_ERROR && err->code == DC_STORE_ERROR_NOT_FOUND)
    api_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", err->message);
  else {
    g_warning("operator API: %s", err->message);
    api_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "the store failed; see the bridge log");
  }
  g_error_free(err);
}

/* The request body as a JSON object, or NULL after replying 4xx. */
static JsonObject *api_body(SoupServerMessage *msg, JsonParser **parser) {
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  if (body->length > MAX_API_BODY) {
    api_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too-large", "the body is over 64 KiB");
    return NULL;
  }
  *parser = json_parser_new();
  if (!body->data || !json_parser_load_from_data(*parser, body->data, (gssize)body->length, NULL) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(*parser))) {
    api_error(msg, SOUP_STATUS_BAD_REQUEST, "bad-json", "the body must be a JSON object");
    return NULL;
  }
  return json_node_get_object(json_parser_get_root(*parser));
}

/* Typed members: false after replying 400 with what is wrong. */
static bool want_string(SoupServerMessage *msg, JsonObject *o, const char *name, const char **out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
    char *text = g_strdup_printf("\"%s\" must be a string", name);
    api_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", text);
    g_free(text);
    return false;
  }
  *out = json_node_get_string(n);
  return true;
}

static bool want_int(SoupServerMessage *msg, JsonObject *o, const char *name, bool required, int64_t *out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n && !required)
    return true;
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64) {
    char *text = g_strdup_printf("\"%s\" must be a whole number", name);
    api_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", text);
    g_free(text);
    return false;
  }
  *out = json_node_get_int(n);
  return true;
}

static JsonNode *meeting_json(const dc_meeting *m) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "id");
  json_builder_add_int_value(b, m->id);
  json_builder_set_member_name(b, "title");
  json_builder_add_string_value(b, m->title);
  json_builder_set_member_name(b, "starts_at");
  json_builder_add_int_value(b, m->starts_at);
  json_builder_set_member_name(b, "ends_at");
  json_builder_add_int_value(b, m->ends_at);
  json_builder_set_member_name(b, "state");
  json_builder_add_string_value(b, m->state);
  json_builder_set_member_name(b, "host_point_id");
  json_builder_add_int_value(b, m->host_point_id);
  json_builder_end_object(b);
  JsonNode *n = json_builder_get_root(b);
  g_object_unref(b);
  return n;
}

static JsonNode *point_json(const dc_point *p) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "id");
  json_builder_add_int_value(b, p->id);
  json_builder_set_member_name(b, "name");
  json_builder_add_string_value(b, p->name);
  json_builder_set_member_name(b, "kind");
  json_builder_add_string_value(b, p->kind);
  json_builder_set_member_name(b, "link_profile");
  json_builder_add_string_value(b, p->link_profile);
  json_builder_end_object(b);
  JsonNode *n = json_builder_get_root(b);
  g_object_unref(b);
  return n;
}

static JsonNode *array_of(GPtrArray *items, JsonNode *(*to_json)(gconstpointer)) {
  JsonArray *a = json_array_new();
  for (guint i = 0; i < items->len; i++)
    json_array_add_element(a, to_json(g_ptr_array_index(items, i)));
  JsonNode *n = json_node_new(JSON_NODE_ARRAY);
  json_node_take_array(n, a);
  return n;
}

static void api_points(dc_server *srv, SoupServerMessage *msg, bool post) {
  GError *err = NULL;
  if (!post) {
    GPtrArray *all = dc_store_list_points(srv->store, &err);
    if (!all)
      return api_store_error(msg, err);
    api_reply(msg, SOUP_STATUS_OK, array_of(all, (JsonNode * (*)(gconstpointer)) point_json));
    g_ptr_array_unref(all);
    return;
  }
  JsonParser *parser = NULL;
  JsonObject *o = api_body(msg, &parser);
  const char *name, *kind, *profile;
  if (o && want_string(msg, o, "name", &name) && want_string(msg, o, "kind", &kind) &&
      want_string(msg, o, "link_profile", &profile)) {
    int64_t id = dc_store_add_point(srv->store, name, kind, profile, &err);
    dc_point *p = id ? dc_store_get_point(srv->store, id, &err) : NULL;
    if (p)
      api_reply(msg, SOUP_STATUS_CREATED, point_json(p));
    else
      api_store_error(msg, err);
    dc_point_free(p);
  }
  g_clear_object(&parser);
}

static void api_meetings(dc_server *srv, SoupServerMessage *msg, bool post) {
  GError *err = NULL;
  if (!post) {
    GPtrArray *all = dc_store_list_meetings(srv->store, &err);
    if (!all)
      return api_store_error(msg, err);
    api_reply(msg, SOUP_STATUS_OK, array_of(all, (JsonNode * (*)(gconstpointer)) meeting_json));
    g_ptr_array_unref(all);
    return;
  }
  JsonParser *parser = NULL;
  JsonObject *o = api_body(msg, &parser);
  const char *title;
  int64_t starts, ends, host = 0;
  if (o && want_string(msg, o, "title", &title) && want_int(msg, o, "starts_at", true, &starts) &&
      want_int(msg, o, "ends_at", true, &ends) && want_int(msg, o, "host_point_id", false, &host)) {
    int64_t id = dc_store_create_meeting(srv->store, title, starts, ends, host, &err);
    dc_meeting *m = id ? dc_store_get_meeting(srv->store, id, &err) : NULL;
    if (m)
      api_reply(msg, SOUP_STATUS_CREATED, meeting_json(m));
    else
      api_store_error(msg, err);
    dc_meeting_free(m);
  }
  g_clear_object(&parser);
}

/* The signed token for an invitation: what its join link carries. */
static char *invitation_token(dc_server *srv, const dc_invitation *inv) {
  dc_token_claims c = {.invitation_id = inv->id, .meeting_id = inv->meeting_id, .point_id = inv->point_id,
                       .expires_at = inv->expires_at};
  g_strlcpy(c.role, inv->role, sizeof c.role);
  return dc_token_sign(dc_store_secret(srv->store), &c);
}

static void api_invite(dc_server *srv, SoupServerMessage *msg, int64_t meeting_id) {
  GError *err = NULL;
  JsonParser *parser = NULL;
  JsonObject *o = api_body(msg, &parser);
  const char *role = "participant";
  int64_t point = 0, expires = 0;
  if (!o || !want_int(msg, o, "point_id", true, &point) ||
      !want_int(msg, o, "expires_at", false, &expires) ||
      (json_object_has_member(o, "role") && !want_string(msg, o, "role", &role))) {
    g_clear_object(&parser);
    return;
  }
  dc_meeting *m = dc_store_get_meeting(srv->store, meeting_id, &err);
  if (!m) {
    g_clear_object(&parser);
    return api_store_error(msg, err);
  }
  if (!expires)
    expires = m->ends_at + 3600; /* default: an hour after the scheduled end */
  int64_t id = dc_store_create_invitation(srv->store, meeting_id, point, role, expires, &err);
  if (!id) {
    dc_meeting_free(m);
    g_clear_object(&parser);
    return api_store_error(msg, err);
  }
  dc_invitation inv = {.id = id, .meeting_id = meeting_id, .point_id = point, .role = (char *)role,
                       .expires_at = expires};
  char *token = invitation_token(srv, &inv);
  dc_point *pt = dc_store_get_point(srv->store, point, NULL);
  char *link = dc_server_join_link(srv, meeting_id, token, pt ? pt->link_profile : NULL);
  dc_point_free(pt);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "id");
  json_builder_add_int_value(b, id);
  json_builder_set_member_name(b, "meeting_id");
  json_builder_add_int_value(b, meeting_id);
  json_builder_set_member_name(b, "point_id");
  json_builder_add_int_value(b, point);
  json_builder_set_member_name(b, "role");
  json_builder_add_string_value(b, role);
  json_builder_set_member_name(b, "expires_at");
  json_builder_add_int_value(b, expires);
  json_builder_set_member_name(b, "token");
  json_builder_add_string_value(b, token);
  json_builder_set_member_name(b, "join_link");
  json_builder_add_string_value(b, link);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_CREATED, json_builder_get_root(b));
  g_object_unref(b);
  g_free(link);
  g_free(token);
  dc_meeting_free(m);
  g_clear_object(&parser);
}

static void api_done(SoupServerMessage *msg, const char *what, int64_t id, int removed) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, what);
  json_builder_add_int_value(b, id);
  json_builder_set_member_name(b, "disconnected");
  json_builder_add_int_value(b, removed);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_OK, json_builder_get_root(b));
  g_object_unref(b);
}

/* POST /api/invitations/ID/revoke: no join with it from now on, and whoever is in the meeting
 * with it is put out at once. */
static void api_revoke(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_invitation *inv = dc_store_get_invitation(srv->store, id, &err);
  if (!inv || !dc_store_revoke_invitation(srv->store, id, &err)) {
    dc_invitation_free(inv);
    return api_store_error(msg, err);
  }
  int removed = remove_sessions(srv, inv->meeting_id, id, DC_ERR_CODE_REVOKED,
                                "the operator withdrew this invitation link");
  g_message("operator: invitation %" G_GINT64_FORMAT " of meeting %" G_GINT64_FORMAT
            " revoked; %d participant(s) disconnected", id, inv->meeting_id, removed);
  api_done(msg, "revoked_invitation", id, removed);
  dc_invitation_free(inv);
}

/* POST /api/meetings/ID/end: the meeting is over for everyone, now. */
static void api_end(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  if (!dc_store_set_meeting_state(srv->store, id, "ended", &err))
    return api_store_error(msg, err);
  int removed = remove_sessions(srv, id, 0, DC_ERR_CODE_MEETING_ENDED, "the operator ended this meeting");
  g_message("operator: meeting %" G_GINT64_FORMAT " ended; %d participant(s) disconnected", id, removed);
  api_done(msg, "ended_meeting", id, removed);
}

/* POST /api/points/ID/device-key (operator): a new key for the point's unattended endpoint,
 * shown once; it replaces the point's old one. */
static void api_device_key(dc_server *srv, SoupServerMessage *msg, int64_t point_id) {
  GError *err = NULL;
  char *key = dc_store_new_device_key(srv->store, point_id, &err);
  if (!key)
    return api_store_error(msg, err);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "point_id");
  json_builder_add_int_value(b, point_id);
  json_builder_set_member_name(b, "device_key");
  json_builder_add_string_value(b, key);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_CREATED, json_builder_get_root(b));
  g_object_unref(b);
  memset(key, 0, strlen(key));
  g_free(key);
  g_message("operator: a new device key for point %" G_GINT64_FORMAT, point_id);
}

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
      json_builder_set_member_name(b, "join_link");
      json_builder_add_string_value(b, link);
      g_free(link);
      g_free(token);
    }
  }
  dc_meeting_free(m);
  if (inv)
    dc_invitation_free(inv);
}

/* GET /api/device/meeting, "Authorization: Device <key>": which meeting the point may join
 * now (with a join link), and the next one. See signaling/PROTOCOL.md, "Device API". */
static void api_device_meeting(dc_server *srv, SoupServerMessage *msg, const char *key) {
  int64_t point_id = dc_store_device_point(srv->store, key);
  dc_point *point = point_id ? dc_store_get_point(srv->store, point_id, NULL) : NULL;
  if (!point) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate", "Device");
    api_error(msg, SOUP_STATUS_UNAUTHORIZED, "invalid-device-key",
              "this device key is not one the bridge issued, or it was replaced");
    return;
  }
  GError *err = NULL;
  int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  int64_t open = dc_store_point_invitation(srv->store, point_id, now, DC_MEETING_OVERRUN_S, true, &err);
  int64_t next = open < 0 ? -1 : dc_store_point_invitation(srv->store, point_id, now, DC_MEETING_OVERRUN_S, false, &err);
  if (open < 0 || next < 0) {
    dc_point_free(point);
    return api_store_error(msg, err);
  }
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "point");
  json_builder_add_value(b, point_json(point));
  json_builder_set_member_name(b, "now");
  json_builder_add_int_value(b, now);
  add_device_meeting(srv, b, "meeting", open, true);
  add_device_meeting(srv, b, "next", next, false);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_OK, json_builder_get_root(b));
  g_object_unref(b);
  dc_point_free(point);
}

static void on_api(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                   gpointer user) {
  dc_server *srv = user;
  const char *auth = soup_message_headers_get_one(soup_server_message_get_request_headers(msg),
                                                  "Authorization");
  if (g_str_has_prefix(path, "/api/device/")) { /* the devices' own API, with their own keys */
    if (strcmp(path, "/api/device/meeting"))
      api_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such API path");
    else if (strcmp(soup_server_message_get_method(msg), "GET"))
      api_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed", "that method is not allowed here");
    else
      api_device_meeting(srv, msg, auth && g_str_has_prefix(auth, "Device ") ? auth + 7 : NULL);
    return;
  }
  if (!auth || !g_str_has_prefix(auth, "Bearer ") || !dc_store_check_api_key(srv->store, auth + 7)) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate", "Bearer");
    api_error(msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized",
              "send the operator key as \"Authorization: Bearer <key>\"");
    return;
  }
  const char *method = soup_server_message_get_method(msg);
  bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
  int64_t id;
  char tail[16];
  if (!strcmp(path, "/api/points") && (get || post))
    api_points(srv, msg, post);
  else if (!strcmp(path, "/api/meetings") && (get || post))
    api_meetings(srv, msg, post);
  else if (sscanf(path, "/api/meetings/%" G_GINT64_FORMAT "/%15s", &id, tail) == 2 &&
           !strcmp(tail, "invitations") && post)
    api_invite(srv, msg, id);
  else if (sscanf(path, "/api/meetings/%" G_GINT64_FORMAT "/%15s", &id, tail) == 2 &&
           !strcmp(tail, "end") && post)
    api_end(srv, msg, id);
  else if (sscanf(path, "/api/invitations/%" G_GINT64_FORMAT "/%15s", &id, tail) == 2 &&
           !strcmp(tail, "revoke") && post)
    api_revoke(srv, msg, id);
  else if (sscanf(path, "/api/points/%" G_GINT64_FORMAT "/%15s", &id, tail) == 2 &&
           !strcmp(tail, "device-key") && post)
    api_device_key(srv, msg, id);
  else if (!strcmp(path, "/api/points") || !strcmp(path, "/api/meetings") ||
           g_str_has_suffix(path, "/invitations") || g_str_has_suffix(path, "/end") ||
           g_str_has_suffix(path, "/revoke") || g_str_has_suffix(path, "/device-key"))
    api_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed", "that method is not allowed here");
  else
    api_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such API path");
}

/* ---- lifecycle ---- */

dc_server *dc_server_new(const dc_server_config *cfg, dc_store *store, dc_bridge *bridge,
                         GError **error) {
  dc_server *srv = g_new0(dc_server, 1);
  srv->store = store;
  srv->bridge = bridge;
  srv->web_dir = g_strdup(cfg->web_dir);
  srv->speakers = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  srv->soup = cfg->certificate ? soup_server_new("tls-certificate", cfg->certificate, NULL)
                               : soup_server_new(NULL, NULL);
  soup_server_add_websocket_handler(srv->soup, "/ws", NULL, NULL, on_ws, srv, NULL);
  soup_server_add_handler(srv->soup, "/api", on_api, srv, NULL);
  soup_server_add_handler(srv->soup, NULL, on_static, srv, NULL);
  GInetAddress *any = g_inet_address_new_from_string(cfg->listen_address ? cfg->listen_address : "0.0.0.0");
  if (!any) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not an IP address: %s", cfg->listen_address);
    dc_server_free(srv);
    return NULL;
  }
  GSocketAddress *addr = g_inet_socket_address_new(any, cfg->port);
  g_object_unref(any);
  bool ok = soup_server_listen(srv->soup, addr, cfg->certificate ? SOUP_SERVER_LISTEN_HTTPS : 0, error);
  g_object_unref(addr);
  if (!ok) {
    g_prefix_error(error, "cannot listen on %s port %u: ", cfg->listen_address ? cfg->listen_address : "0.0.0.0", cfg->port);
    dc_server_free(srv);
    return NULL;
  }
  srv->base_url = cfg->public_base_url
                      ? g_strdup(cfg->public_base_url)
                      : g_strdup_printf("%s://localhost:%u", cfg->certificate ? "https" : "http",
                                        dc_server_port(srv));
  return srv;
}

guint dc_server_port(dc_server *srv) {
  GSList *uris = soup_server_get_uris(srv->soup);
  guint port = uris ? (guint)g_uri_get_port(uris->data) : 0;
  g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
  return port;
}

char *dc_server_join_link(dc_server *srv, int64_t meeting, const char *token, const char *profile) {
  return g_strdup_printf("%s/join?meeting=%" G_GINT64_FORMAT "&token=%s%s%s", srv->base_url, meeting, token,
                         profile ? "&profile=" : "", profile ? profile : "");
}

void dc_server_shutdown(dc_server *srv) {
  srv->shutting_down = true;
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    send_error(s, DC_ERR_CODE_SHUTTING_DOWN, "the bridge is stopping");
    leave(s);
    soup_websocket_connection_close(s->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "the bridge is stopping");
  }
}

void dc_server_free(dc_server *srv) {
  if (!srv)
    return;
  while (srv->sessions) /* connections not yet closed by their peers */
    on_ws_closed(((session *)srv->sessions->data)->conn, srv->sessions->data);
  if (srv->soup) {
    soup_server_disconnect(srv->soup);
    g_object_unref(srv->soup);
  }
  g_hash_table_unref(srv->speakers);
  g_free(srv->web_dir);
  g_free(srv->base_url);
  g_free(srv);
}
