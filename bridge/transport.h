/* transport.h — one participant's media transport: full ICE (libnice, RFC 8445, trickle
 * RFC 8838) with one component (BUNDLE + rtcp-mux), DTLS-SRTP (media/dtls, RFC 5764) and
 * SRTP (media/srtp), demultiplexed by first byte (RFC 7983).
 *
 * A transport lives on one worker thread: the libnice agent is attached to that worker's
 * context, every callback runs there, and dc_transport_send_* must be called there. Plain
 * RTP is never accepted: until DTLS has produced keys, media datagrams are dropped.
 *
 * Consent (RFC 7675 §5.1's rule, our own check): a peer from which nothing authenticated
 * (SRTP or SRTCP) came for DC_TRANSPORT_CONSENT_S fails the transport, and from then on
 * nothing is sent to it. Every peer we serve sends RTCP at least every few seconds, even an
 * observer or a muted page. libnice's own consent freshness is not used: Debian 12's libnice
 * (0.1.21) gives up after 10 s, so one lost answer on a lossy highland link failed the call
 * (libnice 0.1.22 went to the RFC's 30 s). Media only ever goes to the pair ICE selected, so
 * never to an address that did not pass its checks.
 *
 * ICE-TCP (RFC 6544) when cfg.ice_tcp: passive TCP candidates beside the UDP ones, for points
 * that may use TCP but no UDP (libnice frames the packets, RFC 4571); only the passive ones are
 * signaled, the bridge being the one that listens. Points that reach nothing of the bridge's
 * but its web port use the TURN relays the bridge tells them (signaling/ice_servers.h).
 *
 * Once media flows on a UDP path of the agent's single host socket, the transport reads that
 * socket itself (recvmmsg, no per-packet hand-over by libnice) and answers the STUN checks
 * still arriving there (bridge/ice_reply: consent, RFC 7675; further nominations, RFC 8445
 * §7.3); where the peer's authenticated media comes from is where we send (it may move to
 * another of its candidates). transport_receive.c says why and when libnice keeps reading.
 * There a Binding request of ours (RFC 8445 §7.2.2, as a consent check is) goes to the peer as
 * the path starts and every DC_TRANSPORT_RTT_CHECK_S: its answer gives the round trip before
 * any RTCP can (a browser reports on our audio every ~5 s; cb.rtt).
 * That socket can drop the peer's silent audio in the kernel (dc_transport_drop_silence).
 *
 * Left out: the bridge's own relay over TCP/TLS (--turn is UDP), ICE restarts, several
 * components.
 */
#ifndef DC_TRANSPORT_H
#define DC_TRANSPORT_H

#include <glib.h>
#include <stdbool.h>

#include "bridge/worker.h"
#include "media/dtls.h"

typedef struct dc_transport dc_transport;

typedef enum {
  DC_TRANSPORT_NEW,
  DC_TRANSPORT_CONNECTED, /* ICE ready and DTLS done: media flows */
  DC_TRANSPORT_FAILED,
  DC_TRANSPORT_CLOSED,
} dc_transport_state;

typedef struct {
  /* On the worker thread. candidate is an a=candidate value, "" once gathering is done. */
  void (*candidate)(gpointer user, const char *candidate);
  void (*state)(gpointer user, dc_transport_state state, const char *reason);
  /* Decrypted RTP / RTCP; buf may be modified in place (cap bytes are writable). */
  void (*rtp)(gpointer user, uint8_t *buf, size_t len, size_t cap);
  void (*rtcp)(gpointer user, uint8_t *buf, size_t len);
  /* Optional, a hint: the socket is about to be read (worker.h, warming ahead); prefetch
   * what rtp will read of user. */
  void (*prefetch)(gpointer user);
  /* Optional: a round trip to the peer measured by our own check (on a direct path: as it
   * starts and every DC_TRANSPORT_RTT_CHECK_S after), in ms. */
  void (*rtt)(gpointer user, unsigned ms);
} dc_transport_callbacks;

typedef struct {
  char **local_addresses; /* gather only on these (e.g. 127.0.0.1 in tests); NULL = all */
  guint port_min, port_max; /* 0, 0 = any */
  char *stun_host;          /* optional STUN server for server-reflexive candidates */
  guint stun_port;
  char *turn_host;          /* optional TURN (UDP) relay: an IP address, resolved by the caller */
  guint turn_port;
  char *turn_user, *turn_password;
  char *public_address;     /* advertised instead of a host address behind 1:1 NAT */
  bool controlling;         /* ICE role: the offerer controls (RFC 8445 §6.1.1); the bridge never does */
  bool ice_tcp;             /* passive TCP candidates too (RFC 6544): points whose UDP is blocked */
} dc_transport_config;

#define DC_TRANSPORT_CONSENT_S 30 /* RFC 7675 §5.1 */
#define DC_TRANSPORT_RTT_CHECK_S 6 /* a check of ours for the round trip, this often (see rtt above) */
#define DC_TRANSPORT_ICE_CHECK_SENDS 5 /* a connectivity check's sends before giving it up (transport.c) */
#define DC_TRANSPORT_ICE_IDLE_MS 16000 /* with our checks done, how long a peer may take to nominate (transport.c) */

#define DC_TRANSPORT_BUF 2048 /* a receive/send buffer: any UDP payload + SRTP trailer room */

/* Made on the main thread; local ICE credentials are chosen at once so the answer can be
 * written before the agent exists. user must stay valid until destroy(user) is called. */
dc_transport *dc_transport_new(dc_worker *w, dc_dtls_identity *id, const dc_transport_config *cfg,
                               const dc_transport_callbacks *cb, gpointer user,
                               GDestroyNotify destroy);
const char *dc_transport_local_ufrag(const dc_transport *t);
const char *dc_transport_local_pwd(const dc_transport *t);
dc_worker *dc_transport_worker(const dc_transport *t);

/* Before dc_transport_start: once the transport reads its socket itself, the kernel drops
 * the peer's silent audio there (bridge/silence_filter.h): payload types opus_pt and red_pt
 * (-1: none), the audio level as one-byte extension element level_id. Not called, or where
 * the kernel refuses: every packet is read. */
void dc_transport_drop_silence(dc_transport *t, int opus_pt, int red_pt, int level_id);
/* From any thread: hand the remote side's details to the worker and start ICE. */
/* This machine's addresses that ICE would gather on (not the loopback's), as "a, b, c" or
 * "none but the loopback", and how many in *n (when n is given): for the operator's log.
 * g_free() it. */
char *dc_transport_machine_addresses(unsigned *n);

void dc_transport_start(dc_transport *t, const char *ufrag, const char *pwd,
                        const char *fingerprint, bool dtls_server);
/* From any thread: a trickled remote candidate ("candidate:..." or ""). */
void dc_transport_add_remote_candidate(dc_transport *t, const char *candidate);
/* From any thread: close; destroy(user) runs on the worker when nothing can call back. */
void dc_transport_close(dc_transport *t);

/* Worker thread only. buf must have room for the SRTP trailer (cap bytes). */
dc_status dc_transport_send_rtp(dc_transport *t, uint8_t *buf, size_t len, size_t cap);
dc_status dc_transport_send_rtcp(dc_transport *t, uint8_t *buf, size_t len, size_t cap);
/* Worker thread only; a hint that changes nothing (worker.h, warming ahead): prefetches what
 * dc_transport_send_rtp reads, stage 0 .. 2, each stage what the one before brought in. */
void dc_transport_prefetch_send(const dc_transport *t, unsigned stage);
dc_transport_state dc_transport_get_state(const dc_transport *t);
/* When ICE first had a path (g_get_monotonic_time), or 0: with the CONNECTED state's time,
 * how a join's wait splits between ICE and DTLS. Any thread. */
gint64 dc_transport_ice_ready_us(const dc_transport *t);

/* Waits (at most timeout_ms) until the agents of closed transports have given their TURN
 * relays back; whether all have. For shutdown, while the workers still run. */
bool dc_transport_wait_relays(unsigned timeout_ms);

#endif
