/* Signaling and operator API, end to end in one process: a real server on a loopback port
 * (plain HTTP), a temporary store, the bridge, and libsoup's client as the participant or
 * the operator. Every bad input must get its error and leave the server serving. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "signaling/protocol.h"
#include "signaling/server.h"
#include "signaling/token.h"

static struct {
  char *dir;
  dc_store *store;
  dc_bridge *bridge;
  dc_server *server;
  SoupSession *session;
  char *key, *base;
  int64_t hall, commune, meeting, ended_meeting;
} T;

/* ---- tiny synchronous helpers over libsoup's async client ---- */

typedef struct {
  GMainLoop *loop;
  GBytes *body;
  SoupWebsocketConnection *ws;
  GError *error;
} wait_t;

static void on_sent(GObject *src, GAsyncResult *res, gpointer data) {
  wait_t *w = data;
  w->body = soup_session_send_and_read_finish(SOUP_SESSION(src), res, &w->error);
  g_main_loop_quit(w->loop);
}

/* Returns the status; *json is the parsed reply (or NULL). */
static guint http(const char *method, const char *path, const char *body, const char *auth,
                  JsonNode **json) {
  char *url = g_strconcat(T.base, path, NULL);
  SoupMessage *msg = soup_message_new(method, url);
  g_free(url);
  if (auth) {
    char *h = g_strconcat("Bearer ", auth, NULL);
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", h);
    g_free(h);
  }
  if (body) {
    GBytes *b = g_bytes_new(body, strlen(body));
    soup_message_set_request_body_from_bytes(msg, "application/json", b);
    g_bytes_unref(b);
  }
  wait_t w = {.loop = g_main_loop_new(NULL, FALSE)};
  soup_session_send_and_read_async(T.session, msg, G_PRIORITY_DEFAULT, NULL, on_sent, &w);
  g_main_loop_run(w.loop);
  g_main_loop_unref(w.loop);
  g_assert_no_error(w.error);
  guint status = soup_message_get_status(msg);
  if (json) {
    JsonParser *p = json_parser_new();
    gsize len;
    const char *data = g_bytes_get_data(w.body, &len);
    *json = len && json_parser_load_from_data(p, data, (gssize)len, NULL)
                ? json_node_copy(json_parser_get_root(p)) : NULL;
    g_object_unref(p);
  }
  g_bytes_unref(w.body);
  g_object_unref(msg);
  return status;
}

/* A GET whose reply is not JSON: its status, body text and content type. */
static guint http_text(const char *path, const char *auth, char **text, char **type) {
  char *url = g_strconcat(T.base, path, NULL);
  SoupMessage *msg = soup_message_new("GET", url);
  g_free(url);
  if (auth) {
    char *h = g_strconcat("Bearer ", auth, NULL);
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", h);
    g_free(h);
  }
  wait_t w = {.loop = g_main_loop_new(NULL, FALSE)};
  soup_session_send_and_read_async(T.session, msg, G_PRIORITY_DEFAULT, NULL, on_sent, &w);
  g_main_loop_run(w.loop);
  g_main_loop_unref(w.loop);
  g_assert_no_error(w.error);
  guint status = soup_message_get_status(msg);
  *text = g_strndup(g_bytes_get_data(w.body, NULL), g_bytes_get_size(w.body));
  const char *t = soup_message_headers_get_content_type(soup_message_get_response_headers(msg), NULL);
  *type = g_strdup(t ? t : "");
  g_bytes_unref(w.body);
  g_object_unref(msg);
  return status;
}

static const char *member(JsonNode *n, const char *path) {
  /* "error.code" style lookups into an object */
  char **parts = g_strsplit(path, ".", -1);
  JsonNode *cur = n;
  for (int i = 0; parts[i] && cur && JSON_NODE_HOLDS_OBJECT(cur); i++)
    cur = json_object_get_member(json_node_get_object(cur), parts[i]);
  g_strfreev(parts);
  return cur && JSON_NODE_HOLDS_VALUE(cur) && json_node_get_value_type(cur) == G_TYPE_STRING
             ? json_node_get_string(cur) : NULL;
}

static void on_ws_connected(GObject *src, GAsyncResult *res, gpointer data) {
  wait_t *w = data;
  w->ws = soup_session_websocket_connect_finish(SOUP_SESSION(src), res, &w->error);
  g_main_loop_quit(w->loop);
}

typedef struct {
  GQueue messages; /* char* */
  bool closed;
  gushort close_code;
  GMainLoop *loop;
  char *roster; /* the last roster roster_shows read (chairing) */
} client;

static void on_client_message(SoupWebsocketConnection *ws, gint type, GBytes *msg, gpointer data) {
  client *c = data;
  gsize len;
  const char *text = g_bytes_get_data(msg, &len);
  g_queue_push_tail(&c->messages, g_strndup(text, len));
  if (c->loop)
    g_main_loop_quit(c->loop);
}

static void on_client_closed(SoupWebsocketConnection *ws, gpointer data) {
  client *c = data;
  c->closed = true;
  c->close_code = soup_websocket_connection_get_close_code(ws);
  if (c->loop)
    g_main_loop_quit(c->loop);
}

static SoupWebsocketConnection *ws_open_from(client *c, const char *origin) {
  memset(c, 0, sizeof *c);
  char *url = g_strconcat(T.base, "/ws", NULL);
  SoupMessage *msg = soup_message_new("GET", url);
  g_free(url);
  wait_t w = {.loop = g_main_loop_new(NULL, FALSE)};
  soup_session_websocket_connect_async(T.session, msg, origin, NULL, G_PRIORITY_DEFAULT, NULL,
                                       on_ws_connected, &w);
  g_main_loop_run(w.loop);
  g_main_loop_unref(w.loop);
  g_object_unref(msg);
  g_assert_no_error(w.error);
  g_signal_connect(w.ws, "message", G_CALLBACK(on_client_message), c);
  g_signal_connect(w.ws, "closed", G_CALLBACK(on_client_closed), c);
  return w.ws;
}

static SoupWebsocketConnection *ws_open(client *c) { return ws_open_from(c, NULL); }

static gboolean quit_loop(gpointer loop) {
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

/* Waits (at most 5 s) for the next message, skipping rosters; NULL if the socket closed. */
static char *ws_next(client *c) {
  for (;;) {
    while (!g_queue_is_empty(&c->messages)) {
      char *m = g_queue_pop_head(&c->messages);
      if (!strstr(m, "\"type\":\"roster\"") && !strstr(m, "\"type\":\"candidate\""))
        return m;
      g_free(m);
    }
    if (c->closed)
      return NULL;
    c->loop = g_main_loop_new(NULL, FALSE);
    guint timer = g_timeout_add_seconds(5, quit_loop, c->loop);
    g_main_loop_run(c->loop);
    g_source_remove(timer);
    g_main_loop_unref(c->loop);
    c->loop = NULL;
    if (g_queue_is_empty(&c->messages) && !c->closed)
      g_error("no message from the server within 5 s");
  }
}

/* Sends text and expects an error reply with the given code (and words). */
static void expect_error(SoupWebsocketConnection *ws, client *c, const char *text, const char *code,
                         const char *words) {
  soup_websocket_connection_send_text(ws, text);
  char *reply = ws_next(c);
  g_assert_nonnull(reply);
  char *want = g_strdup_printf("\"code\":\"%s\"", code);
  if (!strstr(reply, "\"type\":\"error\"") || !strstr(reply, want) || (words && !strstr(reply, words)))
    g_error("for %.60s expected error %s (%s), got %s", text, code, words ? words : "", reply);
  g_free(want);
  g_free(reply);
}

static char *token_for(int64_t invitation, int64_t meeting, int64_t point, int64_t expires) {
  dc_token_claims c = {.invitation_id = invitation, .meeting_id = meeting, .point_id = point,
                       .role = "participant", .expires_at = expires};
  return dc_token_sign(dc_store_secret(T.store), &c);
}

static char *join_message(int64_t meeting, const char *token) {
  return g_strdup_printf("{\"v\":1,\"type\":\"join\",\"meeting\":%" G_GINT64_FORMAT
                         ",\"token\":\"%s\",\"name\":\"Kiểm thử\"}", meeting, token);
}

/* Sends a join for meeting with tok on ws and expects the error code (and words). */
static void expect_join_refused(SoupWebsocketConnection *ws, client *c, int64_t meeting, const char *tok,
                                const char *code, const char *words) {
  char *msg = join_message(meeting, tok);
  expect_error(ws, c, msg, code, words);
  g_free(msg);
}

/* ---- signaling ---- */

static void test_bad_messages(void) {
  client c;
  SoupWebsocketConnection *ws = ws_open(&c);
  expect_error(ws, &c, "{not json", DC_ERR_CODE_BAD_MESSAGE, "not JSON");
  expect_error(ws, &c, "{\"v\":1,\"type\":\"sing\"}", DC_ERR_CODE_UNKNOWN_TYPE, "sing");
  expect_error(ws, &c, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"v=0\"}", DC_ERR_CODE_NOT_JOINED, NULL);
  expect_error(ws, &c, "{\"v\":7,\"type\":\"join\"}", DC_ERR_CODE_UNSUPPORTED_VERSION, NULL);
  char *big = g_strnfill(70000, 'x');
  expect_error(ws, &c, big, DC_ERR_CODE_TOO_LARGE, NULL);
  g_free(big);
  /* still usable: a valid join is accepted after the refusals */
  int64_t inv = dc_store_create_invitation(T.store, T.meeting, T.commune, "participant", 4000000000, NULL);
  char *tok = token_for(inv, T.meeting, T.commune, 4000000000);
  char *join = join_message(T.meeting, tok);
  soup_websocket_connection_send_text(ws, join);
  char *reply = ws_next(&c);
  g_assert_nonnull(strstr(reply, "\"type\":\"joined\""));
  g_assert_nonnull(strstr(reply, "Xã Tà Xùa"));
  g_free(reply);
  expect_error(ws, &c, join, DC_ERR_CODE_ALREADY_JOINED, NULL);
  /* host commands from a participant are refused */
  expect_error(ws, &c, "{\"v\":1,\"type\":\"pin\",\"participant\":1}", DC_ERR_CODE_NOT_ALLOWED, "host");
  /* an offer without a fingerprint is refused with what is missing */
  expect_error(ws, &c,
               "{\"v\":1,\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\ns=-\\r\\nt=0 0\\r\\n"
               "a=group:BUNDLE 0\\r\\nm=audio 9 UDP/TLS/RTP/SAVPF 111\\r\\na=mid:0\\r\\n"
               "a=ice-ufrag:u\\r\\na=ice-pwd:pppppppppppppppppppppp\\r\\na=rtcp-mux\\r\\n"
               "a=rtpmap:111 opus/48000/2\\r\\n\"}",
               DC_ERR_CODE_BAD_OFFER, "fingerprint");
  expect_error(ws, &c, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"hello\"}", DC_ERR_CODE_BAD_OFFER, "SDP");
  g_free(join);
  g_free(tok);
  soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);
}

static void test_bad_joins(void) {
  client c;
  SoupWebsocketConnection *ws = ws_open(&c);
  int64_t inv = dc_store_create_invitation(T.store, T.meeting, T.commune, "participant", 4000000000, NULL);
  char *tok = token_for(inv, T.meeting, T.commune, 4000000000);
  expect_join_refused(ws, &c, T.meeting + 100, tok, DC_ERR_CODE_INVALID_TOKEN, NULL); /* right token, wrong meeting */
  g_free(tok);
  tok = token_for(99999, 99999, T.commune, 4000000000); /* signed by us, no such invitation */
  expect_join_refused(ws, &c, 99999, tok, DC_ERR_CODE_INVALID_TOKEN, NULL);
  g_free(tok);
  int64_t inv_ended = dc_store_create_invitation(T.store, T.ended_meeting, T.commune, "participant", 4000000000, NULL);
  tok = token_for(inv_ended, T.ended_meeting, T.commune, 4000000000);
  expect_join_refused(ws, &c, T.ended_meeting, tok, DC_ERR_CODE_MEETING_ENDED, NULL);
  g_free(tok);
  /* a token whose own expiry has passed stands while its invitation does: a meeting moved
   * later moves its invitations, and the links already sent keep working (see /api/life-cycle) */
  soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);
}

static void test_garbage_disconnects(void) {
  client c;
  SoupWebsocketConnection *ws = ws_open(&c);
  for (int i = 0; i < 10 && soup_websocket_connection_get_state(ws) == SOUP_WEBSOCKET_STATE_OPEN; i++) {
    soup_websocket_connection_send_text(ws, "garbage");
    g_free(ws_next(&c));
  }
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpuint(c.close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  g_object_unref(ws);
  /* and the server still serves others */
  JsonNode *j;
  g_assert_cmpuint(http("GET", "/api/meetings", NULL, T.key, &j), ==, 200);
  json_node_unref(j);
}

/* ---- operator API ---- */

static void test_api_auth(void) {
  JsonNode *j;
  g_assert_cmpuint(http("GET", "/api/meetings", NULL, NULL, &j), ==, 401);
  g_assert_cmpstr(member(j, "error.code"), ==, "unauthorized");
  json_node_unref(j);
  g_assert_cmpuint(http("GET", "/api/meetings", NULL, "not-a-key", &j), ==, 401);
  json_node_unref(j);
  g_assert_cmpuint(http("POST", "/api/meetings", "{\"title\":\"x\",\"starts_at\":1,\"ends_at\":2}", NULL, &j), ==, 401);
  json_node_unref(j);
}

static guint count_meetings(void) {
  JsonNode *j;
  g_assert_cmpuint(http("GET", "/api/meetings", NULL, T.key, &j), ==, 200);
  guint n = json_array_get_length(json_node_get_array(j));
  json_node_unref(j);
  return n;
}

static void test_api_invalid_input(void) {
  guint before = count_meetings();
  static const struct {
    const char *method, *path, *body;
    guint status;
    const char *code;
  } cases[] = {
      {"POST", "/api/meetings", "{oops", 400, "bad-json"},
      {"POST", "/api/meetings", "[1]", 400, "bad-json"},
      {"POST", "/api/meetings", "{\"starts_at\":1,\"ends_at\":2}", 400, "invalid"},
      {"POST", "/api/meetings", "{\"title\":\"T\",\"starts_at\":\"soon\",\"ends_at\":2}", 400, "invalid"},
      {"POST", "/api/meetings", "{\"title\":\"T\",\"starts_at\":5,\"ends_at\":2}", 400, "invalid"},
      {"POST", "/api/meetings", "{\"title\":\"\",\"starts_at\":1,\"ends_at\":2}", 400, "invalid"},
      {"POST", "/api/meetings", "{\"title\":\"T\",\"starts_at\":1,\"ends_at\":2,\"host_point_id\":999}", 400, "invalid"},
      {"POST", "/api/points", "{\"name\":\"P\",\"kind\":\"castle\",\"link_profile\":\"hall\"}", 400, "invalid"},
      {"POST", "/api/meetings/424242/invitations", "{\"point_id\":1}", 404, "not-found"},
      {"POST", "/api/meetings/1/invitations", "{\"point_id\":999}", 400, "invalid"},
      {"POST", "/api/meetings/1/invitations", "{\"point_id\":1,\"role\":\"king\"}", 400, "invalid"},
      {"DELETE", "/api/meetings", NULL, 405, "method-not-allowed"},
      {"GET", "/api/nothing", NULL, 404, "not-found"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    JsonNode *j = NULL;
    guint status = http(cases[i].method, cases[i].path, cases[i].body, T.key, &j);
    if (status != cases[i].status || !j || g_strcmp0(member(j, "error.code"), cases[i].code) ||
        !member(j, "error.message"))
      g_error("%s %s %s: got %u %s", cases[i].method, cases[i].path, cases[i].body ? cases[i].body : "",
              status, j ? json_to_string(j, FALSE) : "(no JSON)");
    json_node_unref(j);
  }
  char *filler = g_strnfill(70000, 'a');
  char *huge = g_strdup_printf("{\"title\":\"%s\",\"starts_at\":1,\"ends_at\":2}", filler);
  g_free(filler);
  JsonNode *j;
  g_assert_cmpuint(http("POST", "/api/meetings", huge, T.key, &j), ==, 413);
  json_node_unref(j);
  g_free(huge);
  g_assert_cmpuint(count_meetings(), ==, before); /* nothing half-written */
}

static void test_api_flow(void) {
  JsonNode *m, *inv;
  g_assert_cmpuint(http("POST", "/api/meetings",
                        "{\"title\":\"Giao ban\",\"starts_at\":3999990000,\"ends_at\":3999999000,\"host_point_id\":1}",
                        T.key, &m), ==, 201);
  int64_t id = json_object_get_int_member(json_node_get_object(m), "id");
  char *path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/invitations", id);
  g_assert_cmpuint(http("POST", path, "{\"point_id\":2,\"role\":\"participant\",\"expires_at\":4000000000}", T.key, &inv), ==, 201);
  const char *token = member(inv, "token"), *link = member(inv, "join_link");
  g_assert_nonnull(strstr(link, "/join#meeting="));
  g_assert_nonnull(strstr(link, token));
  /* the point's link profile travels in its link: the page joins on its tier; all of it in
   * the fragment, which no browser sends to a server (issue 16), so the page's URL is /join
   * for every meeting and a browser's copy serves the next one too */
  char *tail = g_strconcat("&profile=highland&token=", token, NULL);
  g_assert_true(g_str_has_suffix(link, tail));
  g_free(tail);
  g_assert_null(strchr(link, '?'));
  dc_token_claims c;
  g_assert_true(dc_token_verify(dc_store_secret(T.store), token, 1500, &c, NULL));
  g_assert_cmpint(c.meeting_id, ==, id);
  g_assert_cmpint(c.point_id, ==, 2);
  g_free(path);
  json_node_unref(m);
  json_node_unref(inv);
}

/* A response header of GET path (g_free it), or NULL. */
static char *header_of(const char *path, const char *name) {
  char *url = g_strconcat(T.base, path, NULL);
  SoupMessage *msg = soup_message_new("GET", url);
  g_free(url);
  wait_t w = {.loop = g_main_loop_new(NULL, FALSE)};
  soup_session_send_and_read_async(T.session, msg, G_PRIORITY_DEFAULT, NULL, on_sent, &w);
  g_main_loop_run(w.loop);
  g_main_loop_unref(w.loop);
  g_assert_no_error(w.error);
  g_bytes_unref(w.body);
  char *v = g_strdup(soup_message_headers_get_one(soup_message_get_response_headers(msg), name));
  g_object_unref(msg);
  return v;
}

/* GET path as sent, undecoded: with "Accept-Encoding: gzip" or without any; *encoding is the
 * answer's Content-Encoding (g_free it). */
static GBytes *raw_get(const char *path, bool gzip, char **encoding) {
  char *url = g_strconcat(T.base, path, NULL);
  SoupMessage *msg = soup_message_new("GET", url);
  g_free(url);
  soup_message_disable_feature(msg, SOUP_TYPE_CONTENT_DECODER);
  if (gzip)
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Accept-Encoding", "gzip");
  wait_t w = {.loop = g_main_loop_new(NULL, FALSE)};
  soup_session_send_and_read_async(T.session, msg, G_PRIORITY_DEFAULT, NULL, on_sent, &w);
  g_main_loop_run(w.loop);
  g_main_loop_unref(w.loop);
  g_assert_no_error(w.error);
  g_assert_cmpuint(soup_message_get_status(msg), ==, 200);
  *encoding = g_strdup(soup_message_headers_get_one(soup_message_get_response_headers(msg), "Content-Encoding"));
  g_object_unref(msg);
  return w.body;
}

/* The page's files go gzipped to a browser that takes it (a highland point loads them over
 * 32-64 kbit/s), whole to a client that does not, the same bytes either way. */
static void test_page_gzipped(void) {
  char *file = g_build_filename(g_getenv("DC_WEB_DIR"), "app.js", NULL), *want = NULL, *encoding = NULL;
  gsize want_len;
  g_assert_true(g_file_get_contents(file, &want, &want_len, NULL));
  GBytes *plain = raw_get("/app.js", false, &encoding);
  g_assert_null(encoding);
  g_assert_cmpmem(g_bytes_get_data(plain, NULL), g_bytes_get_size(plain), want, want_len);
  GBytes *gz = raw_get("/app.js", true, &encoding);
  g_assert_cmpstr(encoding, ==, "gzip");
  if (g_bytes_get_size(gz) * 2 > want_len)
    g_error("app.js gzipped is %zu bytes of %zu: not much smaller", g_bytes_get_size(gz), (size_t)want_len);
  GZlibDecompressor *z = g_zlib_decompressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  gsize cap = want_len + 16, read = 0, written = 0;
  char *out = g_malloc(cap);
  g_assert_cmpint(g_converter_convert(G_CONVERTER(z), g_bytes_get_data(gz, NULL), g_bytes_get_size(gz), out, cap,
                                      G_CONVERTER_INPUT_AT_END, &read, &written, NULL), ==, G_CONVERTER_FINISHED);
  g_assert_cmpmem(out, written, want, want_len);
  g_object_unref(z);
  g_free(out);
  g_free(encoding);
  g_bytes_unref(gz);
  g_bytes_unref(plain);
  g_free(want);
  g_free(file);
}

/* GET path, undecoded, with "Accept-Encoding: gzip" or none and an If-None-Match or none;
 * returns the answer (g_object_unref it), its body in *body. */
static SoupMessage *conditional_get(const char *path, bool gzip, const char *if_none_match, GBytes **body) {
  char *url = g_strconcat(T.base, path, NULL);
  SoupMessage *msg = soup_message_new("GET", url);
  g_free(url);
  soup_message_disable_feature(msg, SOUP_TYPE_CONTENT_DECODER);
  SoupMessageHeaders *h = soup_message_get_request_headers(msg);
  if (gzip)
    soup_message_headers_replace(h, "Accept-Encoding", "gzip");
  if (if_none_match)
    soup_message_headers_replace(h, "If-None-Match", if_none_match);
  wait_t w = {.loop = g_main_loop_new(NULL, FALSE)};
  soup_session_send_and_read_async(T.session, msg, G_PRIORITY_DEFAULT, NULL, on_sent, &w);
  g_main_loop_run(w.loop);
  g_main_loop_unref(w.loop);
  g_assert_no_error(w.error);
  *body = w.body;
  return msg;
}

/* A page fetched again (a clerk's reload over a highland link) is answered 304 Not Modified
 * when the browser names what it holds, with the page's own policy (a browser updates its
 * copy's headers from a 304: the plain policy would block its scripts); anything else, or the
 * other encoding's tag, gets the page whole. */
static void test_page_not_modified(void) {
  const char *path = "/join?meeting=1";
  GBytes *body = NULL;
  SoupMessage *first = conditional_get(path, true, NULL, &body);
  g_assert_cmpuint(soup_message_get_status(first), ==, 200);
  SoupMessageHeaders *fh = soup_message_get_response_headers(first);
  char *tag = g_strdup(soup_message_headers_get_one(fh, "ETag"));
  const char *policy = soup_message_headers_get_one(fh, "Content-Security-Policy");
  if (!tag || !g_str_has_prefix(tag, "\"") || !g_str_has_suffix(tag, "-gz\""))
    g_error("the gzipped join page's ETag is %s: want a quoted strong tag naming its encoding", tag ? tag : "none");
  g_assert_nonnull(policy);
  g_assert_nonnull(strstr(policy, "'sha256-"));
  g_bytes_unref(body);

  char *weak = g_strconcat("W/", tag, NULL), *listed = g_strconcat("\"not-this\", ", tag, NULL);
  const char *same[] = {tag, weak, listed, "*"};
  for (size_t i = 0; i < G_N_ELEMENTS(same); i++) {
    SoupMessage *again = conditional_get(path, true, same[i], &body);
    SoupMessageHeaders *ah = soup_message_get_response_headers(again);
    if (soup_message_get_status(again) != 304 || g_bytes_get_size(body) != 0)
      g_error("If-None-Match: %s was answered %u with %zu bytes: want 304 and none", same[i],
              soup_message_get_status(again), g_bytes_get_size(body));
    g_assert_cmpstr(soup_message_headers_get_one(ah, "ETag"), ==, tag);
    g_assert_cmpstr(soup_message_headers_get_one(ah, "Content-Security-Policy"), ==, policy);
    g_assert_cmpstr(soup_message_headers_get_one(ah, "Cache-Control"), ==, "no-cache");
    g_assert_null(soup_message_headers_get_one(ah, "Content-Length")); /* RFC 9110 §8.6: not 0 */
    g_bytes_unref(body);
    g_object_unref(again);
  }

  const struct {
    bool gzip;
    const char *inm;
  } whole[] = {{true, "\"not-this\""}, {false, tag}, {true, "W/\"\""}};
  for (size_t i = 0; i < G_N_ELEMENTS(whole); i++) {
    SoupMessage *other = conditional_get(path, whole[i].gzip, whole[i].inm, &body);
    if (soup_message_get_status(other) != 200 || g_bytes_get_size(body) < 1000)
      g_error("If-None-Match: %s (%s) was answered %u with %zu bytes: want the page whole", whole[i].inm,
              whole[i].gzip ? "gzip" : "plain", soup_message_get_status(other), g_bytes_get_size(body));
    const char *got = soup_message_headers_get_one(soup_message_get_response_headers(other), "ETag");
    g_assert_nonnull(got);
    if (!whole[i].gzip)
      g_assert_cmpstr(got, !=, tag);
    g_bytes_unref(body);
    g_object_unref(other);
  }
  g_free(listed);
  g_free(weak);
  g_free(tag);
  g_object_unref(first);
}

/* The join page comes as one document (a highland point pays a TCP + TLS handshake a
 * connection): its style and script written in, each allowed by its hash in the page's policy,
 * the same bytes as the files. */
static void test_page_one_document(void) {
  char *encoding = NULL, *policy = header_of("/join?meeting=1", "Content-Security-Policy");
  GBytes *body = raw_get("/join?meeting=1", false, &encoding);
  char *page = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
  if (strstr(page, "src=\"/app.js\"") || strstr(page, "href=\"/style.css\""))
    g_error("the join page still refers to its files:\n%s", page);
  const char *files[] = {"app.js", "style.css"};
  for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
    char *path = g_build_filename(g_getenv("DC_WEB_DIR"), files[i], NULL), *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    char *element = g_strdup_printf(i == 0 ? "<script>%s</script>" : "<style>%s</style>", text);
    if (!strstr(page, element))
      g_error("the join page does not carry %s whole", files[i]);
    char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
    guint8 digest[32];
    for (int k = 0; k < 32; k++)
      digest[k] = (guint8)g_ascii_strtoull((char[]){hash[2 * k], hash[2 * k + 1], 0}, NULL, 16);
    char *b64 = g_base64_encode(digest, 32);
    char *source = g_strdup_printf("%s 'self' 'sha256-%s';", i == 0 ? "script-src" : "style-src", b64);
    if (!policy || !strstr(policy, source) || strstr(policy, "unsafe-inline"))
      g_error("the join page's policy %s does not allow exactly %s (%s)", policy, files[i], source);
    g_free(source), g_free(b64), g_free(hash), g_free(element), g_free(text), g_free(path);
  }
  /* an answer that is not a page keeps the plain policy */
  char *plain = header_of("/app.js", "Content-Security-Policy");
  if (!plain || strstr(plain, "sha256"))
    g_error("/app.js policy: %s", plain);
  g_free(plain);
  g_free(page);
  g_bytes_unref(body);
  g_free(encoding);
  g_free(policy);
}

static void test_page_served(void) {
  /* issue 16: no inline script runs, no Referer leaves, no framing, on every answer */
  const char *paths[] = {"/join?meeting=1", "/console", "/api/meetings", "/nothing-here"};
  for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
    char *csp = header_of(paths[i], "Content-Security-Policy"), *ref = header_of(paths[i], "Referrer-Policy"),
         *frame = header_of(paths[i], "X-Frame-Options");
    if (!csp || !strstr(csp, "script-src 'self'") || strstr(csp, "unsafe-inline") || !strstr(csp, "frame-ancestors 'none'") ||
        g_strcmp0(ref, "no-referrer") || g_strcmp0(frame, "DENY"))
      g_error("%s: CSP %s, Referrer-Policy %s, X-Frame-Options %s", paths[i], csp, ref, frame);
    g_free(csp), g_free(ref), g_free(frame);
  }
  char *hsts = header_of("/", "Strict-Transport-Security");
  g_assert_null(hsts); /* plain HTTP here: HSTS only over TLS */
  /* the pages have no inline script for the policy to block */
  const char *pages[] = {"index.html", "console.html"};
  for (size_t i = 0; i < G_N_ELEMENTS(pages); i++) {
    char *file = g_build_filename(g_getenv("DC_WEB_DIR"), pages[i], NULL), *html = NULL;
    g_assert_true(g_file_get_contents(file, &html, NULL, NULL));
    GRegex *inline_script = g_regex_new("<script(?![^>]*\\bsrc=)[^>]*>|\\son[a-z]+=|style=", G_REGEX_CASELESS, 0, NULL);
    if (g_regex_match(inline_script, html, 0, NULL))
      g_error("%s has inline script or style, which the policy blocks", pages[i]);
    /* an icon of their own, so no browser asks for /favicon.ico after the page loaded: on a
     * 32 kbit/s link that was a TLS handshake in the middle of the meeting's audio */
    if (!strstr(html, "<link rel=\"icon\" href=\"data:,\">"))
      g_error("%s declares no icon: browsers will ask for /favicon.ico mid-meeting", pages[i]);
    g_regex_unref(inline_script);
    g_free(html);
    g_free(file);
  }
  JsonNode *j = NULL;
  g_assert_cmpuint(http("GET", "/join?meeting=1&token=x", NULL, NULL, NULL), ==, 200);
  g_assert_cmpuint(http("GET", "/app.js", NULL, NULL, NULL), ==, 200);
  g_assert_cmpuint(http("GET", "/first_sound.js", NULL, NULL, NULL), ==, 200); /* the page's worklet */
  g_assert_cmpuint(http("GET", "/../../etc/passwd", NULL, NULL, NULL), ==, 404);
  g_assert_cmpuint(http("POST", "/", "x", NULL, &j), ==, 405);
  if (j)
    json_node_unref(j);
}


/* Joins a fresh connection with the token; returns it after "joined". */
static SoupWebsocketConnection *joined(client *c, int64_t meeting, const char *tok) {
  SoupWebsocketConnection *ws = ws_open(c);
  char *join = join_message(meeting, tok);
  soup_websocket_connection_send_text(ws, join);
  char *reply = ws_next(c);
  if (!reply || !strstr(reply, "\"type\":\"joined\""))
    g_error("expected joined, got %s", reply ? reply : "(closed)");
  g_free(reply);
  g_free(join);
  return ws;
}

/* Waits for an error with that code, then the close. */
static void expect_put_out(SoupWebsocketConnection *ws, client *c, const char *code) {
  char *reply = ws_next(c);
  char *want = g_strdup_printf("\"code\":\"%s\"", code);
  if (!reply || !strstr(reply, want))
    g_error("expected error %s, got %s", code, reply ? reply : "(closed)");
  g_free(want);
  g_free(reply);
  while (!c->closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);
}

/* Issue 10, defect 5: a token whose own claims are fine but whose invitation the store says
 * has expired (a re-signed token, say), or whose meeting is long over, is refused. */
static void test_store_has_the_last_word(void) {
  client c;
  SoupWebsocketConnection *ws = ws_open(&c);
  int64_t inv = dc_store_create_invitation(T.store, T.meeting, T.commune, "participant", 1000, NULL);
  char *tok = token_for(inv, T.meeting, T.commune, 4000000000); /* claims more than the store */
  expect_join_refused(ws, &c, T.meeting, tok, DC_ERR_CODE_EXPIRED_TOKEN, "expired");
  g_free(tok);
  GError *err = NULL;
  int64_t past = dc_store_create_meeting(T.store, "Hôm qua", 1000, 2000, T.hall, &err);
  inv = dc_store_create_invitation(T.store, past, T.commune, "participant", 4000000000, NULL);
  tok = token_for(inv, past, T.commune, 4000000000); /* still "scheduled", but long over */
  expect_join_refused(ws, &c, past, tok, DC_ERR_CODE_MEETING_ENDED, NULL);
  g_free(tok);
  /* a token claiming the host role on a participant's invitation */
  inv = dc_store_create_invitation(T.store, T.meeting, T.commune, "participant", 4000000000, NULL);
  dc_token_claims cl = {.invitation_id = inv, .meeting_id = T.meeting, .point_id = T.commune,
                        .role = "host", .expires_at = 4000000000};
  tok = dc_token_sign(dc_store_secret(T.store), &cl);
  expect_join_refused(ws, &c, T.meeting, tok, DC_ERR_CODE_INVALID_TOKEN, NULL);
  g_free(tok);
  /* defect 6: a name with a newline would forge a log line */
  inv = dc_store_create_invitation(T.store, T.meeting, T.commune, "participant", 4000000000, NULL);
  tok = token_for(inv, T.meeting, T.commune, 4000000000);
  char *msg = g_strdup_printf("{\"v\":1,\"type\":\"join\",\"meeting\":%" G_GINT64_FORMAT ",\"token\":\"%s\","
                              "\"name\":\"A\\ndiemcau-bridge info: host joined\"}", T.meeting, tok);
  expect_error(ws, &c, msg, DC_ERR_CODE_BAD_MESSAGE, "control characters");
  g_free(msg);
  g_free(tok);
  soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);
}

/* Defect 7: an operator revokes a leaked link (whoever is in with it is put out, nobody
 * joins with it again, others stay) and ends a meeting (everyone is put out, nobody joins). */
static void test_revoke_and_end(void) {
  GError *err = NULL;
  int64_t meeting = dc_store_create_meeting(T.store, "Thu hồi", 1, 4000000000, T.hall, &err);
  int64_t leaked = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
  int64_t other = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
  char *tok_leaked = token_for(leaked, meeting, T.commune, 4000000000);
  char *tok_other = token_for(other, meeting, T.commune, 4000000000);
  client a, b;
  SoupWebsocketConnection *wa = joined(&a, meeting, tok_leaked), *wb = joined(&b, meeting, tok_other);
  JsonNode *reply = NULL;
  char *path = g_strdup_printf("/api/invitations/%" G_GINT64_FORMAT "/revoke", leaked);
  g_assert_cmpuint(http("POST", path, NULL, NULL, NULL), ==, 401);
  g_assert_cmpuint(http("POST", path, "{}", T.key, &reply), ==, 200);
  g_assert_cmpint(json_object_get_int_member(json_node_get_object(reply), "disconnected"), ==, 1);
  json_node_unref(reply);
  g_free(path);
  expect_put_out(wa, &a, DC_ERR_CODE_REVOKED);
  g_assert_false(b.closed);
  client c;
  SoupWebsocketConnection *wc = ws_open(&c);
  expect_join_refused(wc, &c, meeting, tok_leaked, DC_ERR_CODE_REVOKED, "withdrawn");
  g_assert_cmpuint(http("POST", "/api/invitations/999999/revoke", "{}", T.key, &reply), ==, 404);
  json_node_unref(reply);
  g_assert_cmpuint(http("GET", "/api/invitations/1/revoke", NULL, T.key, &reply), ==, 405);
  json_node_unref(reply);

  path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/end", meeting);
  g_assert_cmpuint(http("POST", path, "{}", T.key, &reply), ==, 200);
  g_assert_cmpint(json_object_get_int_member(json_node_get_object(reply), "disconnected"), ==, 1);
  json_node_unref(reply);
  g_free(path);
  expect_put_out(wb, &b, DC_ERR_CODE_MEETING_ENDED);
  expect_join_refused(wc, &c, meeting, tok_other, DC_ERR_CODE_MEETING_ENDED, NULL);
  dc_meeting *m = dc_store_get_meeting(T.store, meeting, &err);
  g_assert_cmpstr(dc_meeting_state(m, g_get_real_time() / G_USEC_PER_SEC), ==, "ended");
  dc_meeting_free(m);
  g_assert_cmpuint(http("POST", "/api/meetings/999999/end", "{}", T.key, &reply), ==, 404);
  json_node_unref(reply);
  soup_websocket_connection_close(wc, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(wc);
  g_free(tok_leaked);
  g_free(tok_other);
}


/* Waits (at most 10 s) for a message holding `needle`; the rest is dropped. */
static char *ws_wait_for(client *c, const char *needle) {
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < end) {
    while (!g_queue_is_empty(&c->messages)) {
      char *m = g_queue_pop_head(&c->messages);
      if (strstr(m, needle))
        return m;
      g_free(m);
    }
    g_main_context_iteration(NULL, FALSE);
    g_usleep(1000);
  }
  g_error("no message with %s within 10 s", needle);
}

/* The next roster or roster_changes the client got, parsed. */
static dc_server_msg next_roster(client *c) {
  char *text = ws_wait_for(c, "\"type\":\"roster");
  dc_server_msg m;
  char *why = NULL;
  if (!dc_protocol_parse_server(text, strlen(text), &m, &why))
    g_error("the bridge's roster does not parse (%s): %s", why, text);
  g_free(text);
  return m;
}

/* Issue 15: a member that asked for roster_changes gets the whole roster once, then one entry
 * a join, one a mute, an id a leave; one that did not (an older endpoint) gets the whole each
 * time. Applied, the changes make the roster a newcomer gets whole. */
static void test_roster_changes(void) {
  GError *err = NULL;
  int64_t meeting = dc_store_create_meeting(T.store, "Danh sách", 1, 4000000000, T.hall, &err);
  g_assert_no_error(err);
  enum { A, B, C };
  static const bool asks[] = {true, false, true};
  client cs[3];
  SoupWebsocketConnection *ws[3];
  dc_server_msg held = {0}; /* A's roster, the changes applied */
  for (int i = A; i <= C; i++) {
    int64_t inv = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
    char *tok = token_for(inv, meeting, T.commune, 4000000000);
    ws[i] = ws_open(&cs[i]);
    char *join = g_strdup_printf("{\"v\":1,\"type\":\"join\",\"meeting\":%" G_GINT64_FORMAT ",\"token\":\"%s\","
                                 "\"name\":\"Điểm %c\"%s}", meeting, tok, 'A' + i,
                                 asks[i] ? ",\"roster_changes\":true" : "");
    soup_websocket_connection_send_text(ws[i], join);
    g_free(join);
    g_free(tok);
    dc_server_msg mine = next_roster(&cs[i]); /* everyone's first is whole */
    g_assert_cmpint(mine.type, ==, DC_SMSG_ROSTER);
    g_assert_cmpuint(mine.n_roster, ==, (size_t)i + 1);
    if (i == A) {
      held = mine;
      continue;
    }
    dc_server_msg a = next_roster(&cs[A]);
    g_test_message("A, as %c joins: %s with %zu entries", 'A' + i, a.type == DC_SMSG_ROSTER ? "roster" : "roster_changes",
                   a.n_roster);
    g_assert_cmpint(a.type, ==, DC_SMSG_ROSTER_CHANGES);
    g_assert_cmpuint(a.n_roster, ==, 1);
    g_assert_cmpuint(a.n_left, ==, 0);
    g_assert_cmpint(a.roster[0].participant, ==, mine.roster[i].participant);
    char *why = NULL;
    g_assert_true(dc_protocol_apply_roster_changes(&held, &a, &why));
    if (i == C) {
      dc_server_msg b = next_roster(&cs[B]);
      g_assert_cmpint(b.type, ==, DC_SMSG_ROSTER); /* B did not ask */
      g_assert_cmpuint(b.n_roster, ==, 3);
      dc_server_msg_clear(&b);
      g_assert_cmpuint(held.n_roster, ==, mine.n_roster); /* A's applied = C's whole */
      for (size_t k = 0; k < held.n_roster; k++) {
        g_assert_cmpint(held.roster[k].participant, ==, mine.roster[k].participant);
        g_assert_cmpstr(held.roster[k].name, ==, mine.roster[k].name);
        g_assert_cmpstr(held.roster[k].point, ==, mine.roster[k].point);
      }
    }
    dc_server_msg_clear(&mine);
  }
  /* C mutes itself: A and C hear of one entry, B gets the whole */
  soup_websocket_connection_send_text(ws[C], "{\"v\":1,\"type\":\"mute\",\"audio\":true}");
  dc_server_msg a = next_roster(&cs[A]), b = next_roster(&cs[B]);
  g_assert_cmpint(a.type, ==, DC_SMSG_ROSTER_CHANGES);
  g_assert_cmpuint(a.n_roster, ==, 1);
  g_assert_true(a.roster[0].muted);
  g_assert_cmpint(b.type, ==, DC_SMSG_ROSTER);
  g_assert_cmpuint(b.n_roster, ==, 3);
  int64_t b_id = held.roster[1].participant;
  char *why = NULL;
  g_assert_true(dc_protocol_apply_roster_changes(&held, &a, &why));
  g_assert_true(held.roster[2].muted);
  dc_server_msg_clear(&b);
  /* B leaves (a leave, not a dropped connection, which would show it reconnecting): A is told its id */
  soup_websocket_connection_send_text(ws[B], "{\"v\":1,\"type\":\"leave\"}");
  a = next_roster(&cs[A]);
  g_assert_cmpint(a.type, ==, DC_SMSG_ROSTER_CHANGES);
  g_assert_cmpuint(a.n_roster, ==, 0);
  g_assert_cmpuint(a.n_left, ==, 1);
  g_assert_cmpint(a.left[0], ==, b_id);
  g_assert_true(dc_protocol_apply_roster_changes(&held, &a, &why));
  g_assert_cmpuint(held.n_roster, ==, 2);
  dc_server_msg_clear(&held);
  for (int i = A; i <= C; i++) {
    if (i != B)
      soup_websocket_connection_close(ws[i], SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    while (!cs[i].closed)
      g_main_context_iteration(NULL, TRUE);
    g_object_unref(ws[i]);
    g_queue_clear_full(&cs[i].messages, g_free);
  }
}

/* ---- chairing (issue 14) ---- */

static char *token_as(int64_t invitation, int64_t meeting, int64_t point, const char *role) {
  dc_token_claims claims = {.invitation_id = invitation, .meeting_id = meeting, .point_id = point, .expires_at = 4000000000};
  g_strlcpy(claims.role, role, sizeof claims.role);
  return dc_token_sign(dc_store_secret(T.store), &claims);
}

/* A point's join as `role`, returning its participant id (from joined). */
static SoupWebsocketConnection *joined_as(client *c, int64_t meeting, int64_t invitation, int64_t point, const char *role,
                                          const char *name, int64_t *id) {
  char *tok = token_as(invitation, meeting, point, role);
  SoupWebsocketConnection *ws = ws_open(c);
  char *join = g_strdup_printf("{\"v\":1,\"type\":\"join\",\"meeting\":%" G_GINT64_FORMAT ",\"token\":\"%s\",\"name\":\"%s\"}",
                               meeting, tok, name);
  soup_websocket_connection_send_text(ws, join);
  char *reply = ws_next(c);
  dc_server_msg m;
  char *why = NULL;
  if (!reply || !dc_protocol_parse_server(reply, strlen(reply), &m, &why) || m.type != DC_SMSG_JOINED)
    g_error("%s: expected joined, got %s (%s)", name, reply ? reply : "(closed)", why ? why : "");
  *id = m.participant;
  dc_server_msg_clear(&m);
  g_free(reply);
  g_free(join);
  g_free(tok);
  return ws;
}

typedef enum { HOST_MUTED, NOT_HOST_MUTED, FIRST_HAND, HAS_FLOOR, MUTED } chair_state;

static bool entry_is(const dc_roster_entry *e, chair_state want) {
  switch (want) {
  case HOST_MUTED: return e->host_muted && e->muted && !e->floor;
  case NOT_HOST_MUTED: return !e->host_muted && !e->muted;
  case FIRST_HAND: return e->hand == 1;
  case HAS_FLOOR: return e->floor && !e->host_muted && !e->muted && e->hand == 0;
  case MUTED: return e->muted;
  }
  return false;
}

/* Whether the last roster c read, or one it gets within 10 s, shows `who` so (rosters are
 * paced: the one a command brings may follow others, and a command that changes nothing
 * brings none); what it last showed goes in the test's log. */
static bool roster_shows(client *c, int64_t who, chair_state want) {
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  char *seen = g_strdup("no roster");
  bool ok = false;
  for (bool first = true; !ok && g_get_monotonic_time() < end; first = false) {
    if (!first || !c->roster) {
      g_free(c->roster);
      c->roster = ws_wait_for(c, "\"type\":\"roster");
    }
    dc_server_msg m;
    char *why = NULL;
    if (!dc_protocol_parse_server(c->roster, strlen(c->roster), &m, &why))
      g_error("the bridge's roster does not parse (%s): %s", why, c->roster);
    for (size_t i = 0; i < m.n_roster; i++)
      if (m.roster[i].participant == who) {
        const dc_roster_entry *e = &m.roster[i];
        ok = entry_is(e, want);
        g_free(seen);
        seen = g_strdup_printf("muted %d host_muted %d hand %d floor %d", e->muted, e->host_muted, e->hand, e->floor);
      }
    dc_server_msg_clear(&m);
  }
  if (!ok)
    g_test_message("participant %" G_GINT64_FORMAT ", wanted state %d: %s", who, want, seen);
  g_free(seen);
  return ok;
}

/* Waits for a roster that holds `needle` (its meeting's side), as roster_shows. */
static bool roster_says(client *c, const char *needle) {
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  for (bool first = true; g_get_monotonic_time() < end; first = false) {
    if (!first || !c->roster) {
      g_free(c->roster);
      c->roster = ws_wait_for(c, "\"type\":\"roster");
    }
    if (strstr(c->roster, needle))
      return true;
  }
  g_test_message("no roster with %s; the last: %s", needle, c->roster);
  return false;
}

/* The chair's controls over signaling alone: host mutes, hands and the floor, mute all,
 * observers, removing and letting back in, locking and ending, each refused to anyone but
 * the host, and the meeting's log of them. browser-chairing checks what they do to the
 * sound, the slots and the pages in the normal build; this runs chair.c in the sanitizer
 * build too, in a second rather than that test's minute and a half there. */
static void test_chair(void) {
  GError *err = NULL;
  int64_t meeting = dc_store_create_meeting(T.store, "Chủ trì", 1, 4000000000, T.hall, &err);
  g_assert_no_error(err);
  enum { HOST, A, B, OBS, N };
  static const char *const roles[N] = {"host", "participant", "participant", "observer"};
  static const char *const names[N] = {"Chủ trì", "Xã A", "Xã B", "Quan sát"};
  client cs[N];
  SoupWebsocketConnection *ws[N];
  int64_t inv[N], id[N], point[N];
  for (int i = HOST; i < N; i++) {
    point[i] = i == HOST ? T.hall : T.commune;
    inv[i] = dc_store_create_invitation(T.store, meeting, point[i], roles[i], 4000000000, NULL);
    ws[i] = joined_as(&cs[i], meeting, inv[i], point[i], roles[i], names[i], &id[i]);
  }
  client *host = &cs[HOST];
  char *msg;
#define SEND(who, ...)                                                                                             \
  do {                                                                                                             \
    msg = g_strdup_printf(__VA_ARGS__);                                                                            \
    soup_websocket_connection_send_text(ws[who], msg);                                                             \
    g_free(msg);                                                                                                   \
  } while (0)

  /* the host mutes A, who cannot unmute itself but may raise its hand */
  SEND(HOST, "{\"v\":1,\"type\":\"host_mute\",\"participant\":%" G_GINT64_FORMAT ",\"muted\":true}", id[A]);
  g_assert_true(roster_shows(host, id[A], HOST_MUTED));
  expect_error(ws[A], &cs[A], "{\"v\":1,\"type\":\"mute\",\"audio\":false}", DC_ERR_CODE_MUTED_BY_HOST, "raise your hand");
  soup_websocket_connection_send_text(ws[A], "{\"v\":1,\"type\":\"hand\",\"raised\":true}");
  g_assert_true(roster_shows(host, id[A], FIRST_HAND));
  expect_error(ws[OBS], &cs[OBS], "{\"v\":1,\"type\":\"hand\",\"raised\":true}", DC_ERR_CODE_NOT_ALLOWED, "observer");

  /* nobody but the host chairs: B tries each command */
  static const char *const commands[] = {
      "{\"v\":1,\"type\":\"host_mute\",\"participant\":1,\"muted\":true}", "{\"v\":1,\"type\":\"mute_all\",\"muted\":true}",
      "{\"v\":1,\"type\":\"give_floor\",\"participant\":1}", "{\"v\":1,\"type\":\"take_floor\"}",
      "{\"v\":1,\"type\":\"remove\",\"participant\":1}", "{\"v\":1,\"type\":\"readmit\",\"invitation\":1}",
      "{\"v\":1,\"type\":\"lock\",\"locked\":true}", "{\"v\":1,\"type\":\"end_meeting\"}",
      "{\"v\":1,\"type\":\"record\",\"recording\":true}"};
  for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
    expect_error(ws[B], &cs[B], commands[i], DC_ERR_CODE_NOT_ALLOWED, "only the meeting's host");

  /* what the host may not do either */
  msg = g_strdup_printf("{\"v\":1,\"type\":\"host_mute\",\"participant\":%" G_GINT64_FORMAT ",\"muted\":true}", id[HOST]);
  expect_error(ws[HOST], host, msg, DC_ERR_CODE_UNKNOWN_PARTICIPANT, "not itself");
  g_free(msg);
  expect_error(ws[HOST], host, "{\"v\":1,\"type\":\"give_floor\",\"participant\":999999}", DC_ERR_CODE_UNKNOWN_PARTICIPANT,
               "no such participant");
  msg = g_strdup_printf("{\"v\":1,\"type\":\"give_floor\",\"participant\":%" G_GINT64_FORMAT "}", id[OBS]);
  expect_error(ws[HOST], host, msg, DC_ERR_CODE_NOT_ALLOWED, "observer");
  g_free(msg);
  expect_error(ws[HOST], host, "{\"v\":1,\"type\":\"readmit\",\"invitation\":999999}", DC_ERR_CODE_UNKNOWN_PARTICIPANT,
               "no such invitation");

  /* the floor: A speaks, its hand down; mute all silences B but not the floor; taking the
   * floor back leaves A muted, as mute all has it */
  SEND(HOST, "{\"v\":1,\"type\":\"give_floor\",\"participant\":%" G_GINT64_FORMAT "}", id[A]);
  g_assert_true(roster_shows(host, id[A], HAS_FLOOR));
  SEND(HOST, "{\"v\":1,\"type\":\"mute_all\",\"muted\":true}");
  g_assert_true(roster_shows(host, id[B], HOST_MUTED));
  g_assert_true(roster_shows(host, id[A], HAS_FLOOR));
  SEND(HOST, "{\"v\":1,\"type\":\"take_floor\"}");
  g_assert_true(roster_shows(host, id[A], HOST_MUTED));
  SEND(HOST, "{\"v\":1,\"type\":\"mute_all\",\"muted\":false}");
  g_assert_true(roster_shows(host, id[B], NOT_HOST_MUTED));
  g_assert_true(roster_shows(host, id[OBS], MUTED)); /* an observer listens, whatever the mode */

  /* locked: an invitation never used in the meeting is refused, one that was is taken back */
  SEND(HOST, "{\"v\":1,\"type\":\"lock\",\"locked\":true}");
  g_assert_true(roster_says(host, "\"locked\":true"));
  int64_t late = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
  char *late_tok = token_for(late, meeting, T.commune, 4000000000);
  client other;
  SoupWebsocketConnection *wo = ws_open(&other);
  expect_join_refused(wo, &other, meeting, late_tok, DC_ERR_CODE_LOCKED, "locked");

  /* B removed: put out, refused, listed; let back in, it rejoins the locked meeting */
  SEND(HOST, "{\"v\":1,\"type\":\"remove\",\"participant\":%" G_GINT64_FORMAT "}", id[B]);
  expect_put_out(ws[B], &cs[B], DC_ERR_CODE_REMOVED);
  g_queue_clear_full(&cs[B].messages, g_free);
  g_clear_pointer(&cs[B].roster, g_free);
  char *b_tok = token_as(inv[B], meeting, T.commune, "participant");
  expect_join_refused(wo, &other, meeting, b_tok, DC_ERR_CODE_REMOVED, "removed");
  char *listed = g_strdup_printf("\"invitation\":%" G_GINT64_FORMAT, inv[B]);
  g_assert_true(roster_says(host, listed));
  g_free(listed);
  SEND(HOST, "{\"v\":1,\"type\":\"readmit\",\"invitation\":%" G_GINT64_FORMAT "}", inv[B]);
  g_assert_true(roster_says(host, "\"removed\":[]"));
  ws[B] = joined_as(&cs[B], meeting, inv[B], T.commune, "participant", names[B], &id[B]);

  /* the end: everyone is put out, and the meeting's log holds what the chair did */
  soup_websocket_connection_send_text(ws[HOST], "{\"v\":1,\"type\":\"end_meeting\"}");
  for (int i = HOST; i < N; i++) {
    expect_put_out(ws[i], &cs[i], DC_ERR_CODE_MEETING_ENDED);
    g_queue_clear_full(&cs[i].messages, g_free);
    g_free(cs[i].roster);
  }
  GPtrArray *events = dc_store_list_events(T.store, meeting, &err);
  g_assert_no_error(err);
  GString *kinds = g_string_new(NULL);
  for (guint i = 0; i < events->len; i++)
    g_string_append_printf(kinds, " %s", ((dc_meeting_event *)events->pdata[i])->kind);
  g_test_message("the meeting's log:%s", kinds->str);
  static const char *const wanted[] = {"host-mute", "hand-raised", "floor-given", "mute-all", "floor-taken",
                                       "unmute-all", "locked", "removed", "readmitted", "ended"};
  const char *at = kinds->str;
  for (size_t i = 0; i < G_N_ELEMENTS(wanted); i++) { /* in this order */
    char *word = g_strdup_printf(" %s", wanted[i]);
    const char *found = strstr(at, word);
    if (!found)
      g_error("the meeting's log lacks %s after its place: %s", wanted[i], kinds->str);
    at = found + strlen(word);
    g_free(word);
  }
  g_string_free(kinds, TRUE);
  g_ptr_array_unref(events);
#undef SEND
  soup_websocket_connection_close(wo, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!other.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(wo);
  g_queue_clear_full(&other.messages, g_free);
  g_free(late_tok);
  g_free(b_tok);
}

/* Issue 15: roster messages are paced. Joins that come together reach a member in a few
 * messages, not one each (a storm of 300 was 90 000 messages for the bridge to send), the
 * first at once; applied, they make the roster a later newcomer gets whole. */
static void test_roster_paced(void) {
  GError *err = NULL;
  int64_t meeting = dc_store_create_meeting(T.store, "Dồn lại", 1, 4000000000, T.hall, &err);
  g_assert_no_error(err);
  enum { JOINERS = 12, ALL = JOINERS + 2 };
  client cs[ALL];
  SoupWebsocketConnection *ws[ALL];
  for (int i = 0; i < ALL; i++)
    ws[i] = ws_open(&cs[i]);
  char *joins[ALL];
  for (int i = 0; i < ALL; i++) {
    int64_t inv = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
    char *tok = token_for(inv, meeting, T.commune, 4000000000);
    joins[i] = g_strdup_printf("{\"v\":1,\"type\":\"join\",\"meeting\":%" G_GINT64_FORMAT ",\"token\":\"%s\","
                               "\"name\":\"Điểm %d\",\"roster_changes\":true}", meeting, tok, i);
    g_free(tok);
  }
  soup_websocket_connection_send_text(ws[0], joins[0]);
  dc_server_msg held = next_roster(&cs[0]);
  g_assert_cmpuint(held.n_roster, ==, 1);
  gint64 sent_us = g_get_monotonic_time();
  for (int i = 1; i <= JOINERS; i++) /* together */
    soup_websocket_connection_send_text(ws[i], joins[i]);
  int messages = 0;
  gint64 first_us = 0;
  while (held.n_roster < JOINERS + 1) {
    dc_server_msg a = next_roster(&cs[0]);
    if (!first_us)
      first_us = g_get_monotonic_time();
    messages++;
    g_assert_cmpint(a.type, ==, DC_SMSG_ROSTER_CHANGES);
    char *why = NULL;
    g_assert_true(dc_protocol_apply_roster_changes(&held, &a, &why));
    dc_server_msg_clear(&a);
  }
  g_test_message("%d joins together reached a member in %d roster messages, the first after %.0f ms", JOINERS,
                 messages, (first_us - sent_us) / 1000.0);
  if (messages >= JOINERS)
    g_error("%d joins together took %d roster messages to a member: not paced", JOINERS, messages);
  /* a newcomer after them all gets the same roster whole */
  soup_websocket_connection_send_text(ws[ALL - 1], joins[ALL - 1]);
  dc_server_msg late = next_roster(&cs[ALL - 1]);
  g_assert_cmpint(late.type, ==, DC_SMSG_ROSTER);
  g_assert_cmpuint(late.n_roster, ==, JOINERS + 2);
  for (size_t k = 0; k < held.n_roster; k++) {
    g_assert_cmpint(held.roster[k].participant, ==, late.roster[k].participant);
    g_assert_cmpstr(held.roster[k].name, ==, late.roster[k].name);
  }
  dc_server_msg_clear(&late);
  dc_server_msg_clear(&held);
  for (int i = 0; i < ALL; i++) {
    soup_websocket_connection_close(ws[i], SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    while (!cs[i].closed)
      g_main_context_iteration(NULL, TRUE);
    g_object_unref(ws[i]);
    g_queue_clear_full(&cs[i].messages, g_free);
    g_free(joins[i]);
  }
}

/* The server's side of its TCP connections (this process holds both ends): each one's
 * window clamp, those accepted on port and not the listener. */
static int server_clamps(guint port, int *clamps, int cap) {
  int n = 0;
  GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
  for (const char *name; d && (name = g_dir_read_name(d)) && n < cap;) {
    int fd = atoi(name), type = 0, listening = 0, clamp = 0;
    socklen_t l = sizeof type;
    struct sockaddr_in local, peer;
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) || type != SOCK_STREAM ||
        getsockname(fd, (struct sockaddr *)&local, &ll) || local.sin_family != AF_INET || ntohs(local.sin_port) != port)
      continue;
    l = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) || listening ||
        getpeername(fd, (struct sockaddr *)&peer, &pl))
      continue;
    l = sizeof clamp;
    if (!getsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &clamp, &l))
      clamps[n++] = clamp;
  }
  if (d)
    g_dir_close(d);
  return n;
}

static int count_clamps(const int *clamps, int n, int want) {
  int k = 0;
  for (int i = 0; i < n; i++)
    k += clamps[i] == want;
  return k;
}

/* Issue 12: a client may send one segment before we acknowledge it (server.h), so a thin
 * link's small queue takes its TLS ClientHello and offer without a drop; once it has joined,
 * a point that is not highland gets the wide window. */
static void test_thin_link_window(void) {
  GError *err = NULL;
  int64_t meeting = dc_store_create_meeting(T.store, "Cửa sổ", 1, 4000000000, T.hall, &err);
  g_assert_no_error(err);
  guint port = dc_server_port(T.server);
  client cs[2];
  SoupWebsocketConnection *ws[2];
  static const char *const profiles[] = {"highland", "standard"};
  for (int i = 0; i < 2; i++)
    ws[i] = ws_open(&cs[i]);
  int clamps[16], n = server_clamps(port, clamps, 16);
  g_test_message("before any join: %d connections, %d of them at the first window", n,
                 count_clamps(clamps, n, DC_SIGNALING_FIRST_WINDOW));
  g_assert_cmpint(n, >=, 2);
  g_assert_cmpint(count_clamps(clamps, n, DC_SIGNALING_FIRST_WINDOW), ==, n);
  for (int i = 0; i < 2; i++) {
    int64_t inv = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
    char *tok = token_for(inv, meeting, T.commune, 4000000000);
    char *join = g_strdup_printf("{\"v\":1,\"type\":\"join\",\"meeting\":%" G_GINT64_FORMAT ",\"token\":\"%s\","
                                 "\"name\":\"Điểm %d\",\"profile\":\"%s\"}", meeting, tok, i, profiles[i]);
    soup_websocket_connection_send_text(ws[i], join);
    g_free(join);
    g_free(tok);
    dc_server_msg_clear((dc_server_msg[]){next_roster(&cs[i])});
  }
  n = server_clamps(port, clamps, 16);
  int narrow = count_clamps(clamps, n, DC_SIGNALING_FIRST_WINDOW), wide = count_clamps(clamps, n, DC_SIGNALING_WIDE_WINDOW);
  g_test_message("joined, one highland and one standard: %d connections, %d at the first window, %d wide", n, narrow, wide);
  g_assert_cmpint(wide, ==, 1);
  g_assert_cmpint(narrow, ==, n - 1);
  for (int i = 0; i < 2; i++) {
    soup_websocket_connection_close(ws[i], SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    while (!cs[i].closed)
      g_main_context_iteration(NULL, TRUE);
    g_object_unref(ws[i]);
    g_queue_clear_full(&cs[i].messages, g_free);
  }
}

/* An offer message with the SDP webrtcbin 1.22 offers (tests/unit/fixtures/sdp), as the
 * native endpoint sends it. */
static char *webrtcbin_offer(void) {
  char *sdp = NULL;
  char *path = g_test_build_filename(G_TEST_DIST, "..", "unit", "fixtures", "sdp", "webrtcbin-1.22.sdp", NULL);
  g_assert_true(g_file_get_contents(path, &sdp, NULL, NULL));
  g_free(path);
  JsonNode *node = json_node_new(JSON_NODE_VALUE);
  json_node_set_string(node, sdp);
  char *sdp_json = json_to_string(node, FALSE);
  json_node_unref(node);
  char *offer = g_strdup_printf("{\"v\":1,\"type\":\"offer\",\"sdp\":%s}", sdp_json);
  g_free(sdp_json);
  g_free(sdp);
  return offer;
}

/* Issue 9, defect 5: a participant whose media never comes up (its candidates never reach
 * the bridge, as behind blocked UDP) fills nobody's slots, shows as not connected, and is
 * told media-failed (not bad-offer: its offer was fine) when the bridge gives up on it. */
static void test_never_connected(void) {
  GError *err = NULL;
  int64_t meeting = dc_store_create_meeting(T.store, "Không kết nối", 1, 4000000000, T.hall, &err);
  char *offer = webrtcbin_offer();
  client a, b;
  SoupWebsocketConnection *ws[2];
  client *cs[2] = {&a, &b};
  for (int i = 0; i < 2; i++) {
    int64_t inv = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
    char *tok = token_for(inv, meeting, T.commune, 4000000000);
    ws[i] = joined(cs[i], meeting, tok);
    soup_websocket_connection_send_text(ws[i], offer); /* and never a candidate */
    g_free(tok);
  }
  /* b's slots (sent as its offer is taken, before the answer): a is in the meeting but
   * sends nothing, so it fills none */
  char *slots = ws_wait_for(&b, "\"type\":\"slots\"");
  g_test_message("b's slot map with a not connected: %s", slots);
  g_assert_nonnull(strstr(slots, "\"slots\":[0,0"));
  g_free(slots);
  char *failed = ws_wait_for(&a, "\"type\":\"error\"");
  g_test_message("a, after the bridge gave up: %s", failed);
  g_assert_nonnull(strstr(failed, "\"code\":\"" DC_ERR_CODE_MEDIA_FAILED "\""));
  g_free(failed);
  g_assert_nonnull(dc_bridge_find_room(T.bridge, meeting));
  for (int i = 0; i < 2; i++) {
    soup_websocket_connection_close(ws[i], SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    while (!cs[i]->closed)
      g_main_context_iteration(NULL, TRUE);
    g_object_unref(ws[i]);
  }
  /* with nobody left in it, the bridge lets the meeting's room go (its mixer, its tick) */
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (dc_bridge_find_room(T.bridge, meeting) && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, FALSE);
  g_assert_null(dc_bridge_find_room(T.bridge, meeting));
  g_free(offer);
}


static char *no_socket_warning; /* atomic: the worker's warning, kept by keep_warnings */
static GLogWriterOutput keep_warnings(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data) {
  for (gsize i = 0; i < n && level & G_LOG_LEVEL_WARNING; i++)
    if (!strcmp(fields[i].key, "MESSAGE") && fields[i].length < 0 &&
        strstr(fields[i].value, "a point cannot be given media")) {
      char *copy = g_strdup(fields[i].value);
      if (!g_atomic_pointer_compare_and_exchange(&no_socket_warning, NULL, copy))
        g_free(copy);
    }
  return g_log_writer_default(level, fields, n, data);
}

/* A bridge whose --ice-address is not this machine's (a typo, or the address DHCP gave it
 * before) can open no socket for a point's media: the point is told so at once and in those
 * words (media-failed), and the log warns the operator with this machine's addresses. Before,
 * the point waited out the connect timeout (20 s here, as the daemon's) and was told to
 * suspect its UDP and try a relay. A bridge and server of their own, on the same store. */
static void test_no_media_socket(void) {
  GError *err = NULL;
  char *nowhere[] = {"198.51.100.7", NULL}; /* TEST-NET-2: no machine's here; nothing is sent to it */
  dc_bridge_config bc = {.workers = 1, .connect_timeout_s = 20, .max_room = 2,
                         .transport = {.local_addresses = nowhere}};
  dc_bridge *bridge = dc_bridge_new(&bc, &err);
  g_assert_no_error(err);
  char *recordings = g_build_filename(T.dir, "recordings", NULL);
  dc_server_config sc = {.listen_address = "127.0.0.1", .port = 0, .web_dir = g_getenv("DC_WEB_DIR"),
                         .recordings_dir = recordings};
  dc_server *server = dc_server_new(&sc, T.store, bridge, &err);
  g_assert_no_error(err);
  char *base = T.base;
  T.base = g_strdup_printf("http://127.0.0.1:%u", dc_server_port(server));
  int64_t meeting = dc_store_create_meeting(T.store, "Sai địa chỉ", 1, 4000000000, T.hall, &err);
  int64_t inv = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
  char *tok = token_for(inv, meeting, T.commune, 4000000000), *offer = webrtcbin_offer();
  client c;
  /* the operator's warning is expected here: kept, not fatal */
  GLogLevelFlags fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  gint64 asked = g_get_monotonic_time();
  SoupWebsocketConnection *ws = joined(&c, meeting, tok);
  soup_websocket_connection_send_text(ws, offer);
  char *failed = ws_wait_for(&c, "\"type\":\"error\""); /* within 10 s: half the connect timeout */
  g_test_message("told after %.1f s: %s", (g_get_monotonic_time() - asked) / 1e6, failed);
  g_assert_nonnull(strstr(failed, "\"code\":\"" DC_ERR_CODE_MEDIA_FAILED "\""));
  g_assert_nonnull(strstr(failed, "no socket to carry media could be opened on the ICE address 198.51.100.7"));
  char *warned = g_atomic_pointer_get(&no_socket_warning);
  g_test_message("the operator was warned: %s", warned ? warned : "(nothing)");
  g_assert_nonnull(warned);
  g_assert_nonnull(strstr(warned, "198.51.100.7"));
  g_assert_nonnull(strstr(warned, "this machine's addresses:"));
  g_log_set_always_fatal(fatal);
  soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);
  g_free(failed);
  g_free(offer);
  g_free(tok);
  g_free(T.base);
  T.base = base;
  g_free(g_atomic_pointer_exchange(&no_socket_warning, NULL));
  dc_server_free(server);
  dc_bridge_free(bridge);
  g_free(recordings);
}


/* The first message with either needle (10 s at most). */
static char *ws_wait_for_either(client *c, const char *one, const char *other) {
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < end) {
    while (!g_queue_is_empty(&c->messages)) {
      char *m = g_queue_pop_head(&c->messages);
      if (strstr(m, one) || strstr(m, other))
        return m;
      g_free(m);
    }
    g_main_context_iteration(NULL, FALSE);
    g_usleep(1000);
  }
  g_error("no message with %s or %s within 10 s", one, other);
}

/* A meeting whose places with sound are all taken (this bridge's rooms hold 2, main()) tells
 * the next point so (meeting-full, not bad-offer: its offer was fine), sets nothing of it up,
 * and takes it once a place is free. Before, it was let in without sound and only the log
 * said so. */
static void test_meeting_full(void) {
  GError *err = NULL;
  int64_t meeting = dc_store_create_meeting(T.store, "Đủ chỗ", 1, 4000000000, T.hall, &err);
  g_assert_no_error(err);
  char *offer = webrtcbin_offer();
  enum { N = 4 };
  client cs[N];
  SoupWebsocketConnection *ws[N];
  char *toks[N];
  for (int i = 0; i < N; i++) {
    int64_t inv = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
    toks[i] = token_for(inv, meeting, T.commune, 4000000000);
  }
  for (int i = 0; i < 3; i++) {
    ws[i] = joined(&cs[i], meeting, toks[i]);
    soup_websocket_connection_send_text(ws[i], offer);
    char *reply = ws_wait_for(&cs[i], i < 2 ? "\"type\":\"answer\"" : "\"type\":\"error\"");
    g_test_message("point %d's offer: %.160s", i + 1, reply);
    if (i == 2) {
      g_assert_nonnull(strstr(reply, "\"code\":\"" DC_ERR_CODE_MEETING_FULL "\""));
      g_assert_nonnull(strstr(reply, "full"));
    }
    g_free(reply);
  }
  /* the first leaves: its place goes to the next point that asks */
  soup_websocket_connection_close(ws[0], SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!cs[0].closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws[0]);
  g_queue_clear_full(&cs[0].messages, g_free);
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  char *reply = NULL;
  while (g_get_monotonic_time() < end) { /* the leave reaches the room on the main loop's next turns */
    ws[3] = joined(&cs[3], meeting, toks[3]);
    soup_websocket_connection_send_text(ws[3], offer);
    reply = ws_wait_for_either(&cs[3], "\"type\":\"answer\"", "\"type\":\"error\"");
    if (strstr(reply, "\"type\":\"answer\""))
      break;
    g_test_message("a place not free yet: %.120s", reply);
    g_clear_pointer(&reply, g_free);
    soup_websocket_connection_close(ws[3], SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    while (!cs[3].closed)
      g_main_context_iteration(NULL, TRUE);
    g_object_unref(ws[3]);
    g_queue_clear_full(&cs[3].messages, g_free);
  }
  g_assert_nonnull(reply);
  g_test_message("a fourth point once the first left: %.80s", reply);
  g_free(reply);
  for (int i = 1; i < N; i++) {
    soup_websocket_connection_close(ws[i], SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    while (!cs[i].closed)
      g_main_context_iteration(NULL, TRUE);
    g_object_unref(ws[i]);
    g_queue_clear_full(&cs[i].messages, g_free);
  }
  for (int i = 0; i < N; i++)
    g_free(toks[i]);
  g_free(offer);
}

/* Issue 10: a page of another site cannot use a visitor's browser to talk to the bridge;
 * its own page (Origin = the host it was served from) and clients without an Origin can. */
static void test_origin_checked(void) {
  client c;
  SoupWebsocketConnection *ws = ws_open_from(&c, "https://evil.example");
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_test_message("another origin: closed with %u", c.close_code);
  g_assert_cmpuint(c.close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  g_object_unref(ws);
  ws = ws_open_from(&c, "http://127.0.0.1:1"); /* the right host, another port */
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpuint(c.close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  g_object_unref(ws);
  ws = ws_open_from(&c, T.base); /* our own page */
  expect_error(ws, &c, "{\"v\":1,\"type\":\"mute\",\"audio\":true}", DC_ERR_CODE_NOT_JOINED, NULL);
  soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);
}

/* ---- the operators' workflow (issue 13) ---- */

/* The reply to a request, which must have the status; fails printing what came instead. */
static JsonNode *api(const char *method, const char *path, const char *body, const char *key, guint want) {
  JsonNode *j = NULL;
  guint status = http(method, path, body, key, &j);
  if (status != want)
    g_error("%s %s %s: expected %u, got %u %s", method, path, body ? body : "", want, status,
            j ? json_to_string(j, FALSE) : "(no JSON)");
  return j;
}

static int64_t id_of(JsonNode *j) {
  int64_t id = json_object_get_int_member(json_node_get_object(j), "id");
  json_node_unref(j);
  return id;
}

static char *new_key(const char *name, const char *role) {
  char *body = g_strdup_printf("{\"name\":\"%s\",\"role\":\"%s\"}", name, role);
  JsonNode *j = api("POST", "/api/keys", body, T.key, 201);
  char *key = g_strdup(member(j, "key"));
  g_assert_cmpstr(member(j, "role"), ==, role);
  json_node_unref(j);
  g_free(body);
  return key;
}

/* Roles: a viewer reads, an operator changes meetings but not keys, a revoked key opens
 * nothing; every change is in the audit log under its key's name. */
static void test_api_roles(void) {
  char *viewer = new_key("Chị Lan (xem)", "viewer"), *op = new_key("Anh Nam (điều hành)", "operator");
  json_node_unref(api("GET", "/api/meetings", NULL, viewer, 200));
  JsonNode *j = api("POST", "/api/points", "{\"name\":\"Xã Cấm\",\"kind\":\"commune\",\"link_profile\":\"standard\"}", viewer, 403);
  g_assert_cmpstr(member(j, "error.code"), ==, "forbidden");
  g_assert_nonnull(strstr(member(j, "error.message"), "viewer"));
  json_node_unref(j);
  json_node_unref(api("GET", "/api/keys", NULL, op, 403));
  json_node_unref(api("POST", "/api/keys", "{\"name\":\"x\",\"role\":\"admin\"}", op, 403));
  int64_t point = id_of(api("POST", "/api/points",
                            "{\"name\":\"Xã Điều Hành\",\"kind\":\"other\",\"link_profile\":\"standard\",\"contact\":\"0912\"}", op, 201));
  j = api("GET", "/api/whoami", NULL, op, 200);
  g_assert_cmpstr(member(j, "role"), ==, "operator");
  g_assert_cmpstr(member(j, "time_zone"), ==, "Asia/Ho_Chi_Minh");
  json_node_unref(j);
  /* the audit log names who did it */
  j = api("GET", "/api/audit?limit=5", NULL, T.key, 200);
  JsonObject *last = json_array_get_object_element(json_node_get_array(j), 0);
  g_assert_cmpstr(json_object_get_string_member(last, "who"), ==, "Anh Nam (điều hành)");
  g_assert_cmpstr(json_object_get_string_member(last, "action"), ==, "point.create");
  json_node_unref(j);
  json_node_unref(api("GET", "/api/audit?limit=x", NULL, T.key, 400));
  /* revoked: nothing opens, and the last admin key cannot go */
  JsonNode *keys = api("GET", "/api/keys", NULL, T.key, 200);
  int64_t op_id = 0, admin_id = 0;
  JsonArray *ka = json_node_get_array(keys);
  for (guint i = 0; i < json_array_get_length(ka); i++) {
    JsonObject *o = json_array_get_object_element(ka, i);
    g_assert_false(json_object_has_member(o, "key")); /* shown once, at creation */
    if (!strcmp(json_object_get_string_member(o, "role"), "operator"))
      op_id = json_object_get_int_member(o, "id");
    if (!strcmp(json_object_get_string_member(o, "role"), "admin"))
      admin_id = json_object_get_int_member(o, "id");
  }
  json_node_unref(keys);
  char *path = g_strdup_printf("/api/keys/%" G_GINT64_FORMAT "/revoke", op_id);
  json_node_unref(api("POST", path, "{}", T.key, 200));
  g_free(path);
  json_node_unref(api("GET", "/api/meetings", NULL, op, 401));
  path = g_strdup_printf("/api/keys/%" G_GINT64_FORMAT "/revoke", admin_id);
  j = api("POST", path, "{}", T.key, 400);
  g_assert_nonnull(strstr(member(j, "error.message"), "last admin key"));
  json_node_unref(j);
  g_free(path);
  path = g_strdup_printf("/api/points/%" G_GINT64_FORMAT, point);
  j = api("PATCH", path, "{\"link_profile\":\"highland\",\"contact\":\"Anh Tú\"}", T.key, 200);
  g_assert_cmpstr(member(j, "link_profile"), ==, "highland");
  json_node_unref(j);
  json_node_unref(api("PATCH", path, "{\"kind\":\"village\"}", T.key, 400));
  json_node_unref(api("PATCH", path, "{\"contact\":7}", T.key, 400));
  j = api("GET", path, NULL, viewer, 200);
  g_assert_cmpstr(member(j, "kind"), ==, "other");
  g_assert_cmpstr(member(j, "contact"), ==, "Anh Tú");
  json_node_unref(j);
  g_free(path);
  g_free(viewer);
  g_free(op);
}

static int64_t now_s(void) { return g_get_real_time() / G_USEC_PER_SEC; }

/* The life cycle through the API: a meeting not yet open refuses joins and says when it
 * opens; moved to now, the link already sent joins; cancelled, everyone is put out and no
 * one joins; a weekly series; invalid bodies change nothing. */
static void test_api_life_cycle(void) {
  int64_t now = now_s();
  char *body = g_strdup_printf("{\"title\":\"Giao ban tuần\",\"starts_at\":%" G_GINT64_FORMAT ",\"ends_at\":%" G_GINT64_FORMAT
                               ",\"repeat\":{\"every\":\"week\",\"count\":3}}", now + 86400, now + 86400 + 5400);
  JsonNode *j = api("POST", "/api/meetings", body, T.key, 201);
  g_free(body);
  int64_t meeting = json_object_get_int_member(json_node_get_object(j), "id");
  g_assert_cmpstr(member(j, "state"), ==, "scheduled");
  g_assert_cmpint(json_object_get_int_member(json_node_get_object(j), "occurrences"), ==, 3);
  json_node_unref(j);
  char *q = g_strdup_printf("/api/meetings?from=%" G_GINT64_FORMAT, now + 3600);
  j = api("GET", q, NULL, T.key, 200);
  g_free(q);
  JsonArray *listed = json_node_get_array(j), *series = json_array_new(); /* others overlap too */
  for (guint i = 0; i < json_array_get_length(listed); i++) {
    JsonObject *o = json_array_get_object_element(listed, i);
    if (json_object_get_member(o, "series_id") && !json_object_get_null_member(o, "series_id") &&
        json_object_get_int_member(o, "series_id") == meeting)
      json_array_add_object_element(series, json_object_ref(o));
  }
  g_assert_cmpuint(json_array_get_length(series), ==, 3);
  JsonObject *third = json_array_get_object_element(series, 2);
  g_assert_cmpint(json_object_get_int_member(third, "starts_at"), ==, now + 86400 + 14 * 86400); /* no DST here */
  json_array_unref(series);
  json_node_unref(j);
  /* bad repeats and bad edits: 400, nothing written */
  const char *bad[] = {"{\"title\":\"x\",\"starts_at\":1,\"ends_at\":2,\"repeat\":{\"every\":\"month\",\"count\":2}}",
                       "{\"title\":\"x\",\"starts_at\":1,\"ends_at\":2,\"repeat\":{\"every\":\"week\",\"count\":500}}",
                       "{\"title\":\"x\",\"starts_at\":1,\"ends_at\":2,\"repeat\":7}",
                       "{\"title\":\"x\",\"starts_at\":1,\"ends_at\":2,\"open_before_s\":-5}",
                       "{\"title\":\"x\",\"starts_at\":1,\"ends_at\":2,\"open_before_s\":100000}"};
  JsonNode *all = api("GET", "/api/meetings", NULL, T.key, 200);
  guint before = json_array_get_length(json_node_get_array(all));
  json_node_unref(all);
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
    json_node_unref(api("POST", "/api/meetings", bad[i], T.key, 400));
  all = api("GET", "/api/meetings", NULL, T.key, 200);
  g_assert_cmpuint(json_array_get_length(json_node_get_array(all)), ==, before);
  json_node_unref(all);

  /* not open yet: refused, saying when it opens */
  char *path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/invitations", meeting);
  char *inv_body = g_strdup_printf("{\"point_id\":%" G_GINT64_FORMAT "}", T.commune);
  j = api("POST", path, inv_body, T.key, 201);
  g_free(inv_body);
  g_free(path);
  char *tok = g_strdup(member(j, "token"));
  int64_t expires = json_object_get_int_member(json_node_get_object(j), "expires_at");
  json_node_unref(j);
  client c;
  SoupWebsocketConnection *ws = ws_open(&c);
  expect_join_refused(ws, &c, meeting, tok, DC_ERR_CODE_MEETING_NOT_OPEN, "opens at");
  /* moved to now (the open window shrunk to nothing): the same link joins */
  path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT, meeting);
  body = g_strdup_printf("{\"starts_at\":%" G_GINT64_FORMAT ",\"ends_at\":%" G_GINT64_FORMAT ",\"open_before_s\":0}",
                         now - 60, now + 3600 * 30); /* its end moves later than the token's own expiry */
  j = api("PATCH", path, body, T.key, 200);
  g_free(body);
  g_assert_cmpstr(member(j, "state"), ==, "live");
  JsonObject *inv0 = json_array_get_object_element(json_object_get_array_member(json_node_get_object(j), "invitations"), 0);
  g_assert_cmpint(json_object_get_int_member(inv0, "expires_at"), ==, expires + (now + 3600 * 30 - (now + 86400 + 5400)));
  json_node_unref(j);
  json_node_unref(api("PATCH", path, "{\"ends_at\":\"soon\"}", T.key, 400));
  json_node_unref(api("PATCH", path, "{\"ends_at\":1}", T.key, 400)); /* before its start */
  char *join = join_message(meeting, tok);
  soup_websocket_connection_send_text(ws, join);
  g_free(join);
  char *reply = ws_next(&c);
  g_assert_nonnull(strstr(reply, "\"type\":\"joined\""));
  g_free(reply);
  /* the live view: the point is joining (no media here), with its participant */
  char *live = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/live", meeting);
  j = api("GET", live, NULL, T.key, 200);
  JsonObject *pt = json_array_get_object_element(json_object_get_array_member(json_node_get_object(j), "points"), 0);
  g_assert_cmpstr(json_object_get_string_member(pt, "status"), ==, "joining");
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(pt, "participants")), ==, 1);
  /* and the bridge's mixing, which every meeting shares: an idle test bridge is far from short */
  JsonObject *br = json_object_get_object_member(json_node_get_object(j), "bridge");
  g_assert_nonnull(br);
  g_test_message("the live view's bridge: mix clock %" G_GINT64_FORMAT " %%, audio effort %s, late %d",
                 json_object_get_int_member(br, "mix_clock_pct"), json_object_get_string_member(br, "audio_effort"),
                 json_object_get_boolean_member(br, "mix_late"));
  g_assert_cmpint(json_object_get_int_member(br, "mix_clock_pct"), <, 50); /* DC_MIX_EFFORT_BUSY */
  g_assert_cmpstr(json_object_get_string_member(br, "audio_effort"), ==, "full");
  g_assert_false(json_object_get_boolean_member(br, "mix_late"));
  json_node_unref(j);
  g_free(live);
  /* cancelled: put out at once, and the link joins no more */
  char *cancel = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/cancel", meeting);
  j = api("POST", cancel, "{}", T.key, 200);
  g_assert_cmpint(json_object_get_int_member(json_node_get_object(j), "disconnected"), ==, 1);
  json_node_unref(j);
  expect_put_out(ws, &c, DC_ERR_CODE_MEETING_CANCELLED);
  ws = ws_open(&c);
  expect_join_refused(ws, &c, meeting, tok, DC_ERR_CODE_MEETING_CANCELLED, NULL);
  json_node_unref(api("POST", cancel, "{}", T.key, 400)); /* twice */
  json_node_unref(api("PATCH", path, "{\"title\":\"again\"}", T.key, 400));
  char *invite = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/invitations", meeting);
  json_node_unref(api("POST", invite, "{\"point_id\":1}", T.key, 409));
  g_free(invite);
  g_free(cancel);
  g_free(path);
  g_free(tok);
  soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);
}

/* Groups and attendance: two points in a group are invited in one step; one joins twice,
 * the other never; the attendance shows both, with the stays and their times, as JSON and
 * as CSV. */
static void test_api_groups_and_attendance(void) {
  int64_t a = id_of(api("POST", "/api/points", "{\"name\":\"Xã Nhóm A\",\"kind\":\"commune\",\"link_profile\":\"highland\"}", T.key, 201));
  int64_t b = id_of(api("POST", "/api/points", "{\"name\":\"Xã Nhóm B, \\\"Bản Mới\\\"\",\"kind\":\"commune\",\"link_profile\":\"standard\"}", T.key, 201));
  int64_t g = id_of(api("POST", "/api/groups", "{\"name\":\"Các xã vùng cao\"}", T.key, 201));
  json_node_unref(api("POST", "/api/groups", "{\"name\":\"Các xã vùng cao\"}", T.key, 400)); /* same name */
  char *path = g_strdup_printf("/api/groups/%" G_GINT64_FORMAT "/points/%" G_GINT64_FORMAT, g, a);
  json_node_unref(api("PUT", path, NULL, T.key, 200));
  g_free(path);
  path = g_strdup_printf("/api/groups/%" G_GINT64_FORMAT "/points/%" G_GINT64_FORMAT, g, b);
  JsonNode *j = api("PUT", path, NULL, T.key, 200);
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(json_node_get_object(j), "point_ids")), ==, 2);
  json_node_unref(j);
  g_free(path);
  path = g_strdup_printf("/api/groups/%" G_GINT64_FORMAT "/points/99999", g);
  json_node_unref(api("PUT", path, NULL, T.key, 404));
  g_free(path);

  int64_t now = now_s();
  char *body = g_strdup_printf("{\"title\":\"Họp nhóm\",\"starts_at\":%" G_GINT64_FORMAT ",\"ends_at\":%" G_GINT64_FORMAT "}",
                               now - 10, now + 3600);
  int64_t meeting = id_of(api("POST", "/api/meetings", body, T.key, 201));
  g_free(body);
  path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/invitations", meeting);
  body = g_strdup_printf("{\"group_id\":%" G_GINT64_FORMAT "}", g);
  j = api("POST", path, body, T.key, 201);
  JsonArray *invs = json_object_get_array_member(json_node_get_object(j), "invitations");
  g_assert_cmpuint(json_array_get_length(invs), ==, 2);
  char *tok_a = g_strdup(json_object_get_string_member(json_array_get_object_element(invs, 0), "token"));
  json_node_unref(j);
  j = api("POST", path, body, T.key, 201); /* again: nobody is invited twice */
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(json_node_get_object(j), "invitations")), ==, 0);
  json_node_unref(j);
  json_node_unref(api("POST", path, "{\"group_id\":1,\"point_id\":1}", T.key, 400));
  json_node_unref(api("POST", path, "{}", T.key, 400));
  json_node_unref(api("POST", path, "{\"group_id\":99999}", T.key, 404));
  g_free(body);
  g_free(path);
  path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT, meeting);
  j = api("GET", path, NULL, T.key, 200);
  JsonArray *listed = json_object_get_array_member(json_node_get_object(j), "invitations");
  g_assert_cmpuint(json_array_get_length(listed), ==, 2);
  g_assert_nonnull(strstr(json_object_get_string_member(json_array_get_object_element(listed, 0), "join_link"), "profile=highland"));
  json_node_unref(j);
  g_free(path);

  /* point a joins, leaves, joins again */
  for (int round = 0; round < 2; round++) {
    client c;
    SoupWebsocketConnection *ws = joined(&c, meeting, tok_a);
    soup_websocket_connection_send_text(ws, "{\"v\":1,\"type\":\"leave\"}");
    while (!c.closed)
      g_main_context_iteration(NULL, TRUE);
    g_object_unref(ws);
  }
  path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/attendance", meeting);
  j = api("GET", path, NULL, T.key, 200);
  JsonArray *rows = json_object_get_array_member(json_node_get_object(j), "points");
  g_assert_cmpuint(json_array_get_length(rows), ==, 2);
  JsonObject *ra = json_array_get_object_element(rows, 0), *rb = json_array_get_object_element(rows, 1);
  g_assert_true(json_object_get_boolean_member(ra, "attended"));
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(ra, "stays")), ==, 2);
  JsonObject *stay = json_array_get_object_element(json_object_get_array_member(ra, "stays"), 0);
  g_assert_cmpint(json_object_get_int_member(stay, "joined_at"), >=, now - 1);
  g_assert_cmpint(json_object_get_int_member(stay, "left_at"), >=, json_object_get_int_member(stay, "joined_at"));
  g_assert_false(json_object_get_boolean_member(rb, "attended"));
  json_node_unref(j);
  /* as CSV: a header, two stays of a, one row for b with no times; b's name is quoted */
  char *csv_path = g_strconcat(path, "?format=csv", NULL);
  char *text, *type;
  g_assert_cmpuint(http_text(csv_path, T.key, &text, &type), ==, 200);
  g_assert_cmpstr(type, ==, "text/csv");
  g_free(type);
  char **lines = g_strsplit(text, "\r\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 5); /* header, 3 rows, "" after the last CRLF */
  g_assert_true(g_str_has_prefix(lines[0], "meeting_id,meeting,point_id,point,role,participant,joined_at,left_at"));
  g_assert_nonnull(strstr(lines[1], "Xã Nhóm A"));
  g_assert_nonnull(strstr(lines[1], "+07:00")); /* the bridge's zone */
  g_assert_nonnull(strstr(lines[3], "\"Xã Nhóm B, \"\"Bản Mới\"\"\""));
  g_assert_nonnull(strstr(lines[3], ",,,0,"));
  g_strfreev(lines);
  g_free(text);
  g_free(csv_path);
  csv_path = g_strconcat(path, "?format=xml", NULL);
  json_node_unref(api("GET", csv_path, NULL, T.key, 400));
  g_free(csv_path);
  g_free(path);
  g_free(tok_a);
}

/* Every new endpoint refuses bad input with a 4xx JSON error and changes nothing. */
static void test_api_bad_input(void) {
  JsonNode *groups = api("GET", "/api/groups", NULL, T.key, 200), *keys = api("GET", "/api/keys", NULL, T.key, 200);
  guint n_groups = json_array_get_length(json_node_get_array(groups)), n_keys = json_array_get_length(json_node_get_array(keys));
  json_node_unref(groups);
  json_node_unref(keys);
  const struct {
    const char *method, *path, *body;
    guint status;
  } cases[] = {
      {"POST", "/api/groups", "{}", 400},
      {"POST", "/api/groups", "{\"name\":5}", 400},
      {"POST", "/api/groups", "{\"name\":\"\"}", 400},
      {"POST", "/api/groups", "[1]", 400},
      {"POST", "/api/groups", "", 400}, /* no root at all: once a critical (fuzz_api_body) */
      {"POST", "/api/points", " ", 400},
      {"PUT", "/api/groups/99999/points/1", NULL, 404},
      {"PUT", "/api/groups/1/points/0", NULL, 404},
      {"POST", "/api/groups/1/points/1", NULL, 405},
      {"POST", "/api/keys", "{\"name\":\"x\",\"role\":\"root\"}", 400},
      {"POST", "/api/keys", "{\"name\":\"\",\"role\":\"viewer\"}", 400},
      {"POST", "/api/keys", "{\"role\":\"viewer\"}", 400},
      {"POST", "/api/keys/99999/revoke", "{}", 404},
      {"PATCH", "/api/meetings/1", "{\"title\":\"\"}", 400},
      {"PATCH", "/api/meetings/1", "{\"open_before_s\":-7}", 400},
      {"PATCH", "/api/meetings/99999", "{\"title\":\"x\"}", 404},
      {"PATCH", "/api/points/99999", "{\"name\":\"x\"}", 404},
      {"GET", "/api/meetings?from=abc", NULL, 400},
      {"GET", "/api/meetings/99999/live", NULL, 404},
      {"GET", "/api/meetings/99999/attendance", NULL, 404},
      {"GET", "/api/meetings/abc", NULL, 404},
      {"GET", "/api/meetings/0", NULL, 404},
      {"GET", "/api/meetings/1/unknown", NULL, 404},
      {"DELETE", "/api/meetings/1", NULL, 405},
      {"POST", "/api/meetings/99999/cancel", "{}", 404},
      {"GET", "/api/audit?limit=", NULL, 400},
      /* past GLib's calendar: once a critical in the series' sums (fuzz_api_body, an hour's run) */
      {"POST", "/api/meetings", "{\"title\":\"Giao ban\",\"starts_at\":4000000000000,\"ends_at\":4000003600,"
                                "\"repeat\":{\"every\":\"week\",\"count\":2}}", 400},
      {"POST", "/api/meetings", "{\"title\":\"Giao ban\",\"starts_at\":-60,\"ends_at\":3600}", 400},
      {"POST", "/api/meetings", "{\"title\":\"Giao ban\",\"starts_at\":60,\"ends_at\":9223372036854775807}", 400},
      {"PATCH", "/api/meetings/1", "{\"starts_at\":4000000000000}", 400},
      {"PATCH", "/api/meetings/1", "{\"ends_at\":-1}", 400},
  };
  JsonNode *meetings = api("GET", "/api/meetings", NULL, T.key, 200);
  guint n_meetings = json_array_get_length(json_node_get_array(meetings));
  json_node_unref(meetings);
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    JsonNode *j = NULL;
    guint status = http(cases[i].method, cases[i].path, cases[i].body, T.key, &j);
    if (status != cases[i].status || !j || !member(j, "error.code") || !member(j, "error.message"))
      g_error("%s %s %s: expected %u with an error, got %u %s", cases[i].method, cases[i].path,
              cases[i].body ? cases[i].body : "", cases[i].status, status, j ? json_to_string(j, FALSE) : "(no JSON)");
    json_node_unref(j);
  }
  groups = api("GET", "/api/groups", NULL, T.key, 200);
  keys = api("GET", "/api/keys", NULL, T.key, 200);
  g_assert_cmpuint(json_array_get_length(json_node_get_array(groups)), ==, n_groups);
  g_assert_cmpuint(json_array_get_length(json_node_get_array(keys)), ==, n_keys);
  json_node_unref(groups);
  json_node_unref(keys);
  meetings = api("GET", "/api/meetings", NULL, T.key, 200);
  g_assert_cmpuint(json_array_get_length(json_node_get_array(meetings)), ==, n_meetings);
  json_node_unref(meetings);
}

/* Recording through the API: bad bodies, a viewer and an ended meeting refused, changing
 * nothing; started, refused twice, listed, stopped; downloads only of our own file names; the
 * mark that records a meeting from its first join kept with the meeting. */
static void test_api_recording(void) {
  char *path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/recording", T.meeting);
  char *list = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/recordings", T.meeting);
  char *ended = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/recording", T.ended_meeting);
  char *viewer = new_key("recording viewer", "viewer");
  const struct {
    const char *path, *body, *key;
    guint status;
  } refused[] = {
      {path, "{}", T.key, 400},
      {path, "{\"recording\":1}", T.key, 400},
      {path, "not json", T.key, 400},
      {path, "{\"recording\":true}", viewer, 403},
      {path, "{\"recording\":false}", T.key, 409}, /* not recording */
      {ended, "{\"recording\":true}", T.key, 409},
      {"/api/meetings/99999/recording", "{\"recording\":true}", T.key, 404},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
    JsonNode *j = NULL;
    guint status = http("POST", refused[i].path, refused[i].body, refused[i].key, &j);
    if (status != refused[i].status || !j || !member(j, "error.code"))
      g_error("POST %s %s: expected %u with an error, got %u %s", refused[i].path, refused[i].body, refused[i].status,
              status, j ? json_to_string(j, FALSE) : "(no JSON)");
    json_node_unref(j);
  }
  JsonNode *j = api("GET", list, NULL, viewer, 200);
  g_assert_false(json_object_get_boolean_member(json_node_get_object(j), "recording"));
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(json_node_get_object(j), "files")), ==, 0);
  json_node_unref(j);

  j = api("POST", path, "{\"recording\":true}", T.key, 200);
  g_assert_true(json_object_get_boolean_member(json_node_get_object(j), "recording"));
  json_node_unref(j);
  json_node_unref(api("POST", path, "{\"recording\":true}", T.key, 409)); /* already */
  j = api("GET", list, NULL, viewer, 200);
  JsonArray *files = json_object_get_array_member(json_node_get_object(j), "files");
  g_assert_cmpuint(json_array_get_length(files), ==, 2);
  const char *name = json_object_get_string_member(json_array_get_object_element(files, 0), "name");
  g_assert_true(g_str_has_suffix(name, "-main.webm"));
  char *file = g_strdup_printf("%s/%s", list, name);
  g_assert_cmpuint(http("GET", file, NULL, viewer, NULL), ==, 200);
  g_free(file);
  json_node_unref(j);
  const struct {
    const char *name;
    guint status;
  } not_ours[] = {{"..%2Fdiemcau.db", 400}, {"diemcau.db", 404}, {"1-mix.ogg", 404}, {"-mix.opus", 404},
                  {"20261201-000000-mix.opus", 404}, {"..", 404}};
  for (size_t i = 0; i < G_N_ELEMENTS(not_ours); i++) {
    char *p = g_strdup_printf("%s/%s", list, not_ours[i].name);
    guint status = http("GET", p, NULL, T.key, NULL);
    if (status != not_ours[i].status)
      g_error("GET %s: expected %u, got %u", p, not_ours[i].status, status);
    g_free(p);
  }
  j = api("POST", path, "{\"recording\":false}", T.key, 200);
  g_assert_false(json_object_get_boolean_member(json_node_get_object(j), "recording"));
  json_node_unref(j);

  /* the mark: on a new meeting and by PATCH, kept with the meeting */
  int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  char *body = g_strdup_printf("{\"title\":\"Ghi hình\",\"starts_at\":%" G_GINT64_FORMAT ",\"ends_at\":%" G_GINT64_FORMAT
                               ",\"record\":true}", now + 86400, now + 90000);
  j = api("POST", "/api/meetings", body, T.key, 201);
  g_assert_true(json_object_get_boolean_member(json_node_get_object(j), "record"));
  int64_t id = id_of(j);
  char *one = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT, id);
  json_node_unref(api("PATCH", one, "{\"record\":\"yes\"}", T.key, 400));
  j = api("PATCH", one, "{\"record\":false}", T.key, 200);
  g_assert_false(json_object_get_boolean_member(json_node_get_object(j), "record"));
  json_node_unref(j);
  g_free(one);
  g_free(body);
  g_free(viewer);
  g_free(path);
  g_free(list);
  g_free(ended);
}

/* A meeting past its end and grace puts out whoever is still in it (within the bridge's
 * 5 s check), and nobody joins it after. */
static void test_ended_by_its_clock(void) {
  int64_t now = now_s();
  GError *err = NULL;
  /* joinable for about three more seconds */
  int64_t meeting = dc_store_create_meeting(T.store, "Quá giờ", now - 7200, now - DC_MEETING_GRACE_S + 3, T.hall, &err);
  g_assert_no_error(err);
  int64_t inv = dc_store_create_invitation(T.store, meeting, T.commune, "participant", 4000000000, NULL);
  char *tok = token_for(inv, meeting, T.commune, 4000000000);
  client c;
  SoupWebsocketConnection *ws = joined(&c, meeting, tok);
  gint64 start = g_get_monotonic_time();
  g_free(ws_wait_for(&c, "\"code\":\"" DC_ERR_CODE_MEETING_ENDED "\"")); /* at most 10 s */
  g_test_message("put out %.1f s after joining", (g_get_monotonic_time() - start) / 1e6);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);
  ws = ws_open(&c);
  expect_join_refused(ws, &c, meeting, tok, DC_ERR_CODE_MEETING_ENDED, NULL);
  soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);
  g_free(tok);
}

/* /metrics: Prometheus text, to this machine; counters there. */
static void test_metrics(void) {
  char *text, *type;
  g_assert_cmpuint(http_text("/metrics", NULL, &text, &type), ==, 200);
  g_assert_true(g_str_has_prefix(type, "text/plain"));
  g_free(type);
  /* every sample line: a name, optional labels, a number */
  GRegex *line = g_regex_new("^(# (HELP|TYPE) .*|[a-z_]+(\\{[a-z_]+=\"[^\"]*\"\\})? [0-9.e+-]+)$", 0, 0, NULL);
  char **lines = g_strsplit(text, "\n", -1);
  for (int i = 0; lines[i] && *lines[i]; i++)
    if (!g_regex_match(line, lines[i], 0, NULL))
      g_error("not Prometheus text: %s", lines[i]);
  g_assert_nonnull(strstr(text, "diemcau_mix_tick_seconds_bucket{le=\"+Inf\"}"));
  g_assert_nonnull(strstr(text, "diemcau_signaling_connections{state=\"open\"}"));
  g_strfreev(lines);
  g_regex_unref(line);
  g_free(text);
}

/* Issue 16: guessing costs time. 20 invalid join links from one address, then one every 3 s;
 * the same for operator keys (429 with Retry-After); connections that never join are closed,
 * and one address may hold only 32 of them. Near the end: this address is held up after. */
static void test_floods(void) {
  client c;
  SoupWebsocketConnection *ws = ws_open(&c);
  char *forged = token_for(999999, T.meeting, T.commune, 4000000000);
  char *join = join_message(T.meeting, forged);
  int refused = 0, limited = 0;
  for (int i = 0; i < 25; i++) {
    soup_websocket_connection_send_text(ws, join);
    char *reply = ws_next(&c);
    refused += strstr(reply, DC_ERR_CODE_INVALID_TOKEN) != NULL;
    limited += strstr(reply, DC_ERR_CODE_TOO_MANY_ATTEMPTS) != NULL;
    g_free(reply);
  }
  g_test_message("25 forged joins: %d invalid-token, %d too-many-attempts", refused, limited);
  g_assert_cmpint(refused, >=, 10); /* earlier tests here spent some of the allowance */
  g_assert_cmpint(limited, >=, 1);
  g_assert_cmpint(refused + limited, ==, 25);
  g_free(join);
  g_free(forged);
  /* 3 s later one more try is allowed: a real link joins */
  g_usleep(3200 * 1000);
  int64_t inv = dc_store_create_invitation(T.store, T.meeting, T.commune, "participant", 4000000000, NULL);
  char *tok = token_for(inv, T.meeting, T.commune, 4000000000);
  join = join_message(T.meeting, tok);
  soup_websocket_connection_send_text(ws, join);
  char *reply = ws_next(&c);
  g_assert_nonnull(strstr(reply, "\"type\":\"joined\""));
  g_free(reply);
  g_free(join);
  g_free(tok);
  soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_object_unref(ws);

  /* operator keys */
  int unauthorized = 0, too_many = 0;
  for (int i = 0; i < 25; i++) {
    JsonNode *j = NULL;
    guint st = http("GET", "/api/meetings", NULL, "guess", &j);
    unauthorized += st == 401;
    too_many += st == 429 && !g_strcmp0(member(j, "error.code"), "too-many-attempts");
    if (j)
      json_node_unref(j);
  }
  g_test_message("25 guessed keys: %d 401, %d 429", unauthorized, too_many);
  g_assert_cmpint(unauthorized, >=, 10);
  g_assert_cmpint(too_many, >=, 1);
  g_assert_cmpint(unauthorized + too_many, ==, 25);
  g_usleep(3200 * 1000);
  json_node_unref(api("GET", "/api/whoami", NULL, T.key, 200)); /* a real key, a moment later */

  /* connections that never join */
  client idle[40];
  SoupWebsocketConnection *socks[40];
  for (int i = 0; i < 40; i++)
    socks[i] = ws_open(&idle[i]);
  /* the refused ones close at once: waited for up to 5 s (a busy machine), well before the
   * 15 s at which the bridge closes the rest */
  gint64 from = g_get_monotonic_time();
  int closed_at_once = 0;
  while (closed_at_once < 8 && g_get_monotonic_time() - from < 5 * G_USEC_PER_SEC) {
    g_main_context_iteration(NULL, FALSE);
    g_usleep(1000);
    closed_at_once = 0;
    for (int i = 0; i < 40; i++)
      closed_at_once += idle[i].closed;
  }
  g_test_message("40 idle connections: %d closed within %.2f s", closed_at_once,
                 (g_get_monotonic_time() - from) / 1e6);
  g_assert_cmpint(closed_at_once, >=, 8);
  gint64 end = g_get_monotonic_time() + 25 * G_USEC_PER_SEC;
  int open = 40;
  while (open && g_get_monotonic_time() < end) {
    g_main_context_iteration(NULL, FALSE);
    g_usleep(2000);
    open = 0;
    for (int i = 0; i < 40; i++)
      open += !idle[i].closed;
  }
  g_test_message("still open 25 s later: %d (the bridge closes them at 15 s)", open);
  g_assert_cmpint(open, ==, 0);
  for (int i = 0; i < 40; i++) {
    g_assert_cmpuint(idle[i].close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
    g_object_unref(socks[i]);
    while (!g_queue_is_empty(&idle[i].messages))
      g_free(g_queue_pop_head(&idle[i].messages));
  }
}

/* Last, because it stops the server: a joined participant is told, then hung up on with
 * "going away" (1001). */
static void test_shutdown_tells_participants(void) {
  client c;
  SoupWebsocketConnection *ws = ws_open(&c);
  int64_t inv = dc_store_create_invitation(T.store, T.meeting, T.commune, "participant", 4000000000, NULL);
  char *tok = token_for(inv, T.meeting, T.commune, 4000000000);
  char *join = join_message(T.meeting, tok);
  soup_websocket_connection_send_text(ws, join);
  char *reply = ws_next(&c);
  g_assert_nonnull(strstr(reply, "\"type\":\"joined\""));
  g_free(reply);
  dc_server_shutdown(T.server);
  reply = ws_next(&c);
  g_assert_nonnull(reply);
  g_assert_nonnull(strstr(reply, "\"code\":\"" DC_ERR_CODE_SHUTTING_DOWN "\""));
  g_free(reply);
  while (!c.closed)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpuint(c.close_code, ==, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  g_object_unref(ws);
  g_free(join);
  g_free(tok);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_log_set_writer_func(keep_warnings, NULL, NULL);
  GError *err = NULL;
  T.dir = g_dir_make_tmp("diemcau-signaling-XXXXXX", NULL);
  char *db = g_build_filename(T.dir, "diemcau.db", NULL);
  T.store = dc_store_open(db, &err);
  g_assert_no_error(err);
  T.key = dc_store_new_api_key(T.store, "test", "admin", NULL, &err);
  T.hall = dc_store_add_point(T.store, "Hội trường", "hall", "hall", &err);
  T.commune = dc_store_add_point(T.store, "Xã Tà Xùa", "commune", "highland", &err);
  T.meeting = dc_store_create_meeting(T.store, "Họp", 1, 4000000000, T.hall, &err);
  T.ended_meeting = dc_store_create_meeting(T.store, "Đã xong", 1, 2, T.hall, &err);
  dc_store_end_meeting(T.store, T.ended_meeting, 3, &err);
  g_assert_no_error(err);
  char *lo[] = {"127.0.0.1", NULL};
  dc_bridge_config bc = {.workers = 1, .connect_timeout_s = 2, .max_room = 2, .transport = {.local_addresses = lo}};
  T.bridge = dc_bridge_new(&bc, &err);
  g_assert_no_error(err);
  char *recordings = g_build_filename(T.dir, "recordings", NULL);
  dc_server_config sc = {.listen_address = "127.0.0.1", .port = 0,
                         .web_dir = g_getenv("DC_WEB_DIR"), .recordings_dir = recordings};
  T.server = dc_server_new(&sc, T.store, T.bridge, &err);
  g_free(recordings);
  g_assert_no_error(err);
  T.base = g_strdup_printf("http://127.0.0.1:%u", dc_server_port(T.server));
  T.session = soup_session_new();

  g_test_add_func("/signaling/bad-messages", test_bad_messages);
  g_test_add_func("/signaling/bad-joins", test_bad_joins);
  g_test_add_func("/signaling/garbage-disconnects", test_garbage_disconnects);
  g_test_add_func("/api/auth", test_api_auth);
  g_test_add_func("/api/invalid-input", test_api_invalid_input);
  g_test_add_func("/api/flow", test_api_flow);
  g_test_add_func("/api/page-served", test_page_served);
  g_test_add_func("/api/page-gzipped", test_page_gzipped);
  g_test_add_func("/api/page-one-document", test_page_one_document);
  g_test_add_func("/api/page-not-modified", test_page_not_modified);
  g_test_add_func("/signaling/store-has-the-last-word", test_store_has_the_last_word);
  g_test_add_func("/api/revoke-and-end", test_revoke_and_end);
  g_test_add_func("/signaling/never-connected", test_never_connected);
  g_test_add_func("/signaling/no-media-socket", test_no_media_socket);
  g_test_add_func("/signaling/meeting-full", test_meeting_full);
  g_test_add_func("/signaling/roster-changes", test_roster_changes);
  g_test_add_func("/signaling/chair", test_chair);
  g_test_add_func("/signaling/roster-paced", test_roster_paced);
  g_test_add_func("/signaling/thin-link-window", test_thin_link_window);
  g_test_add_func("/signaling/origin-checked", test_origin_checked);
  g_test_add_func("/api/roles", test_api_roles);
  g_test_add_func("/api/life-cycle", test_api_life_cycle);
  g_test_add_func("/api/groups-and-attendance", test_api_groups_and_attendance);
  g_test_add_func("/api/bad-input", test_api_bad_input);
  g_test_add_func("/api/ended-by-its-clock", test_ended_by_its_clock);
  g_test_add_func("/api/metrics", test_metrics);
  g_test_add_func("/api/recording", test_api_recording);
  g_test_add_func("/signaling/floods", test_floods);
  g_test_add_func("/shutdown/tells-participants", test_shutdown_tells_participants);
  int rc = g_test_run();

  g_object_unref(T.session);
  dc_server_free(T.server);
  dc_bridge_free(T.bridge);
  dc_store_close(T.store);
  const char *files[] = {"diemcau.db", "diemcau.db-wal", "diemcau.db-shm"};
  for (int i = 0; i < 3; i++) {
    char *f = g_build_filename(T.dir, files[i], NULL);
    g_unlink(f);
    g_free(f);
  }
  g_rmdir(T.dir);
  g_free(T.dir);
  g_free(db);
  g_free(T.key);
  g_free(T.base);
  return rc;
}
