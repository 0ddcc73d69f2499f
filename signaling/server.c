/* server.c — page, signaling WebSocket and operator API; see server.h. The rosters and the
 * ghosts of dropped participants are in server_roster.c (server_private.h). */
#include "signaling/server_private.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "media/error.h"
#include "signaling/page.h"
#include "signaling/protocol.h"
#include "signaling/token.h"

#define MAX_BAD_FRAMES 5          /* refused frames in a row before we hang up */
#define JOIN_WITHIN_S 15          /* a connection that has not joined by then is closed */
#define MAX_UNJOINED_PER_ADDRESS 32 /* connections from one address that have not joined yet */
/* Invalid join links or operator keys from one address: this many at once, then one every
 * ATTEMPT_REFILL_MS (attempts.h). A guesser gets 20 tries a minute; a clerk with a mistyped
 * link is not held up. */
#define ATTEMPT_BURST 20
#define ATTEMPT_REFILL_MS 3000
#define MAX_WS_PAYLOAD (256 * 1024) /* libsoup closes above this; we answer too-large below */

/* ---- WebSocket sessions ---- */


/* Closes a connection unless it is closing already (a session put out twice: its media lost,
 * then the bridge stopping before the peer answered the first close). */
static void close_ws(SoupWebsocketConnection *conn, gushort code, const char *why) {
  if (soup_websocket_connection_get_state(conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close(conn, code, why);
}

void dc_server_send_text(session *s, char *text) {
  if (soup_websocket_connection_get_state(s->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(s->conn, text);
  g_free(text);
}

void dc_server_send_error(session *s, const char *code, const char *message) {
  dc_server_send_text(s, dc_protocol_error(code, message));
}
#define send_error dc_server_send_error
#define broadcast_roster dc_server_broadcast_roster


static void on_participant_candidate(gpointer user, const char *candidate) {
  session *s = user;
  dc_server_send_text(s, dc_protocol_candidate(candidate, NULL));
}

static void on_participant_slots(gpointer user, const int64_t *sources, int n) {
  session *s = user;
  dc_server_send_text(s, dc_protocol_slots(sources, n));
}

static void on_participant_audio_rate(gpointer user, unsigned max_bps) {
  session *s = user;
  dc_server_send_text(s, dc_protocol_audio_rate(max_bps));
}

static void leave_as_ghost(session *s);

static void on_participant_state(gpointer user, dc_transport_state state, const char *reason) {
  session *s = user;
  static const char *const names[] = {"new", "connected", "failed", "closed"};
  g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": media %s%s%s",
            s->meeting, s->id, names[state], reason ? ": " : "", reason ? reason : "");
  if (state == DC_TRANSPORT_FAILED) /* the offer was fine: the network path is not */
    send_error(s, DC_ERR_CODE_MEDIA_FAILED, reason ? reason : "the media connection failed");
  if (state == DC_TRANSPORT_FAILED && s->ever_connected && !s->server->shutting_down) {
    /* Its media had worked and is gone (consent lost): it is freed, and the others see it
     * reconnecting; its page, told, comes back with the same link (a fresh ICE and DTLS). */
    leave_as_ghost(s);
    close_ws(s->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "the media connection was lost");
    return;
  }
  bool connected = state == DC_TRANSPORT_CONNECTED;
  if (connected && !s->ever_connected) {
    s->ever_connected = true;
    dc_metrics_observe_join((uint64_t)(g_get_monotonic_time() - s->join_us) / 1000);
  }
  if (connected != s->connected && state != DC_TRANSPORT_NEW) {
    s->connected = connected;
    broadcast_roster(s->server, s->meeting);
  }
}

static void leave(session *s) {
  if (!s->participant)
    return;
  dc_api_stay_end(s->server, s);
  dc_chair_left(s->server, s);
  dc_participant_leave(s->participant);
  s->participant = NULL;
  s->connected = false;
  g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT " (%s) left", s->meeting,
            s->id, s->point);
  broadcast_roster(s->server, s->meeting);
}

/* Operator actions on people already in a meeting: each session that matches is told why,
 * leaves the room and is hung up. Returns how many. */
int dc_server_remove_sessions(dc_server *srv, int64_t meeting, int64_t invitation, const char *code,
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
    close_ws(s->conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, why);
  }
  g_list_free(matched);
  if (!invitation) /* the meeting is over: so is its recording */
    dc_recording_tick(srv, g_get_real_time() / G_USEC_PER_SEC);
  return n;
}

/* "07:15 (Thứ Hai 07/12)" in the operators' time zone, for people. */
static char *local_hhmm(dc_server *srv, int64_t t) { return dc_time_format(srv->tz, t, "%H:%M %d/%m/%Y"); }

/* An invalid join link from the address: said once when it runs out of tries (never the
 * token: it is a secret, or a guess at one). */
static void invalid_attempt(dc_server *srv, const char *address, int64_t now_ms) {
  if (dc_attempts_failed(srv->bad_tokens, address, now_ms) == 0)
    g_message("signaling: %d invalid join links in a short time from %s; refusing its joins for a while",
              ATTEMPT_BURST, address ? address : "?");
}


/* `joined`, with the ICE servers this participant may use: TURN credentials of its own. */
static void send_joined(dc_server *srv, session *s) {
  dc_ice_server ice[2];
  char *who = g_strdup_printf("m%" G_GINT64_FORMAT "p%" G_GINT64_FORMAT, s->meeting, s->id);
  size_t n = dc_ice_servers_mint((const char *const *)srv->ice_servers, srv->turn_secret, srv->turn_ttl_s, who,
                                 g_get_real_time() / G_USEC_PER_SEC, ice);
  dc_server_send_text(s, dc_protocol_joined(s->id, s->point, s->role, ice, n));
  for (size_t i = 0; i < n; i++)
    dc_ice_server_clear(&ice[i]);
  g_free(who);
}

static void handle_join(session *s, const dc_client_msg *m) {
  dc_server *srv = s->server;
  if (s->participant) {
    send_error(s, DC_ERR_CODE_ALREADY_JOINED, "this connection has already joined a meeting");
    return;
  }
  GError *err = NULL;
  dc_token_claims c;
  int64_t now_ms = g_get_monotonic_time() / 1000;
  if (!dc_attempts_allowed(srv->bad_tokens, s->address, now_ms)) {
    send_error(s, DC_ERR_CODE_TOO_MANY_ATTEMPTS, "too many invalid join links from this address: try again in a minute");
    return;
  }
  /* The MAC and the form only (time 0): the store's expiry has the last word below, because
   * a meeting moved later moves its invitations' expiry and the links already sent must
   * keep working. */
  if (!dc_token_verify(dc_store_secret(srv->store), m->token, 0, &c, &err)) {
    send_error(s, err->code == DC_TOKEN_ERROR_EXPIRED ? DC_ERR_CODE_EXPIRED_TOKEN
                                                       : DC_ERR_CODE_INVALID_TOKEN,
               err->message);
    g_error_free(err);
    invalid_attempt(srv, s->address, now_ms);
    return;
  }
  dc_invitation *inv = dc_store_get_invitation(srv->store, c.invitation_id, NULL);
  dc_meeting *meeting = dc_store_get_meeting(srv->store, m->meeting, NULL);
  dc_point *point = inv ? dc_store_get_point(srv->store, inv->point_id, NULL) : NULL;
  int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  /* The token's own claims are checked above; the store has the last word on all of them
   * (a token re-signed with the secret cannot outlive its invitation or its meeting). */
  if (!inv || c.meeting_id != m->meeting || inv->meeting_id != m->meeting || !point ||
      inv->point_id != c.point_id || strcmp(inv->role, c.role)) {
    send_error(s, DC_ERR_CODE_INVALID_TOKEN, "the invitation link is not valid for this meeting");
    invalid_attempt(srv, s->address, now_ms);
  }
  else if (inv->revoked)
    send_error(s, DC_ERR_CODE_REVOKED, "this invitation link was withdrawn by the operator");
  else if (now > inv->expires_at)
    send_error(s, DC_ERR_CODE_EXPIRED_TOKEN, "this invitation link has expired");
  else if (!meeting)
    send_error(s, DC_ERR_CODE_UNKNOWN_MEETING, "there is no such meeting");
  else if (!strcmp(dc_meeting_state(meeting, now), "cancelled"))
    send_error(s, DC_ERR_CODE_MEETING_CANCELLED, "this meeting was cancelled");
  else if (!strcmp(dc_meeting_state(meeting, now), "ended"))
    send_error(s, DC_ERR_CODE_MEETING_ENDED, "this meeting has ended");
  else if (!dc_meeting_joinable(meeting, now)) {
    char *opens = local_hhmm(srv, meeting->starts_at - meeting->open_before_s);
    char *text = g_strdup_printf("this meeting is not open yet: it opens at %s", opens);
    send_error(s, DC_ERR_CODE_MEETING_NOT_OPEN, text);
    g_free(text);
    g_free(opens);
  } else if (dc_chair_admit(srv, s, inv, meeting)) {
    s->id = ++srv->next_participant;
    s->invitation = inv->id;
    s->point_id = inv->point_id;
    if (s->join_timer)
      g_source_remove(s->join_timer), s->join_timer = 0;
    s->join_us = g_get_monotonic_time();
    s->meeting = m->meeting;
    s->name = g_strdup(m->name);
    s->point = g_strdup(point->name);
    s->role = g_strdup(inv->role);
    s->roster_changes = m->roster_changes;
    if (s->socket && g_strcmp0(m->profile, "highland")) { /* a link with room: its offer goes at once */
      int wide = DC_SIGNALING_WIDE_WINDOW;
      setsockopt(g_socket_get_fd(s->socket), IPPROTO_TCP, TCP_WINDOW_CLAMP, &wide, sizeof wide);
    }
    dc_participant_events ev = {.candidate = on_participant_candidate, .state = on_participant_state,
                                .slots = on_participant_slots,
                                .audio_rate = on_participant_audio_rate};
    s->participant = dc_room_join(dc_bridge_room(srv->bridge, m->meeting), s->id, s->name, m->profile,
                                  (unsigned)m->audio_wait_ms, &ev, s);
    g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT " joined: %s at %s (%s)",
              s->meeting, s->id, s->name, s->point, s->role);
    dc_api_stay_begin(srv, s);
    dc_chair_joined(srv, s);
    dc_recording_auto(srv, s->meeting);
    if (dc_server_ghost_back(srv, s->meeting, s->invitation))
      g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": %s is back", s->meeting, s->id, s->point);
    send_joined(srv, s);
    broadcast_roster(srv, s->meeting); /* with the speaker, after it */
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
  if (dc_chair_handle(s, m))
    return;
  GError *err = NULL;
  switch (m->type) {
  case DC_MSG_OFFER: {
    char *answer = dc_participant_offer(s->participant, m->sdp, &err);
    if (!answer) {
      g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": offer refused: %s",
                s->meeting, s->id, err->message);
      send_error(s, g_error_matches(err, DC_MEDIA_ERROR, DC_MEDIA_ERROR_FULL) ? DC_ERR_CODE_MEETING_FULL
                                                                               : DC_ERR_CODE_BAD_OFFER,
                 err->message);
      g_error_free(err);
      return;
    }
    dc_server_send_text(s, dc_protocol_answer(answer));
    g_free(answer);
    return;
  }
  case DC_MSG_CANDIDATE: dc_participant_add_candidate(s->participant, m->candidate); return;
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
  case DC_MSG_AUDIO_WAIT:
    dc_participant_set_audio_wait(s->participant, (unsigned)m->audio_wait_ms);
    g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": its audio now waits %d ms for a late or "
              "repaired packet", s->meeting, s->id, m->audio_wait_ms);
    return;
  case DC_MSG_LEAVE:
    leave(s);
    close_ws(s->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, "left");
    return;
  default: return; /* join above; the rest are chair.c's */
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
    close_ws(conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many bad messages");
  }
}

/* A participant that dropped rather than left: it leaves the room, and the others see it
 * as reconnecting for RECONNECT_GRACE_S, in its place, until its invitation joins again. */
static void leave_as_ghost(session *s) {
  dc_server *srv = s->server;
  ghost *g = g_new0(ghost, 1);
  *g = (ghost){s->meeting, s->invitation, s->point_id, s->id, g_strdup(s->name), g_strdup(s->point), g_strdup(s->role),
               g_get_monotonic_time() + (gint64)RECONNECT_GRACE_S * G_USEC_PER_SEC};
  dc_server_ghost_back(srv, s->meeting, s->invitation); /* one per invitation */
  srv->ghosts = g_list_prepend(srv->ghosts, g);
  leave(s);
}

static void on_ws_closed(SoupWebsocketConnection *conn, gpointer user) {
  session *s = user;
  dc_server *srv = s->server;
  srv->sessions = g_list_remove(srv->sessions, s);
  if (s->participant && !srv->shutting_down) /* dropped, not left: the others see it reconnecting */
    leave_as_ghost(s);
  leave(s);
  g_signal_handlers_disconnect_by_data(conn, s);
  g_object_unref(conn);
  g_free(s->name);
  g_free(s->point);
  g_free(s->role);
  g_free(s->address);
  g_clear_object(&s->socket);
  if (s->join_timer)
    g_source_remove(s->join_timer);
  g_free(s->rtt);
  g_free(s);
}

/* A browser names the page that opened the socket in Origin; ours is served by this same
 * server, so its host and port are the ones the request was sent to (Host). Anything else
 * is another site's page trying to use the visitor's browser. Clients that are not
 * browsers send no Origin; they need a token like everyone. */
bool dc_server_origin_allowed(SoupServerMessage *msg) {
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

static gboolean join_too_late(gpointer data) {
  session *s = data;
  s->join_timer = 0;
  if (!s->id)
    close_ws(s->conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "join within 15 s of connecting");
  return G_SOURCE_REMOVE;
}

static void on_ws(SoupServer *soup, SoupServerMessage *msg, const char *path,
                  SoupWebsocketConnection *conn, gpointer user) {
  dc_server *srv = user;
  if (!dc_server_origin_allowed(msg)) {
    g_message("refused a signaling connection from a page of another origin");
    close_ws(conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                    "this bridge serves its own meeting page only");
    return;
  }
  const char *address = soup_server_message_get_remote_host(msg);
  unsigned unjoined = 0;
  for (GList *l = srv->sessions; l; l = l->next) {
    session *o = l->data;
    unjoined += !o->participant && !o->id && !g_strcmp0(o->address, address);
  }
  if (unjoined >= MAX_UNJOINED_PER_ADDRESS) {
    if (unjoined == MAX_UNJOINED_PER_ADDRESS) /* said once per flood, not once per socket */
      g_message("signaling: %u connections from %s that have not joined; refusing more", unjoined, address);
    close_ws(conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                    "too many connections from this address that have not joined");
    return;
  }
  session *s = g_new0(session, 1);
  s->server = srv;
  s->conn = g_object_ref(conn);
  GSocket *sock = soup_server_message_get_socket(msg);
  s->socket = sock ? g_object_ref(sock) : NULL;
  s->address = g_strdup(address);
  s->join_timer = g_timeout_add_seconds(JOIN_WITHIN_S, join_too_late, s);
  soup_websocket_connection_set_max_incoming_payload_size(conn, MAX_WS_PAYLOAD);
  soup_websocket_connection_set_keepalive_interval(conn, 20);
  g_signal_connect(conn, "message", G_CALLBACK(on_ws_message), s);
  g_signal_connect(conn, "closed", G_CALLBACK(on_ws_closed), s);
  srv->sessions = g_list_prepend(srv->sessions, s);
  if (srv->shutting_down)
    close_ws(conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "the bridge is stopping");
}

/* ---- the page ---- */

/* A highland point loads the page over 32-64 kbit/s with loss: gzip sends a third of the
 * bytes (app.js 16 KB as ~5; the page is one document, page.h). Compressed per request: a
 * few small files, a request or two a join. NULL when zlib cannot (the plain file goes). */
static GBytes *gzip_of(const char *data, gsize len) {
  GZlibCompressor *z = g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP, 9);
  gsize cap = len + len / 8 + 128, read = 0, written = 0; /* more than deflate's worst case */
  guint8 *out = g_malloc(cap);
  GConverterResult r = g_converter_convert(G_CONVERTER(z), data, len, out, cap, G_CONVERTER_INPUT_AT_END, &read,
                                           &written, NULL);
  g_object_unref(z);
  if (r != G_CONVERTER_FINISHED || read != len) {
    g_free(out);
    return NULL;
  }
  return g_bytes_new_take(out, written);
}

/* A strong validator of what is served (RFC 9110 §8.8.3): the first half of its SHA-256, and
 * which encoding it goes in, as the gzipped and the plain answers differ in bytes. */
static char *etag_of(const char *data, gsize len, bool gzipped) {
  char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
  char *tag = g_strdup_printf("\"%.32s%s\"", sum, gzipped ? "-gz" : "");
  g_free(sum);
  return tag;
}

/* Whether the request's If-None-Match names tag or is "*" (§13.1.2: compared weakly, so a
 * "W/" before a tag is ignored). */
static bool none_match_hits(SoupMessageHeaders *req, const char *tag) {
  const char *field = soup_message_headers_get_list(req, "If-None-Match");
  if (!field)
    return false;
  GSList *tags = soup_header_parse_list(field);
  bool hit = false;
  for (GSList *l = tags; l && !hit; l = l->next) {
    const char *t = l->data;
    if (g_str_has_prefix(t, "W/"))
      t += 2;
    hit = !strcmp(t, "*") || !strcmp(t, tag);
  }
  soup_header_free_list(tags);
  return hit;
}

/* The page's files, each with its validator: a browser that fetches one again (a clerk who
 * reloads the join link, a page opened again in the same meeting) asks whether it changed
 * and gets 304 Not Modified, ~660 bytes of headers, instead of the join page again (~9 KB
 * gzipped, which over a highland point's 32 kbit/s with loss takes seconds:
 * tests/link/page_probe.mjs). A 304 carries what the full answer would have in the headers a
 * browser updates its copy with (§15.4.5): the page's policy with its scripts' hashes above
 * all, or its copy would lose them. */
static void on_static(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                      gpointer user) {
  dc_server *srv = user;
  static const struct {
    const char *url, *file, *type;
  } files[] = {{"/", "index.html", "text/html; charset=utf-8"},
               {"/join", "index.html", "text/html; charset=utf-8"},
               {"/app.js", "app.js", "text/javascript; charset=utf-8"},
               {"/style.css", "style.css", "text/css; charset=utf-8"},
               {"/console", "console.html", "text/html; charset=utf-8"},
               {"/console.js", "console.js", "text/javascript; charset=utf-8"},
               {"/console.css", "console.css", "text/css; charset=utf-8"},
               {"/qr.js", "qr.js", "text/javascript; charset=utf-8"},
               {"/first_sound.js", "first_sound.js", "text/javascript; charset=utf-8"}};
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
      SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
      if (g_str_has_suffix(files[i].file, ".html")) { /* one document: its style and scripts in it */
        char *policy = NULL, *page = dc_page_inline(srv->web_dir, body, len, &len, &policy);
        g_free(body);
        body = page;
        soup_message_headers_replace(h, "Content-Security-Policy", policy);
        g_free(policy);
      }
      SoupMessageHeaders *req = soup_server_message_get_request_headers(msg);
      const char *accepts = soup_message_headers_get_list(req, "Accept-Encoding");
      bool want_gz = accepts && soup_header_contains(accepts, "gzip");
      char *tag = etag_of(body, len, want_gz);
      soup_message_headers_replace(h, "Cache-Control", "no-cache");
      soup_message_headers_replace(h, "Vary", "Accept-Encoding");
      if (none_match_hits(req, tag)) {
        soup_message_headers_replace(h, "ETag", tag);
        soup_server_message_set_status(msg, SOUP_STATUS_NOT_MODIFIED, NULL);
        soup_message_headers_set_encoding(h, SOUP_ENCODING_NONE); /* no "Content-Length: 0" (§8.6) */
        g_free(tag);
        g_free(body);
        g_free(file);
        return;
      }
      GBytes *gz = want_gz ? gzip_of(body, len) : NULL;
      if (want_gz && !gz) { /* zlib could not: the plain bytes go, under their own tag */
        g_free(tag);
        tag = etag_of(body, len, false);
      }
      soup_message_headers_replace(h, "ETag", tag);
      g_free(tag);
      soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
      if (gz) {
        soup_message_headers_replace(h, "Content-Encoding", "gzip");
        gsize gz_len;
        const char *gz_data = g_bytes_get_data(gz, &gz_len);
        soup_server_message_set_response(msg, files[i].type, SOUP_MEMORY_COPY, gz_data, gz_len);
        g_bytes_unref(gz);
        g_free(body);
      } else {
        soup_server_message_set_response(msg, files[i].type, SOUP_MEMORY_TAKE, body, len);
      }
    } else {
      g_warning("cannot read %s: is the web directory right?", file);
      soup_server_message_set_status(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL);
    }
    g_free(file);
    return;
  }
  soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
}

/* ---- lifecycle ---- */

/* Every answer says how a browser may use it: our pages run only their own scripts and styles
 * (files, or written into the page with their hashes in its policy: page.h; an injected
 * script does not run), talk only to this bridge, are framed by
 * nobody, send no Referer (a join link's page must not leak it), and over TLS, stay on TLS. */
static void on_request_started(SoupServer *soup, SoupServerMessage *msg, gpointer user) {
  dc_server *srv = user;
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  char *policy = dc_page_policy("", "");
  soup_message_headers_replace(h, "Content-Security-Policy", policy);
  g_free(policy);
  soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace(h, "X-Frame-Options", "DENY");
  if (srv->secure)
    soup_message_headers_replace(h, "Strict-Transport-Security", "max-age=31536000");
}

/* Every answer but a WebSocket upgrade closes its connection. libsoup 3.2 (Debian 12's) never
 * notices a client closing a kept-alive connection while it waits for the next request: each
 * such socket stays in CLOSE-WAIT for the life of the bridge (a browser's, diemcau-ctl's, a
 * device's: one per connection, found by the API's fuzz target; a daemon took 50 curl calls
 * to hold 50 more descriptors). Fixed upstream in 3.3 ("server: do not leak idle connections
 * closed by the client"); until then a connection per request is the price, small for what
 * the bridge serves over HTTP (a page's few files, a console's poll each second). */
static void on_request_read(SoupServer *soup, SoupServerMessage *msg, gpointer user) {
  SoupMessageHeaders *req = soup_server_message_get_request_headers(msg);
  if (!soup_message_headers_header_contains(req, "Connection", "upgrade"))
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection", "close");
}

static gboolean on_tick(gpointer data) {
  dc_api_tick(data);
  return G_SOURCE_CONTINUE;
}

/* soup_server_listen with a listen queue for a storm: libsoup leaves GSocket's default of 10
 * pending connections, and the kernel drops the SYNs past it, which clients send again after
 * 1, 3, 7 s... A meeting's opening, or every page rejoining after a restart, is such a storm:
 * 300 points at once lost ~40 joins to timeouts. The kernel caps the queue at
 * net.core.somaxconn. */
#define LISTEN_BACKLOG 1024
static bool listen_on(SoupServer *soup, GSocketAddress *addr, SoupServerListenOptions options, GError **error) {
  GSocket *sock = g_socket_new(g_socket_address_get_family(addr), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (!sock)
    return false;
  g_socket_set_listen_backlog(sock, LISTEN_BACKLOG);
  /* Accepted connections inherit it: what a client sends waits for our acknowledgement each
   * DC_SIGNALING_FIRST_WINDOW bytes (see server.h). Best effort: a kernel without it serves as
   * before. */
  int clamp = DC_SIGNALING_FIRST_WINDOW;
  if (setsockopt(g_socket_get_fd(sock), IPPROTO_TCP, TCP_WINDOW_CLAMP, &clamp, sizeof clamp) != 0)
    g_debug("signaling: no TCP window clamp on the listener: %s", g_strerror(errno));
  bool ok = g_socket_bind(sock, addr, TRUE, error) && g_socket_listen(sock, error) &&
            soup_server_listen_socket(soup, sock, options, error);
  g_object_unref(sock);
  return ok;
}

static bool listen_at(dc_server *srv, const char *where, const dc_server_config *cfg, GError **error) {
  GInetAddress *ip = g_inet_address_new_from_string(where);
  if (!ip) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not an IP address: %s", where);
    return false;
  }
  GSocketAddress *addr = g_inet_socket_address_new(ip, cfg->port);
  g_object_unref(ip);
  bool ok = listen_on(srv->soup, addr, cfg->certificate ? SOUP_SERVER_LISTEN_HTTPS : 0, error);
  g_object_unref(addr);
  return ok;
}

/* --metrics-listen ADDR:PORT: /metrics on a plain-HTTP listener of its own, for a Prometheus
 * on another machine (a private network; there is no authentication on it). */
static bool listen_metrics(dc_server *srv, const char *where, GError **error) {
  GSocketConnectable *c = g_network_address_parse(where, 0, error);
  if (!c) {
    g_prefix_error(error, "--metrics-listen %s: ", where);
    return false;
  }
  const char *host = g_network_address_get_hostname(G_NETWORK_ADDRESS(c));
  guint16 port = g_network_address_get_port(G_NETWORK_ADDRESS(c));
  GInetAddress *ip = g_inet_address_new_from_string(host);
  bool ok = false;
  if (!ip || !port) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "--metrics-listen %s: give an IP address and a port, "
                "e.g. 127.0.0.1:9464", where);
  } else {
    srv->metrics_soup = soup_server_new(NULL, NULL);
    g_signal_connect(srv->metrics_soup, "request-read", G_CALLBACK(on_request_read), srv);
    soup_server_add_handler(srv->metrics_soup, NULL, dc_metrics_handle, srv, NULL);
    GSocketAddress *addr = g_inet_socket_address_new(ip, port);
    ok = listen_on(srv->metrics_soup, addr, 0, error);
    g_object_unref(addr);
    if (!ok)
      g_prefix_error(error, "--metrics-listen %s: ", where);
  }
  if (ip)
    g_object_unref(ip);
  g_object_unref(c);
  return ok;
}

dc_server *dc_server_new(const dc_server_config *cfg, dc_store *store, dc_bridge *bridge,
                         GError **error) {
  dc_server *srv = g_new0(dc_server, 1);
  srv->store = store;
  srv->bridge = bridge;
  srv->web_dir = g_strdup(cfg->web_dir);
  srv->speakers = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  srv->rosters = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, (GDestroyNotify)dc_roster_free);
  srv->roster_pace = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, dc_server_roster_pace_free);
  srv->console = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  srv->chairs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  srv->recordings_dir = g_strdup(cfg->recordings_dir ? cfg->recordings_dir : "diemcau-data/recordings");
  srv->ice_servers = g_strdupv((char **)cfg->ice_servers);
  srv->turn_secret = g_strdup(cfg->turn_secret);
  srv->turn_ttl_s = cfg->turn_ttl_s ? cfg->turn_ttl_s : 12 * 3600;
  srv->bad_tokens = dc_attempts_new(ATTEMPT_BURST, ATTEMPT_REFILL_MS);
  srv->bad_keys = dc_attempts_new(ATTEMPT_BURST, ATTEMPT_REFILL_MS);
  srv->tz_name = g_strdup(cfg->time_zone ? cfg->time_zone : "Asia/Ho_Chi_Minh");
  srv->tz = g_time_zone_new_identifier(srv->tz_name);
  srv->secure = cfg->certificate != NULL;
  if (!srv->tz) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "unknown time zone \"%s\" (an IANA name such as Asia/Ho_Chi_Minh; is tzdata installed?)", srv->tz_name);
    dc_server_free(srv);
    return NULL;
  }
  srv->soup = cfg->certificate ? soup_server_new("tls-certificate", cfg->certificate, NULL)
                               : soup_server_new(NULL, NULL);
  g_signal_connect(srv->soup, "request-started", G_CALLBACK(on_request_started), srv);
  g_signal_connect(srv->soup, "request-read", G_CALLBACK(on_request_read), srv);
  soup_server_add_websocket_handler(srv->soup, "/ws", NULL, NULL, on_ws, srv, NULL);
  soup_server_add_handler(srv->soup, "/api", dc_api_handle, srv, NULL);
  soup_server_add_handler(srv->soup, "/console/login", dc_console_handle, srv, NULL);
  soup_server_add_handler(srv->soup, "/console/logout", dc_console_handle, srv, NULL);
  soup_server_add_handler(srv->soup, "/metrics", dc_metrics_handle, srv, NULL);
  soup_server_add_handler(srv->soup, NULL, on_static, srv, NULL);
  if (cfg->metrics_listen && !listen_metrics(srv, cfg->metrics_listen, error)) {
    dc_server_free(srv);
    return NULL;
  }
  /* Unset, every address: "::", which takes IPv4 as well (GLib's IPv6 sockets are
   * dual-stack, and give a v4-mapped peer as an IPv4 one), so that a point that reaches this
   * machine over IPv6 only joins as one over IPv4 does, as ICE gathers on both; "0.0.0.0"
   * where the kernel has no IPv6. */
  const char *where = cfg->listen_address ? cfg->listen_address : "::";
  GError *no_v6 = NULL;
  bool ok = listen_at(srv, where, cfg, cfg->listen_address ? error : &no_v6);
  if (!ok && !cfg->listen_address && g_error_matches(no_v6, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)) {
    g_propagate_error(error, no_v6); /* the port is taken: IPv4 would say the same */
  } else if (!ok && !cfg->listen_address) {
    g_debug("signaling: no IPv6 listener (%s): IPv4 only", no_v6->message);
    g_clear_error(&no_v6);
    where = "0.0.0.0";
    ok = listen_at(srv, where, cfg, error);
  }
  if (!ok) {
    g_prefix_error(error, "cannot listen on %s port %u: ", where, cfg->port);
    dc_server_free(srv);
    return NULL;
  }
  srv->listen_text = g_strdup(where);
  srv->base_url = cfg->public_base_url
                      ? g_strdup(cfg->public_base_url)
                      : g_strdup_printf("%s://localhost:%u", cfg->certificate ? "https" : "http",
                                        dc_server_port(srv));
  srv->tick = g_timeout_add_seconds(1, on_tick, srv);
  return srv;
}

guint dc_server_port(dc_server *srv) {
  GSList *uris = soup_server_get_uris(srv->soup);
  guint port = uris ? (guint)g_uri_get_port(uris->data) : 0;
  g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
  return port;
}

const char *dc_server_base_url(dc_server *srv) { return srv->base_url; }

const char *dc_server_listen_address(dc_server *srv) { return srv->listen_text; }

/* Everything after the path goes in the fragment, which a browser never sends to a server:
 * the token appears in no access log, proxy log or Referer, and the page is one URL, /join,
 * for every meeting and profile, so a browser that has it asks only whether it changed (a
 * 304: on_static) when the next meeting's link comes, instead of fetching it whole over a
 * highland link. The page reads the fragment (app.js), the endpoint too (profile.c). */
char *dc_server_join_link(dc_server *srv, int64_t meeting, const char *token, const char *profile) {
  return g_strdup_printf("%s/join#meeting=%" G_GINT64_FORMAT "%s%s&token=%s", srv->base_url, meeting,
                         profile ? "&profile=" : "", profile ? profile : "", token);
}

void dc_server_shutdown(dc_server *srv) {
  srv->shutting_down = true;
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    send_error(s, DC_ERR_CODE_SHUTTING_DOWN, "the bridge is stopping");
    leave(s);
    close_ws(s->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "the bridge is stopping");
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
  if (srv->tick)
    g_source_remove(srv->tick);
  if (srv->metrics_soup) {
    soup_server_disconnect(srv->metrics_soup);
    g_object_unref(srv->metrics_soup);
  }
  g_hash_table_unref(srv->speakers);
  g_hash_table_unref(srv->roster_pace);
  g_hash_table_unref(srv->rosters);
  g_hash_table_unref(srv->console);
  g_hash_table_unref(srv->chairs);
  if (srv->recordings)
    g_hash_table_unref(srv->recordings);
  g_free(srv->recordings_dir);
  g_strfreev(srv->ice_servers);
  if (srv->turn_secret)
    memset(srv->turn_secret, 0, strlen(srv->turn_secret));
  g_free(srv->turn_secret);
  g_list_free_full(srv->ghosts, dc_server_ghost_free);
  dc_attempts_free(srv->bad_tokens);
  dc_attempts_free(srv->bad_keys);
  if (srv->tz)
    g_time_zone_unref(srv->tz);
  g_free(srv->tz_name);
  g_free(srv->web_dir);
  g_free(srv->base_url);
  g_free(srv->listen_text);
  g_free(srv);
}
