/* libFuzzer target: the operator API's request bodies and queries, through the real server
 * (tests/fuzz/server_harness.h) with an admin key, so that every handler's own reading of
 * its JSON body or query runs on what an operator's script, a broken client or an attacker
 * with a key may send.
 *
 * Input: the first byte picks the request (ROUTES below), the rest is its body (a query
 * string for the GET ones). In both, $M is replaced by a live meeting's id and $P by a
 * commune point's, so that inputs reach the handlers' checks past "no such meeting".
 *
 * Checked: no answer is a server error (5xx: every bad input is the client's, 4xx; but for a
 * recording, which the harness cannot write: recording-failed) and every refusal is a JSON
 * error object naming its code; no critical, crash or leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "server_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
  const char *method, *path;
} ROUTES[] = {
    {"POST", "/api/points"},
    {"PATCH", "/api/points/$P"},
    {"POST", "/api/groups"},
    {"POST", "/api/meetings"},
    {"PATCH", "/api/meetings/$M"},
    {"POST", "/api/meetings/$M/invitations"},
    {"POST", "/api/meetings/$M/recording"},
    {"POST", "/api/keys"},
    {"POST", "/console/login"},
    {"GET", "/api/meetings"},
    {"GET", "/api/meetings/$M/attendance"},
    {"GET", "/api/meetings/$M/minutes"},
    {"GET", "/api/audit"},
};

static char *expand(const fuzz_server *fs, const char *text, size_t len) {
  GString *out = g_string_sized_new(len + 16);
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '$' && i + 1 < len && (text[i + 1] == 'M' || text[i + 1] == 'P')) {
      g_string_append_printf(out, "%" G_GINT64_FORMAT, text[i + 1] == 'M' ? fs->meeting : fs->points[1]);
      i++;
    } else {
      g_string_append_c(out, text[i]);
    }
  }
  return g_string_free(out, FALSE);
}

typedef struct {
  GBytes *body;
  bool done;
} answer;

static void on_answer(GObject *src, GAsyncResult *res, gpointer user) {
  answer *a = user;
  a->body = soup_session_send_and_read_finish(SOUP_SESSION(src), res, NULL);
  a->done = true;
}

/* The refusal's code; aborts unless the body is a JSON error object naming one. */
static char *check_refusal(guint status, GBytes *body) {
  gsize len = 0;
  const char *text = body ? g_bytes_get_data(body, &len) : NULL;
  JsonParser *parser = json_parser_new();
  bool ok = text && json_parser_load_from_data(parser, text, (gssize)len, NULL) &&
            JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser));
  JsonObject *o = ok ? json_node_get_object(json_parser_get_root(parser)) : NULL;
  JsonObject *error = o && json_object_has_member(o, "error") ? json_object_get_object_member(o, "error") : NULL;
  if (!error || !json_object_has_member(error, "code")) {
    fprintf(stderr, "a %u answer without a JSON error naming its code: %.*s\n", status, (int)len, text ? text : "");
    abort();
  }
  char *code = g_strdup(json_object_get_string_member_with_default(error, "code", ""));
  g_object_unref(parser);
  return code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  fuzz_server *fs = fuzz_server_get();
  if (!fuzz_server_meeting_live(fs)) /* the last input ended, cancelled or moved it */
    fuzz_server_new_meeting(fs);
  SoupSession *session = fuzz_server_client();
  int r = data[0] % (int)G_N_ELEMENTS(ROUTES);
  char *rest = expand(fs, (const char *)data + 1, size - 1);
  size_t rest_len = strlen(rest); /* a NUL in the input ends it: no HTTP body or URL holds one here */
  char *path = expand(fs, ROUTES[r].path, strlen(ROUTES[r].path));
  bool get = !strcmp(ROUTES[r].method, "GET");
  char *query = get ? g_uri_escape_string(rest, "=&", FALSE) : NULL;
  char *url = g_strdup_printf("%s%s%s%s", fs->base, path, get ? "?" : "", get ? query : "");
  SoupMessage *msg = soup_message_new(ROUTES[r].method, url);
  if (!msg)
    abort(); /* the query is escaped: the URL is always one */
  SoupMessageHeaders *h = soup_message_get_request_headers(msg);
  char *bearer = g_strconcat("Bearer ", fs->admin_key, NULL);
  if (strcmp(ROUTES[r].path, "/console/login"))
    soup_message_headers_replace(h, "Authorization", bearer);
  g_free(bearer);
  if (!get) {
    GBytes *body = g_bytes_new(rest, rest_len);
    soup_message_set_request_body_from_bytes(msg, "application/json", body);
    g_bytes_unref(body);
  }
  answer a = {0};
  soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL, on_answer, &a);
  fuzz_server_run_until(&a.done, 10000);
  guint status = soup_message_get_status(msg);
  char *code = a.done && status >= 400 ? check_refusal(status, a.body) : NULL;
  /* the one server error there may be: the harness's recordings cannot be written */
  if (!a.done || status < 200 || (status >= 500 && g_strcmp0(code, "recording-failed"))) {
    fprintf(stderr, "%s %s: %u %s%s\n", ROUTES[r].method, path, status, code ? code : "",
            a.done ? "" : " (no answer in 10 s)");
    abort();
  }
  g_free(code);
  if (a.body)
    g_bytes_unref(a.body);
  g_object_unref(msg);
  g_free(url);
  g_free(query);
  g_free(path);
  g_free(rest);
  fuzz_server_settle(100);
  /* its connection closed now, and the server's end seen before the next input (before the
   * server closed its HTTP connections itself, they piled up here in CLOSE-WAIT) */
  soup_session_abort(session);
  g_object_unref(session);
  fuzz_server_settle(100);
  return 0;
}
