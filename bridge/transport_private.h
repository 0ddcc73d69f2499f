/* transport_private.h — what transport.c and transport_receive.c share: the transport as
 * data, and the few calls between them. Nothing else includes it (transport.h is the
 * interface). The files follow the data path:
 *   transport.c          ICE (libnice), DTLS and its SRTP keys, consent, sending, the close
 *   transport_receive.c  the peer's datagrams in: through libnice until media flows on a UDP
 *                        path, then read from its socket by the transport itself
 * Everything here runs on the transport's worker. */
#ifndef DC_TRANSPORT_PRIVATE_H
#define DC_TRANSPORT_PRIVATE_H

#include "bridge/transport.h"

#include <agent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bridge/ice_reply.h"
#include "bridge/outbox.h"
#include "media/srtp.h"

/* An agent gathers a host socket on each local address (IPv4, IPv6, link-local: three on a
 * usual dual-stack host); an agent with more than this stays on libnice's reads. */
#define DC_DIRECT_SOCKETS_MAX 6

/* One of them, read by the transport itself. */
typedef struct {
  dc_transport *t;
  int fd;
  dc_worker_watch *watch;
} dc_direct_socket;

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
  unsigned local_candidates;     /* gathered: none at the end is no socket to carry media */
  bool closed;
  /* direct receive (transport_receive.c): the agent's UDP sockets, read by us (duplicates of
   * its descriptors), the one the path is on, and where the peer is */
  dc_direct_socket direct[DC_DIRECT_SOCKETS_MAX];
  unsigned n_direct;
  int direct_fd;           /* the path's socket, one of direct[]: -1 until direct receive */
  struct sockaddr_storage peer;
  socklen_t peer_len;
  dc_outbox_sender out; /* media to the peer, sent together at a pass's end (outbox.h) */
  uint64_t tie_breaker;
  char *remote_ufrag, *remote_pwd; /* the peer's ICE credentials, for our consent checks */
  /* the peer's authenticated packets come from move_to, on our socket move_fd: our check
   * there, and when it went */
  struct sockaddr_storage move_to;
  socklen_t move_to_len;
  int move_fd;
  dc_ice_check move_check;
  uint64_t move_check_us;
  bool move_pending;
  /* our round-trip check to the peer on the path (cb.rtt), and when it went */
  dc_ice_check rtt_check;
  uint64_t rtt_check_us;
  bool rtt_pending;
  unsigned consent_ticks;
  GSource *direct_start; /* the switch, due at the loop's next turn */
  bool direct_asked;
  bool agent_released; /* direct receive let the agent go: candidates have nowhere to go */
  bool receiving;      /* in drain_direct or got_direct: a close from a callback waits for its end */
  bool close_deferred;
  /* the peer's silent audio, dropped by the socket once direct receive starts
   * (silence_filter.h); level id 0: not asked */
  int silence_opus_pt, silence_red_pt, silence_level_id;
};

/* transport.c: DTLS took a datagram or a timeout: its flights out, the SRTP keys once it is
 * connected (and direct receive asked for), the state told. */
void transport_after_dtls(dc_transport *t);
/* transport.c: the close, on the worker (a GSourceFunc; data: the transport, which is gone). */
gboolean transport_close_on_worker(gpointer data);

/* transport_receive.c: libnice's receive callback, until direct receive takes over. */
void transport_on_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *data, gpointer user);
/* transport_receive.c: media has started; the switch to reading the socket ourselves, at the
 * loop's next turn, where the path allows it. */
void transport_ask_direct_receive(dc_transport *t);
/* transport_receive.c: the sockets read directly, given up (their descriptors closed). */
void transport_close_direct(dc_transport *t);
/* transport_receive.c: on a direct path, a round-trip check of ours to the peer (cb.rtt). */
void transport_check_rtt(dc_transport *t, uint64_t now_us);
/* transport_receive.c: warming ahead (worker.h) the way in (inbound) or out of t. */
void transport_prefetch_path(const dc_transport *t, bool inbound, unsigned stage);

#endif
