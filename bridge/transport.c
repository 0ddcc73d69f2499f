/* transport.c — libnice + DTLS + SRTP for one participant: ICE, the DTLS handshake and its
 * SRTP keys, consent, sending and the close; the peer's datagrams in are
 * transport_receive.c's. See transport.h and transport_private.h. */
#include "bridge/transport_private.h"

#include <gio/gio.h>
#include <netinet/in.h>
#include <nice/interfaces.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <unistd.h>

#include "bridge/metrics.h"
#include "media/rtp.h"
#include "media/srtp.h"


_Static_assert(DC_TRANSPORT_BUF <= DC_OUTBOX_PACKET_MAX, "the outbox holds any packet a transport sends");

static void random_ice_string(char *out, size_t n) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint8_t raw[32];
  RAND_bytes(raw, (int)n);
  for (size_t i = 0; i < n; i++)
    out[i] = alphabet[raw[i] & 63];
  out[n] = '\0';
}

#define LIBNICE_STUN_SENDS 3 /* libnice's default "stun-max-retransmissions" */

/* Transports made with a TURN server, until their relays are given back after their close
 * (nice_agent_close_async): at shutdown the bridge waits for the count to reach 0. */
static gint relays_closing;

dc_transport *dc_transport_new(dc_worker *w, dc_dtls_identity *id, const dc_transport_config *cfg,
                               const dc_transport_callbacks *cb, gpointer user,
                               GDestroyNotify destroy) {
  dc_transport *t = g_new0(dc_transport, 1);
  t->worker = w;
  t->identity = dc_dtls_identity_ref(id);
  t->cfg.local_addresses = g_strdupv(cfg->local_addresses);
  t->cfg.port_min = cfg->port_min;
  t->cfg.port_max = cfg->port_max;
  t->cfg.stun_host = g_strdup(cfg->stun_host);
  t->cfg.stun_port = cfg->stun_port;
  t->cfg.turn_host = g_strdup(cfg->turn_host);
  if (t->cfg.turn_host)
    g_atomic_int_inc(&relays_closing); /* until its close gave the relays back */
  t->cfg.turn_port = cfg->turn_port;
  t->cfg.turn_user = g_strdup(cfg->turn_user);
  t->cfg.turn_password = g_strdup(cfg->turn_password);
  t->cfg.public_address = g_strdup(cfg->public_address);
  t->cfg.controlling = cfg->controlling;
  t->cfg.ice_tcp = cfg->ice_tcp;
  t->cb = *cb;
  t->user = user;
  t->destroy = destroy;
  t->pending_candidates = g_ptr_array_new_with_free_func(g_free);
  random_ice_string(t->ufrag, 8);
  random_ice_string(t->pwd, 24);
  RAND_bytes((uint8_t *)&t->tie_breaker, sizeof t->tie_breaker);
  t->direct_fd = -1;
  dc_outbox_sender_init(&t->out, -1, &t->peer, &t->peer_len);
  return t;
}

void dc_transport_drop_silence(dc_transport *t, int opus_pt, int red_pt, int level_id) {
  t->silence_opus_pt = opus_pt;
  t->silence_red_pt = red_pt;
  t->silence_level_id = level_id;
}

const char *dc_transport_local_ufrag(const dc_transport *t) { return t->ufrag; }
const char *dc_transport_local_pwd(const dc_transport *t) { return t->pwd; }
dc_worker *dc_transport_worker(const dc_transport *t) { return t->worker; }
dc_transport_state dc_transport_get_state(const dc_transport *t) { return t->state; }
gint64 dc_transport_ice_ready_us(const dc_transport *t) { return __atomic_load_n(&t->ice_ready_us, __ATOMIC_ACQUIRE); }

static void set_state(dc_transport *t, dc_transport_state s, const char *reason) {
  if (t->state == s || t->closed)
    return;
  t->state = s;
  t->cb.state(t->user, s, reason);
}

/* One datagram to the peer: on the path's socket to where the peer is, once we read it
 * ourselves; else through libnice, to its selected pair. Whether it went. */
static bool send_datagram(dc_transport *t, const uint8_t *buf, size_t len) {
  if (t->direct_fd >= 0)
    return sendto(t->direct_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&t->peer,
                  t->peer_len) == (ssize_t)len;
  return nice_agent_send(t->agent, t->stream, 1, (guint)len, (const gchar *)buf) >= 0;
}

/* ---- DTLS ---- */

static void flush_dtls(dc_transport *t) {
  const uint8_t *dg;
  size_t len;
  while ((dg = dc_dtls_poll_datagram(t->dtls, &len)))
    if (!send_datagram(t, dg, len))
      t->dtls_unsent = true;
}


static gboolean on_dtls_timer(gpointer data);

/* Every two seconds while connected: a peer silent for DC_TRANSPORT_CONSENT_S has lost its
 * consent; the transport fails, and sends stop (send_protected). Every DC_TRANSPORT_RTT_CHECK_S,
 * a round-trip check. */
static gboolean consent_tick(gpointer data) {
  dc_transport *t = data;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  if (t->closed || t->state != DC_TRANSPORT_CONNECTED)
    return G_SOURCE_CONTINUE;
  if (now - t->last_heard_us > (uint64_t)DC_TRANSPORT_CONSENT_S * G_USEC_PER_SEC) {
    char *why = g_strdup_printf("nothing came from the participant for %.0f s (no consent to send, RFC 7675)",
                                (double)(now - t->last_heard_us) / G_USEC_PER_SEC);
    set_state(t, DC_TRANSPORT_FAILED, why);
    g_free(why);
    return G_SOURCE_CONTINUE;
  }
  if (++t->consent_ticks % (DC_TRANSPORT_RTT_CHECK_S / 2) == 0)
    transport_check_rtt(t, now);
  return G_SOURCE_CONTINUE;
}

static void start_consent(dc_transport *t) {
  t->last_heard_us = (uint64_t)g_get_monotonic_time();
  if (!t->consent_tick)
    t->consent_tick = dc_worker_every(t->worker, 2000, consent_tick, t, NULL);
}

static void schedule_dtls_timer(dc_transport *t) {
  if (t->dtls_timer) {
    g_source_destroy(t->dtls_timer);
    g_source_unref(t->dtls_timer);
    t->dtls_timer = NULL;
  }
  uint64_t deadline = dc_dtls_timeout(t->dtls);
  if (deadline == UINT64_MAX)
    return;
  int64_t now = g_get_monotonic_time();
  guint ms = deadline > (uint64_t)now ? (guint)((deadline - (uint64_t)now + 999) / 1000) : 0;
  t->dtls_timer = g_timeout_source_new(ms);
  g_source_set_callback(t->dtls_timer, on_dtls_timer, t, NULL);
  g_source_attach(t->dtls_timer, dc_worker_context(t->worker));
}

void transport_after_dtls(dc_transport *t) {
  flush_dtls(t);
  switch (dc_dtls_get_state(t->dtls)) {
  case DC_DTLS_CONNECTED:
    if (!t->srtp_in) {
      dc_dtls_srtp_keys k;
      if (dc_dtls_srtp_keys_export(t->dtls, &k) == DC_OK) {
        t->srtp_out = dc_srtp_new(k.profile, k.local_key, k.local_salt, DC_SRTP_OUTBOUND, NULL);
        t->srtp_in = dc_srtp_new(k.profile, k.remote_key, k.remote_salt, DC_SRTP_INBOUND, NULL);
      }
      OPENSSL_cleanse(&k, sizeof k);
      if (t->srtp_in && t->srtp_out) {
        set_state(t, DC_TRANSPORT_CONNECTED, NULL);
        start_consent(t);
        transport_ask_direct_receive(t);
      } else
        set_state(t, DC_TRANSPORT_FAILED, "could not set up SRTP from the DTLS keys");
    }
    break;
  case DC_DTLS_FAILED: set_state(t, DC_TRANSPORT_FAILED, dc_dtls_error(t->dtls)); break;
  case DC_DTLS_CLOSED: set_state(t, DC_TRANSPORT_CLOSED, "the peer closed DTLS"); break;
  case DC_DTLS_HANDSHAKING: break;
  }
  schedule_dtls_timer(t);
}

static gboolean on_dtls_timer(gpointer data) {
  dc_transport *t = data;
  g_source_unref(t->dtls_timer);
  t->dtls_timer = NULL;
  dc_dtls_handle_timeout(t->dtls, (uint64_t)g_get_monotonic_time());
  transport_after_dtls(t);
  return G_SOURCE_REMOVE;
}

/* ---- ICE ---- */

static void on_candidate(NiceAgent *agent, NiceCandidate *cand, gpointer user) {
  dc_transport *t = user;
  /* Of TCP, only passive candidates: the bridge answers and listens; its active and
   * simultaneous-open ones would only be more checks for the peer to try and drop. (An
   * active one needs no socket: libnice gathers it on an address it could not bind.) */
  if (cand->transport == NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE || cand->transport == NICE_CANDIDATE_TRANSPORT_TCP_SO)
    return;
  t->local_candidates++;
  if (t->cfg.public_address && cand->type == NICE_CANDIDATE_TYPE_HOST) {
    /* Behind 1:1 NAT: advertise the public address with the same port. */
    guint port = nice_address_get_port(&cand->addr);
    NiceCandidate *copy = nice_candidate_copy(cand);
    if (nice_address_set_from_string(&copy->addr, t->cfg.public_address)) {
      nice_address_set_port(&copy->addr, port);
      char *sdp = nice_agent_generate_local_candidate_sdp(agent, copy);
      t->cb.candidate(t->user, sdp + 2); /* drop "a=" */
      g_free(sdp);
    }
    nice_candidate_free(copy);
    return;
  }
  char *sdp = nice_agent_generate_local_candidate_sdp(agent, cand);
  t->cb.candidate(t->user, g_str_has_prefix(sdp, "a=") ? sdp + 2 : sdp);
  g_free(sdp);
}

char *dc_transport_machine_addresses(unsigned *n) {
  GList *ips = nice_interfaces_get_local_ips(FALSE);
  GString *list = g_string_new(NULL);
  for (GList *l = ips; l; l = l->next)
    g_string_append_printf(list, "%s%s", list->len ? ", " : "", (const char *)l->data);
  if (n)
    *n = g_list_length(ips);
  g_list_free_full(ips, g_free);
  if (!list->len)
    g_string_append(list, "none but the loopback");
  return g_string_free(list, FALSE);
}

/* No socket could be opened to carry media: an --ice-address that is not (or no longer) this
 * machine's, IPv6 turned off under an IPv6 one, or every port of --media-ports taken. Said at
 * once, and as what it is: before, the peer waited out the connect timeout (20 s) and was told
 * to suspect its UDP and try a relay, and the log said the same. The operator is warned at
 * most once a minute, with this machine's addresses to choose from. */
static void fail_without_sockets(dc_transport *t) {
  GString *why = g_string_new("no socket to carry media could be opened on ");
  if (t->cfg.local_addresses && *t->cfg.local_addresses) {
    char *list = g_strjoinv(", ", t->cfg.local_addresses);
    g_string_append_printf(why, "the ICE address%s %s (not this machine's now?)", t->cfg.local_addresses[1] ? "es" : "",
                           list);
    g_free(list);
  } else {
    g_string_append(why, "any address of this machine");
  }
  if (t->cfg.port_min || t->cfg.port_max)
    g_string_append_printf(why, ", or every media port of %u-%u is taken", t->cfg.port_min, t->cfg.port_max);
  static gint64 warned_us; /* atomic */
  gint64 now = g_get_monotonic_time(), last = __atomic_load_n(&warned_us, __ATOMIC_RELAXED);
  if ((!last || now - last >= 60 * G_USEC_PER_SEC) &&
      __atomic_compare_exchange_n(&warned_us, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    char *mine = dc_transport_machine_addresses(NULL);
    g_warning("a point cannot be given media: %s; this machine's addresses: %s (ice-address= in the config "
              "file, or --ice-address)", why->str, mine);
    g_free(mine);
  }
  set_state(t, DC_TRANSPORT_FAILED, why->str);
  g_string_free(why, TRUE);
}

static void on_gathering_done(NiceAgent *agent, guint stream, gpointer user) {
  dc_transport *t = user;
  if (!t->local_candidates) {
    fail_without_sockets(t);
    return;
  }
  t->cb.candidate(t->user, "");
}

static void on_component_state(NiceAgent *agent, guint stream, guint component, guint state,
                               gpointer user) {
  dc_transport *t = user;
  if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) && !t->ice_ready_us)
    __atomic_store_n(&t->ice_ready_us, g_get_monotonic_time(), __ATOMIC_RELEASE);
  if (state == NICE_COMPONENT_STATE_FAILED)
    set_state(t, DC_TRANSPORT_FAILED, t->state == DC_TRANSPORT_CONNECTED
                                          ? "the participant stopped answering ICE keepalives"
                                          : "ICE found no working path to the participant");
  else if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) && t->dtls &&
           dc_dtls_get_state(t->dtls) == DC_DTLS_HANDSHAKING) {
    /* Now there is a path: as client, our ClientHello goes. As server, a peer's ClientHello
     * can come before our side of ICE has chosen a pair, and our answer to it went nowhere:
     * it goes again now, not after the 200 ms timer (one join in twenty of bench_join
     * waited for it: p95 238 ms) */
    if (t->dtls_unsent)
      dc_dtls_resend_flight(t->dtls);
    t->dtls_unsent = false;
    transport_after_dtls(t);
  }
}

static void add_candidate_now(dc_transport *t, const char *candidate) {
  if (!*candidate) {
    nice_agent_peer_candidate_gathering_done(t->agent, t->stream);
    return;
  }
  char *line = g_str_has_prefix(candidate, "candidate:") ? g_strconcat("a=", candidate, NULL)
                                                         : g_strdup(candidate);
  NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(t->agent, t->stream, line);
  g_free(line);
  if (!c)
    return; /* unparseable or another component: ignore, as JSEP asks */
  GSList *list = g_slist_append(NULL, c);
  nice_agent_set_remote_candidates(t->agent, t->stream, 1, list);
  g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
}

typedef struct {
  dc_transport *t;
  char *ufrag, *pwd, *fingerprint, *candidate;
  bool dtls_server;
} call;

static void free_call(gpointer data) {
  call *c = data;
  g_free(c->ufrag);
  g_free(c->pwd);
  g_free(c->fingerprint);
  g_free(c->candidate);
  g_free(c);
}

static gboolean start_on_worker(gpointer data) {
  call *c = data;
  dc_transport *t = c->t;
  if (t->closed)
    return G_SOURCE_REMOVE;
  t->agent = nice_agent_new_full(dc_worker_context(t->worker), NICE_COMPATIBILITY_RFC5245,
                                 NICE_AGENT_OPTION_ICE_TRICKLE);
  /* UPnP is on by default in libnice: every agent would run an HTTP server and multicast
   * SSDP to find a home router. A bridge has a known address (and --public-address). */
  g_object_set(t->agent, "controlling-mode", t->cfg.controlling, "ice-tcp", t->cfg.ice_tcp, "upnp", FALSE, NULL);
  /* libnice's default sends a check 3 times over 1.5 s and gives up 3.5 s after the first: on
   * a highland link (600 ms round trip and more, one packet in ten lost each way) our check on
   * the pair a point nominated went unanswered often enough that we declared ICE failed just
   * as the point saw it connected. 5 sends over 7.5 s (the endpoint's DC_ICE_CHECK_SENDS). */
  g_object_set(t->agent, "stun-max-retransmissions", (guint)DC_TRANSPORT_ICE_CHECK_SENDS, NULL);
  /* Once our own checks are over, libnice waits its "idle-timeout" (5 s) for the controlling
   * peer to nominate a pair, then declares ICE failed, valid pairs or not. On a highland link
   * the peer's check and its nominating check each take up to 7.5 s of sends when answers
   * are lost: in the link lab (highland-radio, seed 14) our check succeeded, the point's went
   * unanswered, and we failed the join 5 s later, every run; its next join, 15-20 s later and
   * over TCP, then played the speech half a second late. We wait for a peer's whole check and
   * a nomination after it. A peer with no path at all is failed that much later (31.5 s after
   * our first check, not 20.5): the endpoint tries again after its own 20 s, a page after
   * its browser's ICE gives up. */
  g_object_set(t->agent, "idle-timeout", (guint)DC_TRANSPORT_ICE_IDLE_MS, NULL);
  if (t->cfg.stun_host)
    g_object_set(t->agent, "stun-server", t->cfg.stun_host, "stun-server-port", t->cfg.stun_port, NULL);
  for (char **a = t->cfg.local_addresses; a && *a; a++) {
    NiceAddress addr;
    if (nice_address_set_from_string(&addr, *a))
      nice_agent_add_local_address(t->agent, &addr);
  }
  g_signal_connect(t->agent, "new-candidate-full", G_CALLBACK(on_candidate), t);
  g_signal_connect(t->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), t);
  g_signal_connect(t->agent, "component-state-changed", G_CALLBACK(on_component_state), t);
  t->stream = nice_agent_add_stream(t->agent, 1);
  if (t->cfg.port_min || t->cfg.port_max)
    nice_agent_set_port_range(t->agent, t->stream, 1, t->cfg.port_min, t->cfg.port_max);
  if (t->cfg.turn_host)
    nice_agent_set_relay_info(t->agent, t->stream, 1, t->cfg.turn_host, t->cfg.turn_port,
                              t->cfg.turn_user, t->cfg.turn_password, NICE_RELAY_TYPE_TURN_UDP);
  nice_agent_set_local_credentials(t->agent, t->stream, t->ufrag, t->pwd);
  nice_agent_set_remote_credentials(t->agent, t->stream, c->ufrag, c->pwd);
  t->remote_ufrag = g_strdup(c->ufrag);
  t->remote_pwd = g_strdup(c->pwd);
  nice_agent_attach_recv(t->agent, t->stream, 1, dc_worker_context(t->worker), transport_on_recv, t);
  GError *err = NULL;
  t->dtls_server = c->dtls_server;
  t->dtls = dc_dtls_new(t->identity, c->dtls_server ? DC_DTLS_SERVER : DC_DTLS_CLIENT,
                        c->fingerprint, (uint64_t)g_get_monotonic_time(), &err);
  if (!t->dtls) {
    set_state(t, DC_TRANSPORT_FAILED, err->message);
    g_error_free(err);
    return G_SOURCE_REMOVE;
  }
  if (!nice_agent_gather_candidates(t->agent, t->stream)) {
    fail_without_sockets(t);
    return G_SOURCE_REMOVE;
  }
  for (guint i = 0; i < t->pending_candidates->len; i++)
    add_candidate_now(t, g_ptr_array_index(t->pending_candidates, i));
  g_ptr_array_set_size(t->pending_candidates, 0);
  return G_SOURCE_REMOVE;
}

void dc_transport_start(dc_transport *t, const char *ufrag, const char *pwd,
                        const char *fingerprint, bool dtls_server) {
  call *c = g_new0(call, 1);
  c->t = t;
  c->ufrag = g_strdup(ufrag);
  c->pwd = g_strdup(pwd);
  c->fingerprint = g_strdup(fingerprint);
  c->dtls_server = dtls_server;
  dc_worker_invoke(t->worker, start_on_worker, c, free_call);
}

static gboolean candidate_on_worker(gpointer data) {
  call *c = data;
  if (c->t->closed)
    return G_SOURCE_REMOVE;
  if (c->t->agent_released)
    return G_SOURCE_REMOVE; /* the path is chosen and ours: a later candidate changes nothing */
  if (!c->t->agent)
    g_ptr_array_add(c->t->pending_candidates, g_strdup(c->candidate));
  else
    add_candidate_now(c->t, c->candidate);
  return G_SOURCE_REMOVE;
}

void dc_transport_add_remote_candidate(dc_transport *t, const char *candidate) {
  call *c = g_new0(call, 1);
  c->t = t;
  c->candidate = g_strdup(candidate);
  dc_worker_invoke(t->worker, candidate_on_worker, c, free_call);
}

static void relays_given_back(GObject *agent, GAsyncResult *res, gpointer data) {
  (void)res, (void)data;
  g_object_unref(agent); /* ours, held until the TURN server answered (or libnice gave up) */
  g_atomic_int_dec_and_test(&relays_closing);
}

bool dc_transport_wait_relays(unsigned timeout_ms) {
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (g_atomic_int_get(&relays_closing) > 0 && g_get_monotonic_time() < end)
    g_usleep(5000);
  return g_atomic_int_get(&relays_closing) == 0;
}

gboolean transport_close_on_worker(gpointer data) {
  dc_transport *t = data;
  t->closed = true;
  if (t->receiving) { /* from a callback of drain_direct or got_direct: it finishes the close */
    t->close_deferred = true;
    return G_SOURCE_REMOVE;
  }
  if (t->direct_start) {
    g_source_destroy(t->direct_start);
    g_clear_pointer(&t->direct_start, g_source_unref);
  }
  if (t->dtls_timer) {
    g_source_destroy(t->dtls_timer);
    g_source_unref(t->dtls_timer);
  }
  if (t->consent_tick) {
    dc_worker_stop_tick(t->consent_tick);
  }
  if (t->direct_fd >= 0)
    dc_outbox_flush(); /* what it holds goes before its close_notify, and before t goes */
  if (t->dtls && (t->agent || t->direct_fd >= 0) && dc_dtls_get_state(t->dtls) == DC_DTLS_CONNECTED &&
      t->state != DC_TRANSPORT_FAILED) {
    dc_dtls_close(t->dtls); /* tell the peer: close_notify */
    flush_dtls(t);
  }
  transport_close_direct(t);
  if (t->agent) {
    nice_agent_attach_recv(t->agent, t->stream, 1, dc_worker_context(t->worker), NULL, NULL);
    g_signal_handlers_disconnect_by_data(t->agent, t);
    if (t->cfg.turn_host) { /* counted since dc_transport_new */
      /* a TURN allocation is given back (a Refresh with lifetime 0) rather than left to run
       * out at the server (10 minutes): a point on a bad link that rejoins often would pile
       * them up against the server's quota. The agent goes once the server answered, or
       * after libnice's own 3 sends (3.5 s), not the checks' DC_TRANSPORT_ICE_CHECK_SENDS:
       * at shutdown the bridge waits for it. */
      g_object_set(t->agent, "stun-max-retransmissions", (guint)LIBNICE_STUN_SENDS, NULL);
      nice_agent_close_async(t->agent, relays_given_back, NULL);
    } else {
      nice_agent_remove_stream(t->agent, t->stream);
      g_object_unref(t->agent);
    }
  } else if (t->cfg.turn_host) {
    g_atomic_int_dec_and_test(&relays_closing); /* never started: nothing to give back */
  }
  dc_dtls_free(t->dtls);
  dc_srtp_free(t->srtp_in);
  dc_srtp_free(t->srtp_out);
  dc_dtls_identity_unref(t->identity);
  g_strfreev(t->cfg.local_addresses);
  g_free(t->cfg.stun_host);
  g_free(t->cfg.turn_host);
  g_free(t->cfg.turn_user);
  g_free(t->cfg.turn_password);
  g_free(t->cfg.public_address);
  g_free(t->remote_ufrag);
  if (t->remote_pwd)
    OPENSSL_cleanse(t->remote_pwd, strlen(t->remote_pwd));
  g_free(t->remote_pwd);
  g_ptr_array_unref(t->pending_candidates);
  if (t->destroy)
    t->destroy(t->user);
  g_free(t);
  return G_SOURCE_REMOVE;
}

void dc_transport_close(dc_transport *t) { dc_worker_invoke(t->worker, transport_close_on_worker, t, NULL); }

/* Protects in place with the outbound session and sends; RTP and RTCP differ only in how. */
static dc_status send_protected(dc_transport *t, dc_status (*protect)(dc_srtp *, uint8_t *, size_t *, size_t),
                                uint8_t *buf, size_t len, size_t cap) {
  if (!t->srtp_out || t->closed || t->state == DC_TRANSPORT_FAILED)
    return DC_ERR_STATE; /* a failed peer gets nothing more: it may not want it (RFC 7675 §5.1) */
  dc_status st = protect(t->srtp_out, buf, &len, cap);
  if (st != DC_OK)
    return st;
  if (t->direct_fd >= 0)
    dc_outbox_send(&t->out, buf, len);
  else
    send_datagram(t, buf, len);
  return st;
}

dc_status dc_transport_send_rtp(dc_transport *t, uint8_t *buf, size_t len, size_t cap) {
  /* a few bytes short of the run the peer's packets held so far end in: padded to join it
   * (outbox.h), so that a frame goes in one call */
  size_t run = t->srtp_out && t->direct_fd >= 0 ? dc_outbox_open_run(&t->out) : 0;
  if (run) {
    size_t trailer = dc_srtp_rtp_trailer(t->srtp_out);
    if (run > len + trailer && run - (len + trailer) <= DC_OUTBOX_PAD_MAX && cap >= run &&
        dc_rtp_add_padding(buf, &len, cap - trailer, run - (len + trailer)) == DC_OK)
      dc_metrics_add(&dc_metrics.rtp_padded_to_run, 1);
  }
  dc_status st = send_protected(t, dc_srtp_protect, buf, len, cap);
  if (st == DC_OK) {
    dc_metrics_add(&dc_metrics.rtp_packets_out, 1);
    dc_metrics_add(&dc_metrics.rtp_bytes_out, len);
  }
  return st;
}

void dc_transport_prefetch_send(const dc_transport *t, unsigned stage) { transport_prefetch_path(t, false, stage); }

dc_status dc_transport_send_rtcp(dc_transport *t, uint8_t *buf, size_t len, size_t cap) {
  dc_status st = send_protected(t, dc_srtp_protect_rtcp, buf, len, cap);
  if (st == DC_OK)
    dc_metrics_add(&dc_metrics.rtcp_packets_out, 1);
  return st;
}
