/* janus_client.c — see janus_client.h. Janus's API is request and acknowledgement over HTTP
 * POST, with what happens later (answers, offers, hang-ups) delivered on a long-polled GET of
 * the session, each event naming the handle it is for; every request here holds a reference on
 * the client, so a reply that arrives after janus_client_free finds it still there and does
 * nothing. */
#include "tests/load/janus_client.h"

#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "media/sdp.h"
#include "tests/lib/native_client.h"

/* To stderr as UTF-8 bytes: g_printerr turns a point's name ("Điểm") into "?i?m" in the C
 * locale the load runs in. */
static void say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}

#define SUBSCRIBE_RETRY_MS 500
#define SUBSCRIBE_TRIES 120
#define JANUS_NO_SUCH_FEED 428 /* janus_videoroom.c's JANUS_VIDEOROOM_ERROR_NO_SUCH_FEED */

/* One conversation with a plugin: its handle and its PeerConnection. */
typedef enum { LEG_AUDIO, LEG_PUBLISHER, LEG_SUBSCRIBER, N_LEGS } leg_kind;

typedef struct {
  janus_client *c;
  leg_kind kind;
  bool wanted;
  guint64 handle_id;
  char *handle_url;
  char *mid; /* the first section's, for our trickled candidates */
  dc_transport *t;
  gint connected;
  gpointer report_timer; /* GSource*: made on the worker, destroyed by janus_client_close */
  int subscribe_tries;
} leg;

struct janus_client {
  janus_client_config cfg;
  janus_client_callbacks cb;
  gpointer user;
  gint refs;
  bool closed;
  guint64 session_id;
  char *session_url;
  GCancellable *cancel;
  leg legs[N_LEGS];
  gint64 started_us;
  gint64 connected_us; /* atomic: set on the worker */
  guint64 signaling_bytes;
  const char *progress;
};

static const char *const leg_name[N_LEGS] = {"audio", "camera", "watching"};

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
  g_free((uint32_t *)c->cfg.video_ssrcs);
  g_free(c->session_url);
  for (int k = 0; k < N_LEGS; k++) {
    g_free(c->legs[k].handle_url);
    g_free(c->legs[k].mid);
  }
  g_object_unref(c->cancel);
  g_free(c);
}

/* ---- requests (main thread) ---- */

typedef void (*reply_fn)(janus_client *c, leg *l, JsonObject *reply);

typedef struct {
  janus_client *c;
  leg *l; /* the conversation a reply is for; NULL for the session's */
  reply_fn on_reply;
} request;

static void each_reply(janus_client *c, leg *l, reply_fn on_reply, JsonNode *root) {
  if (JSON_NODE_HOLDS_OBJECT(root)) {
    JsonObject *o = json_node_get_object(root);
    const char *kind = json_object_get_string_member_with_default(o, "janus", "");
    if (!strcmp(kind, "error")) {
      JsonObject *e = json_object_has_member(o, "error") ? json_object_get_object_member(o, "error") : NULL;
      say("# janus client %s: %s\n", c->cfg.name,
          e ? json_object_get_string_member_with_default(e, "reason", "an error") : "an error");
      c->progress = "Janus answered a request with an error";
      return;
    }
    if (on_reply)
      on_reply(c, l, o);
  } else if (JSON_NODE_HOLDS_ARRAY(root)) { /* the long poll's events, maxev > 1 */
    JsonArray *a = json_node_get_array(root);
    for (guint i = 0; i < json_array_get_length(a); i++)
      each_reply(c, l, on_reply, json_array_get_element(a, i));
  }
}

static void request_done(GObject *src, GAsyncResult *res, gpointer data) {
  request *r = data;
  janus_client *c = r->c;
  GError *err = NULL;
  GBytes *body = soup_session_send_and_read_finish(SOUP_SESSION(src), res, &err);
  if (!c->closed && !body) {
    say("# janus client %s: %s\n", c->cfg.name, err->message);
    c->progress = "a request to Janus failed";
  } else if (!c->closed) {
    gsize len;
    const char *text = g_bytes_get_data(body, &len);
    c->signaling_bytes += len;
    JsonParser *p = json_parser_new();
    if (json_parser_load_from_data(p, text, (gssize)len, NULL))
      each_reply(c, r->l, r->on_reply, json_parser_get_root(p));
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
static void send_request_then(janus_client *c, leg *l, const char *url, JsonBuilder *body, reply_fn on_reply,
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
  r->l = l;
  r->on_reply = on_reply;
  soup_session_send_and_read_async(c->cfg.session, msg, G_PRIORITY_DEFAULT, c->cancel, done, r);
  g_object_unref(msg);
}

static void send_request(janus_client *c, leg *l, const char *url, JsonBuilder *body, reply_fn on_reply) {
  send_request_then(c, l, url, body, on_reply, request_done);
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

/* A plugin "message": body's members are written by fill, the jsep (when sdp) after. */
static void send_message(leg *l, const char *request_kind, void (*fill)(leg *l, JsonBuilder *b), const char *jsep_type,
                         const char *sdp) {
  JsonBuilder *b = janus_body("message");
  json_builder_set_member_name(b, "body");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "request");
  json_builder_add_string_value(b, request_kind);
  if (fill)
    fill(l, b);
  json_builder_end_object(b);
  if (sdp) {
    json_builder_set_member_name(b, "jsep");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, jsep_type);
    json_builder_set_member_name(b, "sdp");
    json_builder_add_string_value(b, sdp);
    json_builder_end_object(b);
  }
  send_request(l->c, l, l->handle_url, b, NULL); /* acknowledged; what follows comes as an event */
}

/* ---- the transports' callbacks (the participant's worker) ---- */

typedef struct {
  leg *l;
  char *candidate;
} trickle_call;

static gboolean trickle_on_main(gpointer data) {
  trickle_call *tc = data;
  leg *l = tc->l;
  if (l->c->closed)
    return G_SOURCE_REMOVE;
  JsonBuilder *b = janus_body("trickle");
  json_builder_set_member_name(b, "candidate");
  json_builder_begin_object(b);
  if (*tc->candidate) {
    json_builder_set_member_name(b, "candidate");
    json_builder_add_string_value(b, tc->candidate);
    json_builder_set_member_name(b, "sdpMid");
    json_builder_add_string_value(b, l->mid ? l->mid : "0");
    json_builder_set_member_name(b, "sdpMLineIndex");
    json_builder_add_int_value(b, 0);
  } else {
    json_builder_set_member_name(b, "completed");
    json_builder_add_boolean_value(b, TRUE);
  }
  json_builder_end_object(b);
  send_request(l->c, l, l->handle_url, b, NULL);
  return G_SOURCE_REMOVE;
}

static void free_trickle_call(gpointer data) {
  trickle_call *tc = data;
  client_unref(tc->l->c);
  g_free(tc->candidate);
  g_free(tc);
}

static void on_candidate(gpointer user, const char *candidate) {
  leg *l = user;
  trickle_call *tc = g_new0(trickle_call, 1);
  client_ref(l->c);
  tc->l = l;
  tc->candidate = g_strdup(candidate);
  g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, trickle_on_main, tc, free_trickle_call);
}

static void on_state(gpointer user, dc_transport_state state, const char *reason) {
  leg *l = user;
  janus_client *c = l->c;
  if (state == DC_TRANSPORT_CONNECTED && !g_atomic_int_get(&l->connected)) {
    if (l->kind == LEG_AUDIO)
      __atomic_store_n(&c->connected_us, g_get_monotonic_time(), __ATOMIC_RELEASE);
    g_atomic_int_set(&l->connected, 1);
    /* an empty receiver report every second, as the generator's points send diemcau */
    uint32_t ssrc = c->cfg.audio_ssrc + (uint32_t)l->kind * 0x01000000u;
    g_atomic_pointer_set(&l->report_timer, dc_client_report_every_second(l->t, ssrc));
    if (l->kind == LEG_AUDIO && c->cb.connected)
      c->cb.connected(l->t, c->user);
    else if (l->kind == LEG_PUBLISHER && c->cb.video_connected)
      c->cb.video_connected(l->t, c->user);
  } else if (state == DC_TRANSPORT_FAILED) {
    say("# janus client %s: its %s transport failed: %s\n", c->cfg.name, leg_name[l->kind], reason ? reason : "");
  }
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  leg *l = user;
  janus_client *c = l->c;
  if (l->kind == LEG_AUDIO && c->cb.rtp)
    c->cb.rtp(c->user, buf, len, cap);
  else if (l->kind == LEG_SUBSCRIBER && c->cb.video_rtp)
    c->cb.video_rtp(c->user, buf, len, cap);
}

static void on_rtcp(gpointer user, uint8_t *buf, size_t len) {
  (void)user, (void)buf, (void)len; /* Janus's reports and key-frame requests: nothing the load measures */
}

static void make_transport(leg *l, bool controlling) {
  janus_client *c = l->c;
  char *local[] = {(char *)c->cfg.local_address, NULL};
  dc_transport_config cfg = {.local_addresses = local, .controlling = controlling};
  dc_transport_callbacks cb = {.candidate = on_candidate, .state = on_state, .rtp = on_rtp, .rtcp = on_rtcp};
  l->t = dc_transport_new(c->cfg.worker, c->cfg.identity, &cfg, &cb, l, NULL);
}

/* ---- the conversations (main thread) ---- */

/* Our transport's lines; in an answer passive: the offerer (Janus) is the DTLS client. */
static char *transport_lines(const leg *l, bool answer) {
  return dc_transport_lines(l->t, l->c->cfg.identity, answer ? "passive" : "actpass");
}

/* Janus's transport from its SDP (all sections bundled on the first), its candidates given
 * whole: Janus gathers before it sends a description (half trickle). */
static bool start_transport(leg *l, const dc_sdp *sdp, bool dtls_server) {
  const dc_sdp_media *m = sdp->media->len ? g_ptr_array_index(sdp->media, 0) : NULL;
  if (!m)
    return false;
  dc_transport_start(l->t, dc_sdp_media_ice_ufrag(sdp, m), dc_sdp_media_ice_pwd(sdp, m),
                     dc_sdp_media_fingerprint(sdp, m), dtls_server);
  for (guint i = 0; i < m->candidates->len; i++) {
    char *line = g_strconcat("candidate:", g_array_index(m->candidates, dc_sdp_candidate, i).value, NULL);
    dc_transport_add_remote_candidate(l->t, line);
    g_free(line);
  }
  dc_transport_add_remote_candidate(l->t, "");
  return true;
}

static dc_sdp *parse_description(leg *l, const char *sdp) {
  if (g_getenv("LOAD_JANUS_DEBUG"))
    say("# janus client %s, %s: Janus's description:\n%s\n", l->c->cfg.name, leg_name[l->kind], sdp);
  GError *err = NULL;
  dc_sdp *d = dc_sdp_parse(sdp, strlen(sdp), &err);
  if (!d || !d->media->len) {
    say("# janus client %s: Janus's description for its %s did not parse: %s\n", l->c->cfg.name,
        leg_name[l->kind], err ? err->message : "no section");
    l->c->progress = "Janus's description did not parse";
    g_clear_error(&err);
    dc_sdp_free(d);
    return NULL;
  }
  return d;
}

static void on_answer(leg *l, const char *sdp) {
  dc_sdp *a = parse_description(l, sdp);
  if (!a || !l->t)
    goto out;
  /* Janus answers our actpass with active (it is the DTLS client) or passive */
  const dc_sdp_media *m = g_ptr_array_index(a->media, 0);
  start_transport(l, a, dc_sdp_media_setup(a, m) == DC_SDP_SETUP_ACTIVE);
  if (l->kind == LEG_AUDIO)
    l->c->progress = "answered: ICE and DTLS under way";
out:
  dc_sdp_free(a);
}

/* The subscription: Janus offers a VP8 section a publisher's camera; we take each, receive only. */
static void on_offer(leg *l, const char *sdp) {
  dc_sdp *o = parse_description(l, sdp);
  if (!o || l->t) /* an update to a subscription (a publisher gone): left out */
    goto out;
  make_transport(l, false); /* the offerer controls ICE */
  char *transport = transport_lines(l, true);
  GString *bundle = g_string_new("a=group:BUNDLE"), *sections = g_string_new(NULL);
  for (guint i = 0; i < o->media->len; i++) {
    const dc_sdp_media *m = g_ptr_array_index(o->media, i);
    const dc_sdp_codec *vp8 = NULL;
    for (guint k = 0; m->kind == DC_SDP_VIDEO && m->port && k < m->codecs->len && !vp8; k++)
      if (!g_ascii_strcasecmp(g_array_index(m->codecs, dc_sdp_codec, k).name, "VP8"))
        vp8 = &g_array_index(m->codecs, dc_sdp_codec, k);
    const char *mid = m->mid ? m->mid : "0";
    if (!vp8) { /* not a camera we can take: refused, as a browser would */
      g_string_append_printf(sections, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\na=inactive\r\n", m->media,
                             m->proto, m->fmts->len ? (const char *)g_ptr_array_index(m->fmts, 0) : "0", mid);
      continue;
    }
    if (!l->mid)
      l->mid = g_strdup(mid);
    g_string_append_printf(bundle, " %s", mid);
    g_string_append_printf(sections, "m=video 9 UDP/TLS/RTP/SAVPF %u\r\n%sa=mid:%s\r\na=recvonly\r\na=rtpmap:%u VP8/90000\r\n",
                           vp8->pt, transport, mid, vp8->pt);
  }
  char *answer = g_strdup_printf("v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n%s\r\n%s",
                                 l->c->cfg.audio_ssrc, bundle->str, sections->str);
  send_message(l, "start", NULL, "answer", answer);
  start_transport(l, o, true);
  g_free(answer);
  g_free(transport);
  g_string_free(bundle, TRUE);
  g_string_free(sections, TRUE);
out:
  dc_sdp_free(o);
}

static void subscribe_streams(leg *l, JsonBuilder *b) {
  janus_client *c = l->c;
  json_builder_set_member_name(b, "ptype");
  json_builder_add_string_value(b, "subscriber");
  json_builder_set_member_name(b, "room");
  json_builder_add_int_value(b, (gint64)c->cfg.room);
  json_builder_set_member_name(b, "streams");
  json_builder_begin_array(b);
  for (int i = 0; i < c->cfg.n_subscribe; i++) {
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "feed");
    json_builder_add_int_value(b, (gint64)c->cfg.subscribe[i]);
    json_builder_set_member_name(b, "substream");
    json_builder_add_int_value(b, c->cfg.substream[i]);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

static void subscribe(leg *l) {
  l->subscribe_tries++;
  send_message(l, "join", subscribe_streams, NULL, NULL);
}

static gboolean subscribe_again(gpointer data) {
  leg *l = data;
  if (!l->c->closed)
    subscribe(l);
  return G_SOURCE_REMOVE;
}

static void free_leg_call(gpointer data) { client_unref(((leg *)data)->c); }

static void on_event(janus_client *c, leg *unused, JsonObject *o) {
  (void)unused;
  const char *kind = json_object_get_string_member_with_default(o, "janus", "");
  guint64 sender = (guint64)json_object_get_int_member_with_default(o, "sender", 0);
  leg *l = NULL;
  for (int k = 0; k < N_LEGS && !l; k++)
    if (c->legs[k].handle_id && c->legs[k].handle_id == sender)
      l = &c->legs[k];
  if (!l)
    return;
  JsonObject *jsep = json_object_has_member(o, "jsep") ? json_object_get_object_member(o, "jsep") : NULL;
  JsonObject *plugindata = json_object_has_member(o, "plugindata") ? json_object_get_object_member(o, "plugindata") : NULL;
  JsonObject *data = plugindata && json_object_has_member(plugindata, "data")
                         ? json_object_get_object_member(plugindata, "data") : NULL;
  gint64 error_code = data ? json_object_get_int_member_with_default(data, "error_code", 0) : 0;
  const char *type = jsep ? json_object_get_string_member_with_default(jsep, "type", "") : "";
  if (!strcmp(type, "answer")) {
    on_answer(l, json_object_get_string_member_with_default(jsep, "sdp", ""));
  } else if (!strcmp(type, "offer")) {
    on_offer(l, json_object_get_string_member_with_default(jsep, "sdp", ""));
  } else if (error_code == JANUS_NO_SUCH_FEED && l->kind == LEG_SUBSCRIBER && l->subscribe_tries < SUBSCRIBE_TRIES) {
    client_ref(c); /* a publisher not in the room yet: ask again */
    g_timeout_add_full(G_PRIORITY_DEFAULT, SUBSCRIBE_RETRY_MS, subscribe_again, l, free_leg_call);
  } else if (error_code) {
    say("# janus client %s: Janus refused its %s: %s\n", c->cfg.name, leg_name[l->kind],
        json_object_get_string_member_with_default(data, "error", "no reason given"));
    c->progress = "Janus refused a request";
  } else if (!strcmp(kind, "hangup") || !strcmp(kind, "detached")) {
    say("# janus client %s: Janus hung up its %s (%s)\n", c->cfg.name, leg_name[l->kind],
        json_object_get_string_member_with_default(o, "reason", kind));
  }
}

/* The long poll: one GET at a time, asked again as each returns (Janus holds it up to 30 s,
 * which also keeps the session alive). */
static void poll_returned(GObject *src, GAsyncResult *res, gpointer data);

static void poll_events(janus_client *c) {
  char *url = g_strdup_printf("%s?maxev=10", c->session_url);
  send_request_then(c, NULL, url, NULL, on_event, poll_returned);
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

static char *audio_offer(const leg *l) {
  const janus_client_config *cfg = &l->c->cfg;
  char *transport = transport_lines(l, false);
  char *sdp = g_strdup_printf("v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
                              "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n%sa=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
                              "a=extmap:%u urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=ssrc:%u cname:load\r\n",
                              cfg->audio_ssrc, transport, cfg->level_id, cfg->audio_ssrc);
  g_free(transport);
  return sdp;
}

/* One VP8 section sending the camera's layers, grouped as Chrome groups simulcast. */
static char *camera_offer(const leg *l) {
  const janus_client_config *cfg = &l->c->cfg;
  char *transport = transport_lines(l, false);
  GString *s = g_string_new(NULL);
  g_string_append_printf(s, "v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
                         "m=video 9 UDP/TLS/RTP/SAVPF %u\r\n%sa=mid:0\r\na=sendonly\r\na=rtpmap:%u VP8/90000\r\n"
                         "a=rtcp-fb:%u nack\r\na=rtcp-fb:%u nack pli\r\n",
                         cfg->video_ssrcs[0], cfg->video_pt, transport, cfg->video_pt, cfg->video_pt, cfg->video_pt);
  for (int i = 0; i < cfg->n_video_layers; i++)
    g_string_append_printf(s, "a=ssrc:%u cname:load\r\n", cfg->video_ssrcs[i]);
  if (cfg->n_video_layers > 1) {
    g_string_append(s, "a=ssrc-group:SIM");
    for (int i = 0; i < cfg->n_video_layers; i++)
      g_string_append_printf(s, " %u", cfg->video_ssrcs[i]);
    g_string_append(s, "\r\n");
  }
  g_free(transport);
  return g_string_free(s, FALSE);
}

static void join_audio(leg *l, JsonBuilder *b) {
  json_builder_set_member_name(b, "room");
  json_builder_add_int_value(b, (gint64)l->c->cfg.room);
  json_builder_set_member_name(b, "display");
  json_builder_add_string_value(b, l->c->cfg.name);
}

static void join_publisher(leg *l, JsonBuilder *b) {
  join_audio(l, b);
  json_builder_set_member_name(b, "ptype");
  json_builder_add_string_value(b, "publisher");
  json_builder_set_member_name(b, "id");
  json_builder_add_int_value(b, (gint64)l->c->cfg.feed_id);
}

static void on_attached(janus_client *c, leg *l, JsonObject *o) {
  l->handle_id = reply_id(o);
  if (!l->handle_id) {
    c->progress = "Janus gave no plugin handle";
    return;
  }
  l->handle_url = g_strdup_printf("%s/%" G_GUINT64_FORMAT, c->session_url, l->handle_id);
  if (l->kind == LEG_SUBSCRIBER) {
    subscribe(l);
    return;
  }
  make_transport(l, true);
  l->mid = g_strdup("0");
  char *sdp = l->kind == LEG_AUDIO ? audio_offer(l) : camera_offer(l);
  send_message(l, l->kind == LEG_AUDIO ? "join" : "joinandconfigure", l->kind == LEG_AUDIO ? join_audio : join_publisher,
               "offer", sdp);
  g_free(sdp);
  if (l->kind == LEG_AUDIO)
    c->progress = "joined the room: waiting for Janus's answer";
}

static void on_created(janus_client *c, leg *unused, JsonObject *o) {
  (void)unused;
  c->session_id = reply_id(o);
  if (!c->session_id) {
    c->progress = "Janus gave no session";
    return;
  }
  c->session_url = g_strdup_printf("%s/%" G_GUINT64_FORMAT, c->cfg.url, c->session_id);
  poll_events(c);
  for (int k = 0; k < N_LEGS; k++) {
    if (!c->legs[k].wanted)
      continue;
    JsonBuilder *b = janus_body("attach");
    json_builder_set_member_name(b, "plugin");
    json_builder_add_string_value(b, k == LEG_AUDIO ? "janus.plugin.audiobridge" : "janus.plugin.videoroom");
    send_request(c, &c->legs[k], c->session_url, b, on_attached);
  }
  c->progress = "attaching to the AudioBridge";
}

janus_client *janus_client_new(const janus_client_config *cfg, const janus_client_callbacks *cb, gpointer user) {
  janus_client *c = g_new0(janus_client, 1);
  c->refs = 1;
  c->cfg = *cfg;
  c->cfg.url = g_strdup(cfg->url);
  c->cfg.name = g_strdup(cfg->name ? cfg->name : "load");
  c->cfg.local_address = g_strdup(cfg->local_address);
  c->cfg.n_video_layers = cfg->video_ssrcs ? cfg->n_video_layers : 0;
  c->cfg.video_ssrcs = c->cfg.n_video_layers ? g_memdup2(cfg->video_ssrcs, sizeof(uint32_t) * (gsize)cfg->n_video_layers) : NULL;
  c->cfg.n_subscribe = CLAMP(cfg->n_subscribe, 0, JANUS_CLIENT_MAX_FEEDS);
  for (int k = 0; k < N_LEGS; k++) {
    c->legs[k].c = c;
    c->legs[k].kind = (leg_kind)k;
  }
  c->legs[LEG_AUDIO].wanted = true;
  c->legs[LEG_PUBLISHER].wanted = c->cfg.n_video_layers > 0;
  c->legs[LEG_SUBSCRIBER].wanted = c->cfg.n_subscribe > 0;
  c->cb = *cb;
  c->user = user;
  c->cancel = g_cancellable_new();
  c->started_us = g_get_monotonic_time();
  c->progress = "asking for a session";
  send_request(c, NULL, c->cfg.url, janus_body("create"), on_created);
  return c;
}

void janus_client_close(janus_client *c) {
  c->closed = true;
  g_cancellable_cancel(c->cancel);
  for (int k = 0; k < N_LEGS; k++) {
    leg *l = &c->legs[k];
    GSource *timer = g_atomic_pointer_exchange(&l->report_timer, NULL);
    if (timer) { /* on the transport's worker, as its close is queued after */
      g_source_destroy(timer);
      g_source_unref(timer);
    }
    if (l->t)
      dc_transport_close(l->t);
  }
}

void janus_client_free(janus_client *c) {
  if (c)
    client_unref(c);
}

gboolean janus_client_is_connected(const janus_client *c) { return g_atomic_int_get(&c->legs[LEG_AUDIO].connected); }
gboolean janus_client_video_is_connected(const janus_client *c) {
  for (int k = 0; k < N_LEGS; k++)
    if (c->legs[k].wanted && !g_atomic_int_get(&c->legs[k].connected))
      return FALSE;
  return TRUE;
}
gint64 janus_client_started_us(const janus_client *c) { return c->started_us; }
gint64 janus_client_connected_us(const janus_client *c) { return __atomic_load_n(&c->connected_us, __ATOMIC_ACQUIRE); }
guint64 janus_client_signaling_bytes(const janus_client *c) { return c->signaling_bytes; }
const char *janus_client_progress(const janus_client *c) { return c->progress; }
