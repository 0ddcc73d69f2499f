/* transport.c — libnice + DTLS + SRTP for one participant; see transport.h. */
#include "bridge/transport.h"

#include <agent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/ice_reply.h"
#include "bridge/metrics.h"
#include "bridge/outbox.h"
#include "media/demux.h"
#include "media/rtp.h"
#include "media/srtp.h"

struct dc_transport {
  dc_worker *worker;
  dc_dtls_identity *identity;
  dc_transport_config cfg;
  dc_transport_callbacks cb;
  gpointer user;
  GDestroyNotify destroy;
  char ufrag[9], pwd[25];
  /* worker-thread state */
  NiceAgent *agent;
  guint stream;
  dc_dtls *dtls;
  char *remote_fingerprint;
  bool dtls_server;
  bool dtls_unsent;        /* a handshake datagram found no ICE path yet: see on_component_state */
  dc_srtp *srtp_in, *srtp_out;
  GSource *dtls_timer;
  dc_worker_tick *consent_tick; /* while connected: nothing heard for DC_TRANSPORT_CONSENT_S fails it */
  uint64_t last_heard_us;  /* the last authenticated packet from the peer */
  gint64 ice_ready_us;     /* atomic: when ICE first had a path */
  dc_transport_state state;
  GPtrArray *pending_candidates; /* trickled before start */
  bool closed;
  /* direct receive (see below): the path's socket, read by us, and where the peer is */
  dc_worker_watch *direct_watch;
  int direct_fd;           /* ours (a duplicate of the agent's), -1 until direct receive */
  struct sockaddr_storage peer;
  socklen_t peer_len;
  dc_outbox_sender out; /* media to the peer, sent together at a pass's end (outbox.h) */
  uint64_t tie_breaker;
  char *remote_ufrag, *remote_pwd; /* the peer's ICE credentials, for our consent checks */
  /* the peer's authenticated packets come from move_to: our check there, and when it went */
  struct sockaddr_storage move_to;
  socklen_t move_to_len;
  dc_ice_check move_check;
  uint64_t move_check_us;
  bool move_pending;
  GSource *direct_start; /* the switch, due at the loop's next turn */
  bool direct_asked;
  bool agent_released; /* direct receive let the agent go: candidates have nowhere to go */
  bool receiving;      /* in drain_direct or got_direct: a close from a callback waits for its end */
  bool close_deferred;
};

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

static void ask_direct_receive(dc_transport *t);

static gboolean on_dtls_timer(gpointer data);

/* Every few seconds while connected: a peer silent for DC_TRANSPORT_CONSENT_S has lost its
 * consent; the transport fails, and sends stop (send_protected). */
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
  }
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

static void after_dtls(dc_transport *t) {
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
        ask_direct_receive(t);
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
  after_dtls(t);
  return G_SOURCE_REMOVE;
}

/* ---- receive ---- */

/* An authenticated packet (SRTP or SRTCP) came from `from`, not where we send: the peer may
 * have moved (it nominated another of its candidates, or its NAT gave it a new port), or
 * someone on the path sent a copy of its packet from elsewhere, ahead of it, to have our
 * media sent to an address of their choosing. So where we send moves only once the
 * peer consents there (RFC 7675 §5.1): our own check goes to the new address, and only its
 * answer, under the peer's password, moves us (on_stun_response). A check goes at most every
 * MOVE_CHECK_SPACING_US, to the latest such address: a copy sprayed from many addresses
 * gets a small check now and then, never our media, and a lost check is sent again on the
 * next packet after the spacing. (Under libnice, from is NULL: libnice follows the peer.) */
#define MOVE_CHECK_SPACING_US (200 * 1000)

static bool is_peer(const dc_transport *t, const struct sockaddr_storage *from, socklen_t from_len) {
  return from_len == t->peer_len && !memcmp(from, &t->peer, from_len);
}

static void check_new_address(dc_transport *t, const struct sockaddr_storage *from, socklen_t from_len) {
  if (!from || t->direct_fd < 0 || is_peer(t, from, from_len))
    return;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  if (t->move_pending && now - t->move_check_us < MOVE_CHECK_SPACING_US)
    return;
  uint8_t req[512];
  size_t n = dc_ice_check_request(&t->move_check, t->ufrag, t->remote_ufrag, t->remote_pwd, t->cfg.controlling,
                                  t->tie_breaker, req, sizeof req);
  if (!n)
    return;
  memcpy(&t->move_to, from, from_len);
  t->move_to_len = from_len;
  t->move_pending = true;
  t->move_check_us = now;
  sendto(t->direct_fd, req, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)from, from_len);
  dc_metrics_add(&dc_metrics.path_checks, 1);
  g_debug("transport: the participant's packets come from another address; checking that it is there");
}

/* A STUN response on the direct path: when it answers our check, from where the check went,
 * the peer is there and consents: our media follows. Returns whether it was that answer. */
static bool on_stun_response(dc_transport *t, const uint8_t *buf, size_t len, const struct sockaddr_storage *from,
                             socklen_t from_len) {
  if (!t->move_pending || from_len != t->move_to_len || memcmp(from, &t->move_to, from_len) ||
      !dc_ice_check_answered(&t->move_check, buf, len, t->remote_pwd))
    return false;
  memcpy(&t->peer, from, from_len);
  t->peer_len = from_len;
  t->move_pending = false;
  dc_metrics_add(&dc_metrics.path_moves, 1);
  g_debug("transport: the participant answered at its new address; sending there");
  return true;
}

static void receive_dtls(dc_transport *t, const uint8_t *dg, size_t len) {
  if (t->dtls) {
    dc_dtls_handle_datagram(t->dtls, dg, len, (uint64_t)g_get_monotonic_time());
    after_dtls(t);
  }
}

/* A datagram from the peer, in buf (cap bytes writable, for in-place SRTP); from is where it
 * came from on the direct path, NULL under libnice. */
static void receive_datagram(dc_transport *t, uint8_t *buf, size_t len, size_t cap,
                             const struct sockaddr_storage *from, socklen_t from_len) {
  dc_pkt_kind kind = dc_demux(buf, len);
  switch (kind) {
  case DC_PKT_DTLS:
    /* on the direct path the handshake is over: what DTLS still carries (the peer's resent
     * last flight, which has us resend ours; its close_notify) comes from the peer. From
     * anywhere else, a byte 22 in front was enough to have our flight resent to the peer. */
    if (from && !is_peer(t, from, from_len))
      return;
    receive_dtls(t, buf, len);
    return;
  case DC_PKT_RTP:
  case DC_PKT_RTCP: {
    if (!t->srtp_in || len > cap - DC_SRTP_MAX_TRAILER)
      return; /* no keys yet: plain RTP is never accepted */
    size_t n = len;
    if (kind == DC_PKT_RTP) {
      if (dc_srtp_unprotect(t->srtp_in, buf, &n) == DC_OK) {
        t->last_heard_us = (uint64_t)g_get_monotonic_time();
        check_new_address(t, from, from_len);
        dc_metrics_add(&dc_metrics.rtp_packets_in, 1);
        dc_metrics_add(&dc_metrics.rtp_bytes_in, n);
        t->cb.rtp(t->user, buf, n, cap);
      } else {
        dc_metrics_add(&dc_metrics.srtp_refused, 1);
      }
    } else if (dc_srtp_unprotect_rtcp(t->srtp_in, buf, &n) == DC_OK) {
      t->last_heard_us = (uint64_t)g_get_monotonic_time();
      check_new_address(t, from, from_len);
      dc_metrics_add(&dc_metrics.rtcp_packets_in, 1);
      t->cb.rtcp(t->user, buf, n);
    } else {
      dc_metrics_add(&dc_metrics.srtp_refused, 1);
    }
    return;
  }
  case DC_PKT_STUN: { /* only on the direct path: libnice takes STUN before us */
    if (!from || t->direct_fd < 0 || on_stun_response(t, buf, len, from, from_len))
      return;
    uint8_t answer[DC_ICE_REPLY_MAX_REQUEST + 128];
    size_t n = dc_ice_reply(buf, len, t->ufrag, t->pwd, t->cfg.controlling, t->tie_breaker,
                            (const struct sockaddr *)from, from_len, answer, sizeof answer);
    /* answered, but where we send stays: a browser pings its backup pairs too (other local
     * addresses of its own), and media follows the pair it sends media on, not every check */
    if (n)
      sendto(t->direct_fd, answer, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)from, from_len);
    return;
  }
  default: return; /* the rest is noise */
  }
}

static void on_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *data,
                    gpointer user) {
  dc_transport *t = user;
  const uint8_t *in = (const uint8_t *)data;
  if (t->closed)
    return;
  dc_pkt_kind kind = dc_demux(in, len);
  if (kind == DC_PKT_DTLS) {
    receive_dtls(t, in, len);
    return;
  }
  if ((kind != DC_PKT_RTP && kind != DC_PKT_RTCP) || len > DC_TRANSPORT_BUF - DC_SRTP_MAX_TRAILER)
    return; /* STUN never reaches here (libnice takes it); the rest is noise */
  uint8_t buf[DC_TRANSPORT_BUF]; /* libnice's buffer is its own: ours to decrypt in */
  memcpy(buf, in, len);
  receive_datagram(t, buf, len, sizeof buf, NULL, 0);
}

/* ---- direct receive ----
 *
 * libnice hands each datagram over through a GSource of its own per socket, and GLib (2.74)
 * takes such a source's descriptor out of the poll set while it runs and puts it back after,
 * waking the loop through its eventfd each time: with libnice's read until the socket is
 * empty, three system calls and a loop wake-up for every packet, more than the packet's own
 * work at a few hundred participants. Once media flows on a UDP path of our single host socket,
 * the transport reads that socket itself: one recvmmsg a wake-up for whatever is queued, the
 * socket watched through its worker's epoll set (dc_worker_watch_datagrams: one descriptor in
 * the poll however many participants; where several sockets are ready at once the worker
 * reads a datagram of each in one io_uring call and hands it here, got_direct, and the
 * transport drains a socket that had more), and answers the STUN checks still arriving there
 * (bridge/ice_reply), and checks a new address of the peer's before its media goes there.
 * The agent has nothing left to do, and goes: the socket is kept as a duplicate of its
 * descriptor. An agent cost every participant heap (30 KiB of resident memory at 300, by the
 * load generator) and its keepalive timer in the worker's loop, a source GLib walks on every
 * pass of it (150 a worker at 300 participants); the peer's own consent checks and our media
 * keep its NAT's binding, which is what those keepalives were for (RFC 8445 §11).
 *
 * Kept on libnice: relayed and ICE-TCP paths (libnice frames them), agents with a TURN server
 * of their own (its refreshes arrive on the same socket) and agents with more than one host
 * socket (a later nomination could move the path to a socket we do not read).
 *
 * The socket asks for UDP GRO (Linux 5.0): the kernel may then hand over a run of the peer's
 * datagrams of one length (the last may be shorter) in one buffer, with that length beside
 * it, and they are taken apart here. A NIC's GRO coalesces a camera's back-to-back packets
 * this way, one pass through the kernel's receive path for the run; on loopback a peer's GSO
 * send (bridge/outbox.h) stays one buffer to the end, where a socket without GRO would have
 * it cut into datagrams on the sender's time (bench_sendpath: a run of 8 by GSO costs the
 * sender 0.30 of eight sendto's into a socket without GRO, 0.18 into one with it). Such a
 * buffer can be up to 64 KiB, so the reads go into the worker's own buffers, not the stack. */

#define DIRECT_BATCH 8
#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h, Linux 5.0 */
#endif
#define DIRECT_READ_MAX 65536 /* a coalesced run: at most a UDP datagram's 64 KiB */

typedef struct {
  uint8_t bufs[DIRECT_BATCH][DIRECT_READ_MAX];
  union { /* the run's datagram length, when the kernel coalesced one */
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control[DIRECT_BATCH];
} direct_reads;

static GPrivate this_thread_reads = G_PRIVATE_INIT(g_free);

static direct_reads *thread_reads(void) {
  direct_reads *r = g_private_get(&this_thread_reads);
  if (!r) { /* 512 KiB a worker, its pages touched only as far as reads fill them */
    r = g_malloc(sizeof *r);
    g_private_set(&this_thread_reads, r);
  }
  return r;
}

/* The length of each datagram in a coalesced read; 0 when the read is one datagram. */
static size_t coalesced_length(struct msghdr *m) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size;
      memcpy(&size, CMSG_DATA(c), sizeof size);
      return size > 0 ? (size_t)size : 0;
    }
  return 0;
}

static gboolean close_on_worker(gpointer data);

/* Warming ahead (worker.h): stage 0 the lines of t a packet's way in or out reads, stages 1
 * and 2 that way's SRTP session, then its streams and cipher. The session is looked up only
 * from stage 1, once t's line has had time to come. */
static void prefetch_path(const dc_transport *t, bool inbound, unsigned stage) {
  if (stage == 0) {
    __builtin_prefetch(&t->srtp_in); /* srtp_out beside it */
    __builtin_prefetch(&t->closed);
    __builtin_prefetch(&t->peer);
    __builtin_prefetch(&t->cb);
    return;
  }
  const dc_srtp *s = inbound ? t->srtp_in : t->srtp_out;
  if (s && stage <= 2)
    dc_srtp_prefetch(s, stage - 1);
}

/* For the next ready sockets: the way in, then the participant the packet goes to. */
static void direct_ahead(gpointer data, unsigned stage) {
  const dc_transport *t = data;
  if (stage < 3)
    prefetch_path(t, true, stage);
  else if (t->cb.prefetch)
    t->cb.prefetch(t->user);
}

/* A read's datagrams in turn: a coalesced run copied out one by one, since what reads a packet
 * may use its buffer up to DC_TRANSPORT_BUF, which would be the next datagram's bytes. One longer
 * than a datagram of ours can be is dropped, as the read of old truncated and dropped it. */
static unsigned receive_read(dc_transport *t, uint8_t *buf, size_t len, size_t each,
                             const struct sockaddr_storage *from, socklen_t from_len) {
  const size_t longest = DC_TRANSPORT_BUF - DC_SRTP_MAX_TRAILER;
  if (each == 0 || each >= len) {
    if (len <= longest)
      receive_datagram(t, buf, len, DC_TRANSPORT_BUF, from, from_len);
    return 1;
  }
  unsigned n = 0;
  for (size_t at = 0; at < len && !t->closed; at += each, n++) {
    size_t seg = MIN(each, len - at);
    if (seg > longest)
      continue;
    uint8_t one[DC_TRANSPORT_BUF];
    memcpy(one, buf + at, seg);
    receive_datagram(t, one, seg, sizeof one, from, from_len);
  }
  return n;
}

/* Reads are counted on their thread and added to /metrics's counters 64 datagrams at a time: an atomic
 * add on every read had to take the counter's cache line from the other worker's core (with
 * 1000 audio participants, most of the read's own cost sat on the instruction after it). */
#define READS_COUNTED_AT_ONCE 64
static __thread struct {
  unsigned reads;
  uint64_t datagrams;
} reads_uncounted;

/* calls: 1 for a read of our own, 0 for one the worker made in its batch (counted there). */
static void count_read(unsigned calls, unsigned datagrams, unsigned coalesced) {
  if (coalesced) /* rare but for runs: at once */
    dc_metrics_add(&dc_metrics.direct_coalesced, coalesced);
  reads_uncounted.datagrams += datagrams;
  reads_uncounted.reads += calls;
  if (reads_uncounted.datagrams < READS_COUNTED_AT_ONCE)
    return;
  dc_metrics_add(&dc_metrics.direct_reads, reads_uncounted.reads);
  dc_metrics_add(&dc_metrics.direct_datagrams, reads_uncounted.datagrams);
  reads_uncounted.reads = 0;
  reads_uncounted.datagrams = 0;
}

/* Reads t's socket until it is empty (or closed meanwhile); the datagrams it read. */
static unsigned drain_direct(gpointer data) {
  dc_transport *t = data;
  direct_reads *r = thread_reads();
  unsigned total = 0;
  struct sockaddr_storage from[DIRECT_BATCH];
  struct iovec iov[DIRECT_BATCH];
  struct mmsghdr msgs[DIRECT_BATCH];
  for (;;) {
    for (int i = 0; i < DIRECT_BATCH; i++) {
      iov[i] = (struct iovec){r->bufs[i], DIRECT_READ_MAX};
      msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i],
                                        .msg_iovlen = 1, .msg_control = r->control[i].buf,
                                        .msg_controllen = sizeof r->control[i].buf};
    }
    int n = recvmmsg(t->direct_fd, msgs, DIRECT_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
      break; /* empty (or an ICMP error from an earlier send): wait again */
    t->receiving = true;
    unsigned datagrams = 0, coalesced = 0;
    for (int i = 0; i < n && !t->closed; i++) {
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
        continue;
      unsigned k = receive_read(t, r->bufs[i], msgs[i].msg_len, coalesced_length(&msgs[i].msg_hdr), &from[i],
                                msgs[i].msg_hdr.msg_namelen);
      datagrams += k;
      coalesced += k > 1 ? k : 0;
    }
    t->receiving = false;
    count_read(1, datagrams, coalesced);
    total += datagrams;
    if (n < DIRECT_BATCH || t->closed)
      break;
  }
  if (t->close_deferred) /* a callback closed it: the close runs now, and t is gone */
    close_on_worker(t);
  return total;
}

/* A datagram (or GRO run) its worker read for t, with other sockets' in one call. */
static void got_direct(gpointer data, const dc_worker_datagram *d) {
  dc_transport *t = data;
  if (t->closed || (d->msg->msg_flags & MSG_TRUNC))
    return;
  t->receiving = true;
  unsigned k = receive_read(t, d->buf, d->len, coalesced_length(d->msg), d->msg->msg_name, d->msg->msg_namelen);
  t->receiving = false;
  count_read(0, k, k > 1 ? k : 0);
  if (t->close_deferred)
    close_on_worker(t);
}

/* The agent's UDP host sockets: direct receive wants exactly one. */
static int host_sockets(dc_transport *t) {
  GSList *cands = nice_agent_get_local_candidates(t->agent, t->stream, 1);
  int n = 0;
  for (GSList *c = cands; c; c = c->next) {
    NiceCandidate *nc = c->data;
    n += nc->type == NICE_CANDIDATE_TYPE_HOST && nc->transport == NICE_CANDIDATE_TRANSPORT_UDP;
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  return n;
}

/* The agent and its sockets go (not a TURN agent's: its relay is given back with it, at the
 * close). Candidates trickled later are dropped. */
static void release_agent(dc_transport *t) {
  nice_agent_attach_recv(t->agent, t->stream, 1, dc_worker_context(t->worker), NULL, NULL);
  g_signal_handlers_disconnect_by_data(t->agent, t);
  nice_agent_remove_stream(t->agent, t->stream);
  g_clear_object(&t->agent);
  t->agent_released = true;
}

static gboolean start_direct_receive(gpointer data) {
  dc_transport *t = data;
  g_clear_pointer(&t->direct_start, g_source_unref); /* its last turn: destroyed as it returns */
  if (t->closed || t->state != DC_TRANSPORT_CONNECTED || t->direct_fd >= 0 || t->cfg.turn_host || !t->agent)
    return G_SOURCE_REMOVE;
  NiceCandidate *local = NULL, *remote = NULL;
  GSocket *socket = nice_agent_get_selected_socket(t->agent, t->stream, 1); /* NULL: relayed or TCP */
  if (!socket || host_sockets(t) != 1 || !nice_agent_get_selected_pair(t->agent, t->stream, 1, &local, &remote)) {
    g_clear_object(&socket);
    return G_SOURCE_REMOVE;
  }
  int fd = fcntl(g_socket_get_fd(socket), F_DUPFD_CLOEXEC, 0);
  g_object_unref(socket);
  if (fd < 0)
    return G_SOURCE_REMOVE; /* out of descriptors: libnice goes on reading */
  t->direct_watch = dc_worker_watch_datagrams(t->worker, fd, drain_direct, got_direct, direct_ahead, t);
  if (!t->direct_watch) {
    close(fd);
    return G_SOURCE_REMOVE;
  }
  memset(&t->peer, 0, sizeof t->peer);
  nice_address_copy_to_sockaddr(&remote->addr, (struct sockaddr *)&t->peer);
  t->peer_len = t->peer.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  t->direct_fd = fd;
  dc_outbox_sender_init(&t->out, fd, &t->peer, &t->peer_len);
  release_agent(t);
  int on = 1; /* after the agent's last read: libnice's reads would take a coalesced run for one datagram */
  if (setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) != 0)
    g_debug("transport: no UDP GRO on this socket (%s): one datagram a read", g_strerror(errno));
  dc_metrics_add(&dc_metrics.direct_receive, 1);
  return G_SOURCE_REMOVE;
}

/* Called as media starts, from within libnice's own receive: the switch waits for the loop's
 * next turn, when libnice's source is no longer running. */
static void ask_direct_receive(dc_transport *t) {
  if (t->direct_asked)
    return;
  t->direct_asked = true;
  t->direct_start = g_idle_source_new();
  g_source_set_callback(t->direct_start, start_direct_receive, t, NULL);
  g_source_attach(t->direct_start, dc_worker_context(t->worker));
}

/* ---- ICE ---- */

static void on_candidate(NiceAgent *agent, NiceCandidate *cand, gpointer user) {
  dc_transport *t = user;
  /* Of TCP, only passive candidates: the bridge answers and listens; its active and
   * simultaneous-open ones would only be more checks for the peer to try and drop. */
  if (cand->transport == NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE || cand->transport == NICE_CANDIDATE_TRANSPORT_TCP_SO)
    return;
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

static void on_gathering_done(NiceAgent *agent, guint stream, gpointer user) {
  dc_transport *t = user;
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
    after_dtls(t);
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
  nice_agent_attach_recv(t->agent, t->stream, 1, dc_worker_context(t->worker), on_recv, t);
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
    set_state(t, DC_TRANSPORT_FAILED, "could not gather ICE candidates (no usable address or port)");
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

static gboolean close_on_worker(gpointer data) {
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
  if (t->direct_watch) {
    dc_worker_unwatch(t->direct_watch);
    close(t->direct_fd);
    t->direct_fd = -1;
  }
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

void dc_transport_close(dc_transport *t) { dc_worker_invoke(t->worker, close_on_worker, t, NULL); }

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

void dc_transport_prefetch_send(const dc_transport *t, unsigned stage) { prefetch_path(t, false, stage); }

dc_status dc_transport_send_rtcp(dc_transport *t, uint8_t *buf, size_t len, size_t cap) {
  dc_status st = send_protected(t, dc_srtp_protect_rtcp, buf, len, cap);
  if (st == DC_OK)
    dc_metrics_add(&dc_metrics.rtcp_packets_out, 1);
  return st;
}
