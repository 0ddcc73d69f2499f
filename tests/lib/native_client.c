/* native_client.c — see native_client.h. */
#include "tests/lib/native_client.h"

#include <string.h>

#include "media/rtcp.h"
#include "media/sdp.h"

struct dc_client {
  dc_client_config cfg;
  dc_client_callbacks cb;
  gpointer user;
  SoupWebsocketConnection *ws;
  dc_transport *t;
  int64_t participant;
  gint64 started_us, opened_us; /* its WebSocket asked for, and open */
  gint64 joined_us, answered_us; /* the bridge's "joined" and its answer came */
  char *bridge_ufrag, *bridge_pwd; /* the bridge's ICE credentials, from its answer */
  gint64 connected_us; /* atomic: set on the worker */
  guint64 signaling_bytes;
  gint connected;
  gpointer report_timer; /* GSource*: made on the worker, destroyed by dc_client_close */
};

static void ws_send(dc_client *c, const char *type, const char *key, const char *value) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "v");
  json_builder_add_int_value(b, 1);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, type);
  if (key) {
    json_builder_set_member_name(b, key);
    json_builder_add_string_value(b, value);
  }
  if (!strcmp(type, "join")) {
    json_builder_set_member_name(b, "meeting");
    json_builder_add_int_value(b, c->cfg.meeting);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, c->cfg.name);
    json_builder_set_member_name(b, "slots");
    json_builder_add_int_value(b, c->cfg.slots);
    if (c->cfg.profile) {
      json_builder_set_member_name(b, "profile");
      json_builder_add_string_value(b, c->cfg.profile);
    }
    if (c->cfg.roster_changes) {
      json_builder_set_member_name(b, "roster_changes");
      json_builder_add_boolean_value(b, true);
    }
    if (c->cfg.audio_wait_ms) {
      json_builder_set_member_name(b, "audio_wait_ms");
      json_builder_add_int_value(b, c->cfg.audio_wait_ms);
    }
  }
  json_builder_end_object(b);
  JsonNode *n = json_builder_get_root(b);
  char *text = json_to_string(n, FALSE);
  if (c->ws && soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(c->ws, text);
  g_free(text);
  json_node_unref(n);
  g_object_unref(b);
}

void dc_client_send_text(dc_client *c, const char *text) {
  if (c->ws && soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(c->ws, text);
}

/* ---- transport callbacks (the client's worker) ---- */

typedef struct {
  dc_client *c;
  char *candidate;
} cand_call;

static gboolean send_candidate_on_main(gpointer data) {
  cand_call *cc = data;
  if (cc->c->cfg.own_candidate && *cc->candidate) {
    char *instead = cc->c->cfg.own_candidate(cc->candidate, cc->c->user);
    if (instead)
      ws_send(cc->c, "candidate", "candidate", instead);
    g_free(instead);
    return G_SOURCE_REMOVE;
  }
  ws_send(cc->c, "candidate", "candidate", cc->candidate);
  return G_SOURCE_REMOVE;
}

static void free_cand_call(gpointer data) {
  cand_call *cc = data;
  g_free(cc->candidate);
  g_free(cc);
}

static void on_candidate(gpointer user, const char *candidate) {
  const dc_client_config *cfg = &((dc_client *)user)->cfg;
  if (cfg->bridge_candidate && !cfg->own_candidate && *candidate)
    return; /* found by its checks, as behind a NAT */
  cand_call *cc = g_new0(cand_call, 1);
  cc->c = user;
  cc->candidate = g_strdup(candidate);
  g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, send_candidate_on_main, cc, free_cand_call);
}

typedef struct {
  dc_transport *t;
  uint32_t ssrc;
  uint64_t remb_bps;
} reporter;

/* The worker, every second while the workers run. */
static gboolean report(gpointer data) {
  reporter *r = data;
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, 512);
  dc_rtcp_report rr = {.ssrc = r->ssrc};
  dc_rtcp_write_rr(&w, &rr);
  if (r->remb_bps) { /* of the video, as libwebrtc's: the SSRCs it names are not the bridge's concern */
    uint32_t media = 0;
    dc_rtcp_write_remb(&w, r->ssrc, r->remb_bps, &media, 1);
  }
  dc_transport_send_rtcp(r->t, buf, w.len, sizeof buf);
  return G_SOURCE_CONTINUE;
}

GSource *dc_client_report_every_second(dc_transport *t, uint32_t ssrc) {
  return dc_client_report_with_remb(t, ssrc, 0);
}

GSource *dc_client_report_with_remb(dc_transport *t, uint32_t ssrc, uint64_t remb_bps) {
  reporter *r = g_new0(reporter, 1);
  *r = (reporter){t, ssrc, remb_bps};
  GSource *timer = g_timeout_source_new(1000);
  g_source_set_callback(timer, report, r, g_free);
  g_source_attach(timer, dc_worker_context(dc_transport_worker(t)));
  return timer;
}

static void on_state(gpointer user, dc_transport_state state, const char *reason) {
  dc_client *c = user;
  if (state == DC_TRANSPORT_CONNECTED) {
    if (!g_atomic_int_get(&c->connected))
      __atomic_store_n(&c->connected_us, g_get_monotonic_time(), __ATOMIC_RELEASE);
    g_atomic_int_set(&c->connected, 1);
    if (c->cfg.reports && !g_atomic_pointer_get(&c->report_timer))
      g_atomic_pointer_set(&c->report_timer, dc_client_report_with_remb(c->t, 0x5eed, c->cfg.remb_bps));
    if (c->cb.connected)
      c->cb.connected(c, c->user);
  } else if (state == DC_TRANSPORT_FAILED) {
    g_printerr("# client %s: transport failed: %s\n", c->cfg.name, reason ? reason : "");
  }
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  dc_client *c = user;
  if (c->cb.rtp)
    c->cb.rtp(c->user, buf, len, cap);
}

static void on_rtcp(gpointer user, uint8_t *buf, size_t len) {
  dc_client *c = user;
  if (c->cb.rtcp)
    c->cb.rtcp(c->user, buf, len);
}

/* ---- signaling (main thread) ---- */

static void on_message(SoupWebsocketConnection *ws, gint type, GBytes *msg, gpointer user) {
  dc_client *c = user;
  gsize len;
  const char *data = g_bytes_get_data(msg, &len);
  c->signaling_bytes += len;
  /* Rosters are most of what a member gets in a storm, and only a caller that reads messages
   * needs them: unparsed, the load generator's one main thread keeps up with 300 points. */
  if (!c->cb.message && g_strstr_len(data, (gssize)MIN(len, 64), "\"type\":\"roster"))
    return;
  JsonParser *p = json_parser_new();
  if (!json_parser_load_from_data(p, data, (gssize)len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
    g_object_unref(p);
    return;
  }
  JsonObject *o = json_node_get_object(json_parser_get_root(p));
  const char *kind = json_object_get_string_member_with_default(o, "type", "");
  if (!strcmp(kind, "joined")) {
    c->participant = json_object_get_int_member_with_default(o, "participant", 0);
    c->joined_us = g_get_monotonic_time();
    char *lo[] = {(char *)(c->cfg.local_address ? c->cfg.local_address : "127.0.0.1"), NULL};
    dc_transport_config cfg = {.local_addresses = lo, .controlling = true};
    dc_transport_callbacks cb = {.candidate = on_candidate, .state = on_state, .rtp = on_rtp, .rtcp = on_rtcp};
    c->t = dc_transport_new(dc_workers_pick(c->cfg.workers), c->cfg.identity, &cfg, &cb, c, NULL);
    char *offer = c->cb.offer(c, c->user);
    ws_send(c, "offer", "sdp", offer);
    g_free(offer);
  } else if (!strcmp(kind, "answer")) {
    c->answered_us = g_get_monotonic_time();
    const char *sdp = json_object_get_string_member(o, "sdp");
    dc_sdp *a = dc_sdp_parse(sdp, strlen(sdp), NULL);
    const dc_sdp_media *m = a ? g_ptr_array_index(a->media, 0) : NULL;
    if (m) {
      g_free(c->bridge_ufrag), g_free(c->bridge_pwd);
      c->bridge_ufrag = g_strdup(dc_sdp_media_ice_ufrag(a, m));
      c->bridge_pwd = g_strdup(dc_sdp_media_ice_pwd(a, m));
      dc_transport_start(c->t, dc_sdp_media_ice_ufrag(a, m), dc_sdp_media_ice_pwd(a, m),
                         dc_sdp_media_fingerprint(a, m), false);
    }
    dc_sdp_free(a);
  } else if (!strcmp(kind, "candidate")) {
    const char *cand = json_object_get_string_member_with_default(o, "candidate", "");
    if (c->t && c->cfg.bridge_candidate && *cand) {
      char *instead = c->cfg.bridge_candidate(cand, c->user);
      if (instead)
        dc_transport_add_remote_candidate(c->t, instead);
      g_free(instead);
    } else if (c->t) {
      dc_transport_add_remote_candidate(c->t, cand);
    }
  } else {
    if (!strcmp(kind, "error"))
      g_printerr("# client %s: %s\n", c->cfg.name, data);
    if (c->cb.message)
      c->cb.message(c, kind, o, c->user);
  }
  g_object_unref(p);
}

static void on_ws(GObject *src, GAsyncResult *res, gpointer user) {
  dc_client *c = user;
  GError *err = NULL;
  c->ws = soup_session_websocket_connect_finish(SOUP_SESSION(src), res, &err);
  if (!c->ws) {
    g_printerr("# client %s: %s\n", c->cfg.name, err->message);
    g_error_free(err);
    return;
  }
  c->opened_us = g_get_monotonic_time();
  g_signal_connect(c->ws, "message", G_CALLBACK(on_message), c);
  ws_send(c, "join", "token", c->cfg.token);
}

dc_client *dc_client_new(const dc_client_config *cfg, const dc_client_callbacks *cb, gpointer user) {
  dc_client *c = g_new0(dc_client, 1);
  c->cfg = *cfg;
  c->cfg.ws_url = g_strdup(cfg->ws_url);
  c->cfg.token = g_strdup(cfg->token);
  c->cfg.name = g_strdup(cfg->name ? cfg->name : "native client");
  c->cfg.profile = g_strdup(cfg->profile);
  c->cfg.local_address = g_strdup(cfg->local_address);
  c->cb = *cb;
  c->user = user;
  SoupMessage *msg = soup_message_new("GET", c->cfg.ws_url);
  c->started_us = g_get_monotonic_time();
  soup_session_websocket_connect_async(cfg->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL, on_ws, c);
  g_object_unref(msg);
  return c;
}

void dc_client_close(dc_client *c) {
  if (c->ws) {
    if (soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(c->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    g_signal_handlers_disconnect_by_data(c->ws, c);
    g_clear_object(&c->ws);
  }
  /* the reports stop before the transport goes (both on its worker: the close is queued after) */
  GSource *timer = g_atomic_pointer_exchange(&c->report_timer, NULL);
  if (timer) {
    g_source_destroy(timer);
    g_source_unref(timer);
  }
  if (c->t)
    dc_transport_close(c->t);
}

void dc_client_free(dc_client *c) {
  if (!c)
    return;
  g_free((char *)c->cfg.ws_url);
  g_free((char *)c->cfg.token);
  g_free((char *)c->cfg.name);
  g_free((char *)c->cfg.profile);
  g_free((char *)c->cfg.local_address);
  g_free(c->bridge_ufrag);
  g_free(c->bridge_pwd);
  g_free(c);
}

dc_transport *dc_client_transport(const dc_client *c) { return c->t; }
int64_t dc_client_participant(const dc_client *c) { return c->participant; }
gboolean dc_client_is_connected(const dc_client *c) { return g_atomic_int_get(&c->connected); }
gint64 dc_client_started_us(const dc_client *c) { return c->started_us; }
const char *dc_client_bridge_ufrag(const dc_client *c) { return c->bridge_ufrag; }
const char *dc_client_bridge_pwd(const dc_client *c) { return c->bridge_pwd; }
gint64 dc_client_opened_us(const dc_client *c) { return c->opened_us; }
gint64 dc_client_joined_us(const dc_client *c) { return c->joined_us; }
gint64 dc_client_answered_us(const dc_client *c) { return c->answered_us; }
gint64 dc_client_ice_ready_us(const dc_client *c) { return c->t ? dc_transport_ice_ready_us(c->t) : 0; }
gint64 dc_client_connected_us(const dc_client *c) { return __atomic_load_n(&c->connected_us, __ATOMIC_ACQUIRE); }
guint64 dc_client_signaling_bytes(const dc_client *c) { return c->signaling_bytes; }

char *dc_transport_lines(const dc_transport *t, dc_dtls_identity *id, const char *setup) {
  return g_strdup_printf("c=IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=ice-options:trickle\r\n"
                         "a=fingerprint:%s\r\na=setup:%s\r\na=rtcp-mux\r\n",
                         dc_transport_local_ufrag(t), dc_transport_local_pwd(t), dc_dtls_identity_fingerprint(id), setup);
}

char *dc_offer_transport_lines(const dc_transport *t, dc_dtls_identity *id) { return dc_transport_lines(t, id, "actpass"); }

char *dc_client_offer_transport(const dc_client *c) { return dc_offer_transport_lines(c->t, c->cfg.identity); }

char *dc_client_audio_offer(const dc_client *c, uint32_t ssrc) {
  char *transport = dc_client_offer_transport(c);
  char *offer = g_strdup_printf("v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
                                "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n%sa=mid:0\r\na=sendrecv\r\n"
                                "a=rtpmap:111 opus/48000/2\r\na=ssrc:%u cname:native\r\n",
                                ssrc, transport, ssrc);
  g_free(transport);
  return offer;
}

char *dc_client_meeting_offer(const dc_client *c, uint32_t audio_ssrc, const uint32_t *video_ssrcs, int n_video) {
  char *transport = dc_client_offer_transport(c);
  GString *s = g_string_new(NULL);
  g_string_append_printf(s, "v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n", audio_ssrc);
  g_string_append_printf(s, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n%sa=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
                         "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=ssrc:%u cname:native\r\n",
                         transport, audio_ssrc);
  for (int m = 1; m <= 2; m++) {
    g_string_append_printf(s, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n%sa=mid:%d\r\na=%s\r\na=rtpmap:96 VP8/90000\r\n"
                           "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 goog-remb\r\n",
                           transport, m, m == 1 ? "sendrecv" : "recvonly");
    if (m == 1 && n_video > 1) {
      g_string_append(s, "a=ssrc-group:SIM");
      for (int l = 0; l < n_video; l++)
        g_string_append_printf(s, " %u", video_ssrcs[l]);
      g_string_append(s, "\r\n");
    }
    for (int l = 0; m == 1 && l < n_video; l++)
      g_string_append_printf(s, "a=ssrc:%u cname:native\r\n", video_ssrcs[l]);
  }
  g_free(transport);
  return g_string_free(s, FALSE);
}
