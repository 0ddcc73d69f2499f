/* transport_receive.c — a participant's datagrams in, on its worker: through libnice until
 * media flows, then, on a UDP path, read from the agent's UDP sockets by the transport itself
 * (below, "direct receive"); demultiplexed by first byte (RFC 7983) to
 * DTLS, SRTP and SRTCP (media/srtp: nothing unauthenticated goes on), and STUN, answered
 * there (bridge/ice_reply: consent, RFC 7675; nominations, RFC 8445 §7.3), with where the
 * peer's media comes from followed only once the peer answers our check there. See
 * transport.h and transport_private.h. */
#include "bridge/transport_private.h"
#include "bridge/silence_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include "bridge/metrics.h"
#include "media/demux.h"

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

/* "ADDRESS:PORT", for the debug log (a participant's address is not a secret). */
static char *address_text(const struct sockaddr_storage *a, socklen_t len) {
  GSocketAddress *g = g_socket_address_new_from_native((gpointer)a, len);
  char *text = g ? g_socket_connectable_to_string(G_SOCKET_CONNECTABLE(g)) : g_strdup("?");
  g_clear_object(&g);
  return text;
}

/* Which of our sockets fd is, for the debug log: its local address. */
static char *local_text(int fd) {
  struct sockaddr_storage a;
  socklen_t len = sizeof a;
  return getsockname(fd, (struct sockaddr *)&a, &len) == 0 ? address_text(&a, len) : g_strdup("?");
}

/* The path is where the peer is and our socket there: a packet on another of our sockets
 * (another address of ours, which the peer may nominate) is on another path. */
static bool is_peer(const dc_transport *t, int via, const struct sockaddr_storage *from, socklen_t from_len) {
  return via == t->direct_fd && from_len == t->peer_len && !memcmp(from, &t->peer, from_len);
}

/* A Binding request of ours (a check: RFC 8445 §7.2.2) to `to` from our socket fd; false when
 * the peer's credentials are missing. */
static bool send_check(dc_transport *t, dc_ice_check *check, int fd, const struct sockaddr_storage *to,
                       socklen_t to_len) {
  uint8_t req[512];
  size_t n = dc_ice_check_request(check, t->ufrag, t->remote_ufrag, t->remote_pwd, t->cfg.controlling,
                                  t->tie_breaker, req, sizeof req);
  if (n)
    sendto(fd, req, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)to, to_len);
  return n != 0;
}

static void check_new_address(dc_transport *t, int via, const struct sockaddr_storage *from, socklen_t from_len) {
  if (!from || t->direct_fd < 0 || is_peer(t, via, from, from_len))
    return;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  if (t->move_pending && now - t->move_check_us < MOVE_CHECK_SPACING_US)
    return;
  if (!send_check(t, &t->move_check, via, from, from_len))
    return;
  memcpy(&t->move_to, from, from_len);
  t->move_to_len = from_len;
  t->move_fd = via;
  t->move_pending = true;
  t->move_check_us = now;
  dc_metrics_add(&dc_metrics.path_checks, 1);
  char *peer = address_text(from, from_len), *local = local_text(via); /* at most every MOVE_CHECK_SPACING_US */
  g_debug("transport: the participant's packets come from another address (%s, to our %s); checking that it is there",
          peer, local);
  g_free(peer);
  g_free(local);
}

/* A STUN response on the direct path: when it answers our check, from where the check went
 * and on the socket it went from, the peer is there and consents: our media follows, from
 * that socket. Returns whether it was that answer. */
static bool on_stun_response(dc_transport *t, int via, const uint8_t *buf, size_t len,
                             const struct sockaddr_storage *from, socklen_t from_len) {
  if (!t->move_pending || via != t->move_fd || from_len != t->move_to_len || memcmp(from, &t->move_to, from_len) ||
      !dc_ice_check_answered(&t->move_check, buf, len, t->remote_pwd))
    return false;
  if (via != t->direct_fd) { /* what is held goes the old way first, from the socket it was sent on */
    dc_outbox_flush();
    t->direct_fd = via;
    dc_outbox_sender_init(&t->out, via, &t->peer, &t->peer_len);
  }
  memcpy(&t->peer, from, from_len);
  t->peer_len = from_len;
  t->move_pending = false;
  dc_metrics_add(&dc_metrics.path_moves, 1);
  g_debug("transport: the participant answered at its new address; sending there");
  return true;
}

/* A Binding request of ours to the peer on the path, for the round trip its answer gives
 * (transport.h, cb.rtt). One at a time: an unanswered one (lost) is replaced by the next. */
void transport_check_rtt(dc_transport *t, uint64_t now_us) {
  if (t->direct_fd < 0 || !t->cb.rtt || t->closed ||
      !send_check(t, &t->rtt_check, t->direct_fd, &t->peer, t->peer_len))
    return;
  t->rtt_pending = true;
  t->rtt_check_us = now_us;
  dc_metrics_add(&dc_metrics.rtt_checks, 1);
}

/* A STUN response on the direct path: when it answers our round-trip check, from the peer on
 * the path, the round trip goes to cb.rtt. Returns whether it was that answer. */
static bool on_rtt_response(dc_transport *t, int via, const uint8_t *buf, size_t len,
                            const struct sockaddr_storage *from, socklen_t from_len) {
  if (!t->rtt_pending || !is_peer(t, via, from, from_len) ||
      !dc_ice_check_answered(&t->rtt_check, buf, len, t->remote_pwd))
    return false;
  t->rtt_pending = false;
  dc_metrics_add(&dc_metrics.rtt_checks_answered, 1);
  uint64_t ms = ((uint64_t)g_get_monotonic_time() - t->rtt_check_us + 500) / 1000;
  t->cb.rtt(t->user, (unsigned)MIN(ms, 60000u));
  return true;
}

static void receive_dtls(dc_transport *t, const uint8_t *dg, size_t len) {
  if (t->dtls) {
    dc_dtls_handle_datagram(t->dtls, dg, len, (uint64_t)g_get_monotonic_time());
    transport_after_dtls(t);
  }
}

/* A datagram from the peer, in buf (cap bytes writable, for in-place SRTP); on the direct
 * path, via is our socket it came in on and from where it came from; under libnice -1 and NULL. */
static void receive_datagram(dc_transport *t, int via, uint8_t *buf, size_t len, size_t cap,
                             const struct sockaddr_storage *from, socklen_t from_len) {
  dc_pkt_kind kind = dc_demux(buf, len);
  switch (kind) {
  case DC_PKT_DTLS:
    /* on the direct path the handshake is over: what DTLS still carries (the peer's resent
     * last flight, which has us resend ours; its close_notify) comes from the peer. From
     * anywhere else, a byte 22 in front was enough to have our flight resent to the peer. */
    if (from && !is_peer(t, via, from, from_len))
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
        check_new_address(t, via, from, from_len);
        dc_metrics_add(&dc_metrics.rtp_packets_in, 1);
        dc_metrics_add(&dc_metrics.rtp_bytes_in, n);
        t->cb.rtp(t->user, buf, n, cap);
      } else {
        dc_metrics_add(&dc_metrics.srtp_refused, 1);
      }
    } else if (dc_srtp_unprotect_rtcp(t->srtp_in, buf, &n) == DC_OK) {
      t->last_heard_us = (uint64_t)g_get_monotonic_time();
      check_new_address(t, via, from, from_len);
      dc_metrics_add(&dc_metrics.rtcp_packets_in, 1);
      t->cb.rtcp(t->user, buf, n);
    } else {
      dc_metrics_add(&dc_metrics.srtp_refused, 1);
    }
    return;
  }
  case DC_PKT_STUN: { /* only on the direct path: libnice takes STUN before us */
    if (!from || t->direct_fd < 0 || on_stun_response(t, via, buf, len, from, from_len) ||
        on_rtt_response(t, via, buf, len, from, from_len))
      return;
    uint8_t answer[DC_ICE_REPLY_MAX_REQUEST + 128];
    size_t n = dc_ice_reply(buf, len, t->ufrag, t->pwd, t->cfg.controlling, t->tie_breaker,
                            (const struct sockaddr *)from, from_len, answer, sizeof answer);
    /* answered, but where we send stays: a browser pings its backup pairs too (other local
     * addresses of its own), and media follows the pair it sends media on, not every check */
    if (n)
      sendto(via, answer, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)from, from_len);
    return;
  }
  default: return; /* the rest is noise */
  }
}

void transport_on_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *data,
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
  receive_datagram(t, -1, buf, len, sizeof buf, NULL, 0);
}

/* ---- direct receive ----
 *
 * libnice hands each datagram over through a GSource of its own per socket, and GLib (2.74) takes
 * such a source's descriptor out of the poll set while it runs and puts it back after, waking the
 * loop through its eventfd each time: with libnice's read until the socket is empty, three system
 * calls and a loop wake-up for every packet, more than the packet's own work at a few hundred
 * participants. Once media flows on a UDP path, the transport reads the agent's UDP sockets itself
 * (one a local address the agent gathered on): one recvmmsg a wake-up for whatever is queued, the
 * sockets watched through its worker's epoll set (dc_worker_watch_datagrams: one descriptor in the
 * poll however many participants; where several sockets are ready at once the worker reads a
 * datagram of each in one io_uring call and hands it here, got_direct, and the transport drains a
 * socket that had more), and answers the STUN checks still arriving there (bridge/ice_reply), and
 * checks a new address of the peer's before its media goes there. Where the agent had several (a
 * dual-stack host: IPv4, IPv6, link-local), all are read, and a path is our socket and the peer's
 * address: the peer may nominate a pair on another address of ours later (a browser moves to a pair
 * of higher priority that checked out after the first), and its media there is followed as a new
 * address of its own would be, the check going out of the socket the media came in on and our media
 * following from that socket. Before (to 2026-12-06) such agents stayed on libnice for good: at 400
 * audio participants on two addresses, four times the CPU (tests/load/ab: 0.23 of it since). The
 * agent has nothing left to do, and goes: its sockets are kept as duplicates of its descriptors. An
 * agent cost every participant heap (30 KiB of resident memory at 300, by the load generator) and
 * its keepalive timer in the worker's loop, a source GLib walks on every pass of it (150 a worker
 * at 300 participants); the peer's own consent checks and our media keep its NAT's binding, which
 * is what those keepalives were for (RFC 8445 §11).
 *
 * Kept on libnice: relayed and ICE-TCP paths (libnice frames them), agents with a TURN server
 * of their own (its refreshes arrive on the same socket) and agents with more than
 * DC_DIRECT_SOCKETS_MAX sockets. An agent's ICE-TCP sockets go with it: the path was not on
 * one, and a later nomination of a TCP pair finds nobody there.
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

/* Warming ahead (worker.h): stage 0 the lines of t a packet's way in or out reads, stages 1
 * and 2 that way's SRTP session, then its streams and cipher. The session is looked up only
 * from stage 1, once t's line has had time to come. */
void transport_prefetch_path(const dc_transport *t, bool inbound, unsigned stage) {
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
  const dc_transport *t = ((const dc_direct_socket *)data)->t;
  if (stage < 3)
    transport_prefetch_path(t, true, stage);
  else if (t->cb.prefetch)
    t->cb.prefetch(t->user);
}

/* A read's datagrams in turn: a coalesced run copied out one by one, since what reads a packet
 * may use its buffer up to DC_TRANSPORT_BUF, which would be the next datagram's bytes. One longer
 * than a datagram of ours can be is dropped, as the read of old truncated and dropped it. */
static unsigned receive_read(dc_transport *t, int via, uint8_t *buf, size_t len, size_t each,
                             const struct sockaddr_storage *from, socklen_t from_len) {
  const size_t longest = DC_TRANSPORT_BUF - DC_SRTP_MAX_TRAILER;
  if (each == 0 || each >= len) {
    if (len <= longest)
      receive_datagram(t, via, buf, len, DC_TRANSPORT_BUF, from, from_len);
    return 1;
  }
  unsigned n = 0;
  for (size_t at = 0; at < len && !t->closed; at += each, n++) {
    size_t seg = MIN(each, len - at);
    if (seg > longest)
      continue;
    uint8_t one[DC_TRANSPORT_BUF];
    memcpy(one, buf + at, seg);
    receive_datagram(t, via, one, seg, sizeof one, from, from_len);
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

/* Reads one of t's sockets until it is empty (or t closed meanwhile); the datagrams it read. */
static unsigned drain_direct(gpointer data) {
  const dc_direct_socket *s = data;
  dc_transport *t = s->t;
  const int fd = s->fd; /* s is in t, which a callback may close */
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
    int n = recvmmsg(fd, msgs, DIRECT_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
      break; /* empty (or an ICMP error from an earlier send): wait again */
    t->receiving = true;
    unsigned datagrams = 0, coalesced = 0;
    for (int i = 0; i < n && !t->closed; i++) {
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
        continue;
      unsigned k = receive_read(t, fd, r->bufs[i], msgs[i].msg_len, coalesced_length(&msgs[i].msg_hdr), &from[i],
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
    transport_close_on_worker(t);
  return total;
}

/* A datagram (or GRO run) its worker read for t, with other sockets' in one call. */
static void got_direct(gpointer data, const dc_worker_datagram *d) {
  const dc_direct_socket *s = data;
  dc_transport *t = s->t;
  if (t->closed || (d->msg->msg_flags & MSG_TRUNC))
    return;
  t->receiving = true;
  unsigned k = receive_read(t, s->fd, d->buf, d->len, coalesced_length(d->msg), d->msg->msg_name, d->msg->msg_namelen);
  t->receiving = false;
  count_read(0, k, k > 1 ? k : 0);
  if (t->close_deferred)
    transport_close_on_worker(t);
}

/* The agent's UDP sockets (one a local address; a server-reflexive candidate shares its
 * host's), duplicated and watched on t's worker; the path's is the one `selected` is on.
 * False, with none kept, where there are more than DC_DIRECT_SOCKETS_MAX or a descriptor
 * could not be had: libnice goes on reading. */
static bool watch_sockets(dc_transport *t, GPtrArray *sockets, GSocket *selected) {
  unsigned udp = 0;
  for (guint i = 0; i < sockets->len; i++)
    udp += g_socket_get_socket_type(sockets->pdata[i]) == G_SOCKET_TYPE_DATAGRAM;
  if (udp > DC_DIRECT_SOCKETS_MAX) {
    g_debug("transport: the agent has %u UDP sockets, more than the %d read directly: libnice reads them", udp,
            DC_DIRECT_SOCKETS_MAX);
    return false;
  }
  int path = -1;
  for (guint i = 0; i < sockets->len; i++) {
    GSocket *socket = sockets->pdata[i];
    if (g_socket_get_socket_type(socket) != G_SOCKET_TYPE_DATAGRAM)
      continue; /* ICE-TCP's: the path is not on it, and it goes with the agent */
    int fd = fcntl(g_socket_get_fd(socket), F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
      break; /* out of descriptors */
    dc_direct_socket *d = &t->direct[t->n_direct];
    *d = (dc_direct_socket){.t = t, .fd = fd};
    d->watch = dc_worker_watch_datagrams(t->worker, fd, drain_direct, got_direct, direct_ahead, d);
    if (!d->watch) {
      close(fd);
      break;
    }
    t->n_direct++;
    if (g_socket_get_fd(socket) == g_socket_get_fd(selected))
      path = fd;
  }
  if (t->n_direct < udp || path < 0) {
    transport_close_direct(t);
    return false;
  }
  t->direct_fd = path;
  return true;
}

void transport_close_direct(dc_transport *t) {
  for (unsigned i = 0; i < t->n_direct; i++) {
    dc_worker_unwatch(t->direct[i].watch);
    close(t->direct[i].fd);
  }
  t->n_direct = 0;
  t->direct_fd = -1;
}

/* The agent and its sockets go (not a TURN agent's: its relay is given back with it, at the
 * close); ours are duplicates. Candidates trickled later are dropped. */
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
  GSocket *selected = nice_agent_get_selected_socket(t->agent, t->stream, 1); /* NULL: relayed or TCP */
  if (!selected || !nice_agent_get_selected_pair(t->agent, t->stream, 1, &local, &remote)) {
    g_clear_object(&selected);
    return G_SOURCE_REMOVE;
  }
  GPtrArray *sockets = nice_agent_get_sockets(t->agent, t->stream, 1);
  bool watched = sockets && watch_sockets(t, sockets, selected);
  g_clear_pointer(&sockets, g_ptr_array_unref);
  g_object_unref(selected);
  if (!watched)
    return G_SOURCE_REMOVE;
  memset(&t->peer, 0, sizeof t->peer);
  nice_address_copy_to_sockaddr(&remote->addr, (struct sockaddr *)&t->peer);
  t->peer_len = t->peer.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  dc_outbox_sender_init(&t->out, t->direct_fd, &t->peer, &t->peer_len);
  release_agent(t);
  bool filtered = t->silence_level_id != 0;
  for (unsigned i = 0; i < t->n_direct; i++) {
    int fd = t->direct[i].fd, on = 1;
    /* after the agent's last read: libnice's reads would take a coalesced run for one datagram */
    if (setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) != 0)
      g_debug("transport: no UDP GRO on this socket (%s): one datagram a read", g_strerror(errno));
    if (t->silence_level_id && !dc_silence_filter_attach(fd, t->silence_opus_pt, t->silence_red_pt, t->silence_level_id)) {
      g_debug("transport: the kernel refused the silence filter (%s): every packet is read", g_strerror(errno));
      filtered = false;
    }
  }
  if (filtered)
    dc_metrics_add(&dc_metrics.silence_filters, 1);
  dc_metrics_add(&dc_metrics.direct_receive, 1);
  transport_check_rtt(t, (uint64_t)g_get_monotonic_time()); /* the round trip, before RTCP has one */
  return G_SOURCE_REMOVE;
}

/* Called as media starts, from within libnice's own receive: the switch waits for the loop's
 * next turn, when libnice's source is no longer running. At the default priority, not an idle
 * source's: a worker that libnice's reads keep busy never goes idle, and in a storm of 1000
 * joins both workers stayed so, with every transport left on libnice for good (a read through
 * a GSource a socket costs far more, so the busy worker never caught up). */
void transport_ask_direct_receive(dc_transport *t) {
  if (t->direct_asked)
    return;
  t->direct_asked = true;
  t->direct_start = g_idle_source_new();
  g_source_set_priority(t->direct_start, G_PRIORITY_DEFAULT);
  g_source_set_callback(t->direct_start, start_direct_receive, t, NULL);
  g_source_attach(t->direct_start, dc_worker_context(t->worker));
}

