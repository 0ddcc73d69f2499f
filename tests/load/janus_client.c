/* janus_client.c — see janus_client.h. Janus's API is request and acknowledgement over HTTP
 * POST, with what happens later (the answer, hang-ups) delivered on a long-polled GET of the
 * session; every request here holds a reference on the client, so a reply that arrives after
 * janus_client_free finds it still there and does nothing. */
#include "tests/load/janus_client.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "media/sdp.h"
#include "tests/lib/native_client.h"

struct janus_client {
  janus_client_config cfg;
  janus_client_callbacks cb;
  gpointer user;
  gint refs;
  bool closed;
  guint64 session_id, handle_id;
  char *session_url, *handle_url;
  GCancellable *cancel;
  dc_transport *t;
  gint64 started_us;
  gint64 connected_us; /* atomic: set on the worker */
  gint connected;
  guint64 signaling_bytes;
  const char *progress;
  gpointer report_timer; /* GSource*: made on the worker, destroyed by janus_client_close */
};

static janus_client *client_ref(janus_client *c) {
  g_atomic_int_inc(&c->refs);
  return c;
}

static void client_unref(janus_client *c) {
  if (!g_atomic_int_dec_and_test(&c->refs))
    return;
  g_free((char *)c->cfg.url);
  g_free((char *)c->cfg.name);
  g_free((char *)c->cfg.local_address);
  g_free(c->session_url);
  g_free(c->handle_url);
  g_object_unref(c->cancel);
  g_free(c);
}

/* ---- requests (main thread) ---- */

typedef void (*reply_fn)(janus_client *c, JsonObject *reply);

typedef struct {
  janus_client *c;
  reply_fn on_reply;
} request;

static void each_reply(janus_client *c, reply_fn on_reply, JsonNode *root) {
  if (JSON_NODE_HOLDS_OBJECT(root)) {
    JsonObject *o = json_node_get_object(root);
    const char *kind = json_object_get_string_member_with_default(o, "janus", "");
    if (!strcmp(kind, "error")) {
      JsonObject *e = json_object_has_member(o, "error") ? json_object_get_object_member(o, "error") : NULL;
      g_printerr("# janus client %s: %s\n", c->cfg.name,
                 e ? json_object_get_string_member_with_default(e, "reason", "an error") : "an error");
      c->progress = "Janus answered a request with an error";
      return;
    }
    if (on_reply)
      on_reply(c, o);
  } else if (JSON_NODE_HOLDS_ARRAY(root)) { /* the long poll's events, maxev > 1 */
    JsonArray *a = json_node_get_array(root);
    for (guint i = 0; i < json_array_get_length(a); i++)
      each_reply(c, on_reply, json_array_get_element(a, i));
  }
}

static void request_done(GObject *src, GAsyncResult *res, gpointer data) {
  request *r = data;
  janus_client *c = r->c;
  GError *err = NULL;
  GBytes *body = soup_session_send_and_read_finish(SOUP_SESSION(src), res, &err);
  if (!c->closed && !body) {
    g_printerr("# janus client %s: %s\n", c->cfg.name, err->message);
    c->progress = "a request to Janus failed";
  } else if (!c->closed) {
    gsize len;
    const char *text = g_bytes_get_data(body, &len);
    c->signaling_bytes += len;
    JsonParser *p = json_parser_new();
    if (json_parser_load_from_data(p, text, (gssize)len, NULL))
      each_reply(c, r->on_reply, json_parser_get_root(p));
    g_object_unref(p);
  }
  if (body)
    g_bytes_unref(body);
  g_clear_error(&err);
  client_unref(c);
  g_free(r);
}

/* Sends body (a JSON object, consumed) with a "transaction" added, or a GET when body is NULL;
 * done (request_done, or what calls it) takes the reply. */
static void send_request_then(janus_client *c, const char *url, JsonBuilder *body, reply_fn on_reply,
                              GAsyncReadyCallback done) {
  SoupMessage *msg = soup_message_new(body ? "POST" : "GET", url);
  if (body) {
    json_builder_set_member_name(body, "transaction");
    json_builder_add_string_value(body, "load");
    json_builder_end_object(body);
    JsonNode *n = json_builder_get_root(body);
    char *text = json_to_string(n, FALSE);
    GBytes *bytes = g_bytes_new_take(text, strlen(text));
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
    g_bytes_unref(bytes);
    json_node_unref(n);
    g_object_unref(body);
  }
  request *r = g_new0(request, 1);
  r->c = client_ref(c);
  r->on_reply = on_reply;
  soup_session_send_and_read_async(c->cfg.session, msg, G_PRIORITY_DEFAULT, c->cancel, done, r);
  g_object_unref(msg);
}

static void send_request(janus_client *c, const char *url, JsonBuilder *body, reply_fn on_reply) {
  send_request_then(c, url, body, on_reply, request_done);
}

/* The id Janus gave (a session's or a handle's), 0 when none. */
static guint64 reply_id(JsonObject *o) {
  JsonObject *data = json_object_has_member(o, "data") ? json_object_get_object_member(o, "data") : NULL;
  return data ? (guint64)json_object_get_int_member_with_default(data, "id", 0) : 0;
}

static JsonBuilder *janus_body(const char *kind) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "janus");
  json_builder_add_string_value(b, kind);
  return b;
}

/* ---- the transport's callbacks (its worker) ---- */

typedef struct {
  janus_client *c;
  char *candidate;
} trickle_call;

static gboolean trickle_on_main(gpointer data) {
  trickle_call *tc = data;
  janus_client *c = tc->c;
  if (c->closed)
    return G_SOURCE_REMOVE;
  JsonBuilder *b = janus_body("trickle");
  json_builder_set_member_name(b, "candidate");
  json_builder_begin_object(b);
  if (*tc->candidate) {
    json_builder_set_member_name(b, "candidate");
    json_builder_add_string_value(b, tc->candidate);
    json_builder_set_member_name(b, "sdpMid");
    json_builder_add_string_value(b, "0");
    json_builder_set_member_name(b, "sdpMLineIndex");
    json_builder_add_int_value(b, 0);
  } else {
    json_builder_set_member_name(b, "completed");
    json_builder_add_boolean_value(b, TRUE);
  }
  json_builder_end_object(b);
  send_request(c, c->handle_url, b, NULL);
  return G_SOURCE_REMOVE;
}

static void free_trickle_call(gpointer data) {
  trickle_call *tc = data;
  client_unref(tc->c);
  g_free(tc->candidate);
  g_free(tc);
}

static void on_candidate(gpointer user, const char *candidate) {
  trickle_call *tc = g_new0(trickle_call, 1);
  tc->c = client_ref(user);
  tc->candidate = g_strdup(candidate);
  g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, trickle_on_main, tc, free_trickle_call);
}

static void on_state(gpointer user, dc_transport_state state, const char *reason) {
  janus_client *c = user;
  if (state == DC_TRANSPORT_CONNECTED && !g_atomic_int_get(&c->connected)) {
    __atomic_store_n(&c->connected_us, g_get_monotonic_time(), __ATOMIC_RELEASE);
    g_atomic_int_set(&c->connected, 1);
    /* an empty receiver report every second, as the generator's points send diemcau */
    g_atomic_pointer_set(&c->report_timer, dc_client_report_every_second(c->t, c->cfg.audio_ssrc));
    if (c->cb.connected)
      c->cb.connected(c->t, c->user);
  } else if (state == DC_TRANSPORT_FAILED) {
    g_printerr("# janus client %s: transport failed: %s\n", c->cfg.name, reason ? reason : "");
  }
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  janus_client *c = user;
  if (c->cb.rtp)
    c->cb.rtp(c->user, buf, len, cap);
}

static void on_rtcp(gpointer user, uint8_t *buf, size_t len) {
  (void)user, (void)buf, (void)len; /* Janus's reports: nothing the load measures */
}

/* ---- the conversation (main thread) ---- */

static void on_answer(janus_client *c, const char *sdp) {
  if (g_getenv("LOAD_JANUS_DEBUG"))
    g_printerr("# janus client %s: answer:\n%s\n", c->cfg.name, sdp);
  GError *err = NULL;
  dc_sdp *a = dc_sdp_parse(sdp, strlen(sdp), &err);
  const dc_sdp_media *m = a && a->media->len ? g_ptr_array_index(a->media, 0) : NULL;
  if (!m) {
    g_printerr("# janus client %s: its answer did not parse: %s\n", c->cfg.name, err ? err->message : "no section");
    c->progress = "Janus's answer did not parse";
    g_clear_error(&err);
    dc_sdp_free(a);
    return;
  }
  /* Janus answers our actpass with active (it is the DTLS client) or passive */
  dc_transport_start(c->t, dc_sdp_media_ice_ufrag(a, m), dc_sdp_media_ice_pwd(a, m), dc_sdp_media_fingerprint(a, m),
                     dc_sdp_media_setup(a, m) == DC_SDP_SETUP_ACTIVE);
  /* half-trickle: Janus gathers before it answers, so its candidates are all in the answer */
  for (guint i = 0; i < m->candidates->len; i++) {
    char *line = g_strconcat("candidate:", g_array_index(m->candidates, dc_sdp_candidate, i).value, NULL);
    dc_transport_add_remote_candidate(c->t, line);
    g_free(line);
  }
  dc_transport_add_remote_candidate(c->t, "");
  c->progress = "answered: ICE and DTLS under way";
  dc_sdp_free(a);
}

static void on_event(janus_client *c, JsonObject *o) {
  JsonObject *jsep = json_object_has_member(o, "jsep") ? json_object_get_object_member(o, "jsep") : NULL;
  const char *kind = json_object_get_string_member_with_default(o, "janus", "");
  if (jsep && !strcmp(json_object_get_string_member_with_default(jsep, "type", ""), "answer"))
    on_answer(c, json_object_get_string_member_with_default(jsep, "sdp", ""));
  else if (!strcmp(kind, "hangup") || !strcmp(kind, "detached"))
    g_printerr("# janus client %s: Janus hung up (%s)\n", c->cfg.name,
               json_object_get_string_member_with_default(o, "reason", kind));
}

/* The long poll: one GET at a time, asked again as each returns (Janus holds it up to 30 s,
 * which also keeps the session alive). */
static void poll_returned(GObject *src, GAsyncResult *res, gpointer data);

static void poll_events(janus_client *c) {
  char *url = g_strdup_printf("%s?maxev=10", c->session_url);
  send_request_then(c, url, NULL, on_event, poll_returned);
  g_free(url);
}

static void poll_returned(GObject *src, GAsyncResult *res, gpointer data) {
  request *r = data;
  janus_client *c = client_ref(r->c);
  request_done(src, res, r);
  if (!c->closed)
    poll_events(c);
  client_unref(c);
}

static char *offer(janus_client *c) {
  char *transport = dc_offer_transport_lines(c->t, c->cfg.identity);
  char *sdp = g_strdup_printf("v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
                              "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n%sa=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
                              "a=extmap:%u urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=ssrc:%u cname:load\r\n",
                              c->cfg.audio_ssrc, transport, c->cfg.level_id, c->cfg.audio_ssrc);
  g_free(transport);
  return sdp;
}

static void on_attached(janus_client *c, JsonObject *o) {
  c->handle_id = reply_id(o);
  if (!c->handle_id) {
    c->progress = "Janus gave no plugin handle";
    return;
  }
  c->handle_url = g_strdup_printf("%s/%" G_GUINT64_FORMAT, c->session_url, c->handle_id);
  char *local[] = {(char *)c->cfg.local_address, NULL};
  dc_transport_config cfg = {.local_addresses = local, .controlling = true};
  dc_transport_callbacks cb = {on_candidate, on_state, on_rtp, on_rtcp};
  c->t = dc_transport_new(dc_workers_pick(c->cfg.workers), c->cfg.identity, &cfg, &cb, c, NULL);

  JsonBuilder *b = janus_body("message");
  json_builder_set_member_name(b, "body");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "request");
  json_builder_add_string_value(b, "join");
  json_builder_set_member_name(b, "room");
  json_builder_add_int_value(b, (gint64)c->cfg.room);
  json_builder_set_member_name(b, "display");
  json_builder_add_string_value(b, c->cfg.name);
  json_builder_end_object(b);
  json_builder_set_member_name(b, "jsep");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, "offer");
  json_builder_set_member_name(b, "sdp");
  char *sdp = offer(c);
  json_builder_add_string_value(b, sdp);
  g_free(sdp);
  json_builder_end_object(b);
  send_request(c, c->handle_url, b, NULL); /* acknowledged; the answer comes as an event */
  c->progress = "joined the room: waiting for Janus's answer";
}

static void on_created(janus_client *c, JsonObject *o) {
  c->session_id = reply_id(o);
  if (!c->session_id) {
    c->progress = "Janus gave no session";
    return;
  }
  c->session_url = g_strdup_printf("%s/%" G_GUINT64_FORMAT, c->cfg.url, c->session_id);
  poll_events(c);
  JsonBuilder *b = janus_body("attach");
  json_builder_set_member_name(b, "plugin");
  json_builder_add_string_value(b, "janus.plugin.audiobridge");
  send_request(c, c->session_url, b, on_attached);
  c->progress = "attaching to the AudioBridge";
}

janus_client *janus_client_new(const janus_client_config *cfg, const janus_client_callbacks *cb, gpointer user) {
  janus_client *c = g_new0(janus_client, 1);
  c->refs = 1;
  c->cfg = *cfg;
  c->cfg.url = g_strdup(cfg->url);
  c->cfg.name = g_strdup(cfg->name ? cfg->name : "load");
  c->cfg.local_address = g_strdup(cfg->local_address);
  c->cb = *cb;
  c->user = user;
  c->cancel = g_cancellable_new();
  c->started_us = g_get_monotonic_time();
  c->progress = "asking for a session";
  send_request(c, c->cfg.url, janus_body("create"), on_created);
  return c;
}

void janus_client_close(janus_client *c) {
  c->closed = true;
  g_cancellable_cancel(c->cancel);
  GSource *timer = g_atomic_pointer_exchange(&c->report_timer, NULL);
  if (timer) { /* on the transport's worker, as its close is queued after */
    g_source_destroy(timer);
    g_source_unref(timer);
  }
  if (c->t)
    dc_transport_close(c->t);
}

void janus_client_free(janus_client *c) {
  if (c)
    client_unref(c);
}

dc_transport *janus_client_transport(const janus_client *c) { return c->t; }
gboolean janus_client_is_connected(const janus_client *c) { return g_atomic_int_get(&c->connected); }
gint64 janus_client_started_us(const janus_client *c) { return c->started_us; }
gint64 janus_client_connected_us(const janus_client *c) { return __atomic_load_n(&c->connected_us, __ATOMIC_ACQUIRE); }
guint64 janus_client_signaling_bytes(const janus_client *c) { return c->signaling_bytes; }
const char *janus_client_progress(const janus_client *c) { return c->progress; }
