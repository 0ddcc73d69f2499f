/* server.h — the HTTPS/WSS front door: the meeting page (static files), the signaling
 * WebSocket at /ws (PROTOCOL.md) and the operator REST API under /api/ (API.md below in the
 * README). Runs on the main thread's GMainContext. It knows meetings, people and
 * permissions; media it hands to the bridge through bridge/room.h alone.
 */
#ifndef DC_SERVER_H
#define DC_SERVER_H

#include <gio/gio.h>
#include <glib.h>

#include "bridge/room.h"
#include "signaling/store.h"

typedef struct dc_server dc_server;

/* What a client may send before we acknowledge it, on every connection until it joins (TCP's
 * receive window, clamped on the listener), and after it joins unless its link is highland.
 * A highland link's queue holds ~2 KB (500 ms at 32 kbit/s): Chromium's TLS ClientHello (1.9 KB
 * with its post-quantum key share) and its offer left in one burst that did not fit, and the
 * tail that was dropped came again after a retransmission timeout of 2 s and more at a 600 ms
 * round trip, on every connection. One segment a round trip fits. Elsewhere it costs a round
 * trip in the handshake (the ClientHello's second segment); a link with room gets the wide
 * window once it has joined. The lab on `audio-32k`: the WebSocket open 3.9-4.7 s after it was
 * made, against 8.7-9.4 s. */
#define DC_SIGNALING_FIRST_WINDOW 1400
#define DC_SIGNALING_WIDE_WINDOW (256 * 1024)

typedef struct {
  const char *listen_address; /* NULL: every address, IPv6 and IPv4 (see dc_server_new) */
  guint port;
  GTlsCertificate *certificate; /* NULL: plain HTTP (tests on loopback only) */
  const char *web_dir;
  const char *public_base_url; /* for join links: "https://host:port" */
  const char *time_zone;       /* IANA name for the operators' wall clock; NULL: Asia/Ho_Chi_Minh */
  const char *metrics_listen;  /* "ADDR:PORT" for /metrics on its own listener; NULL: the main
                                * listener answers it to this machine only */
  const char *recordings_dir;  /* where meetings' recordings go (one directory each); NULL:
                                * ./diemcau-data/recordings */
  /* STUN/TURN URLs every participant is told in `joined` (signaling/ice_servers.h), NULL:
   * none; TURN ones get credentials minted from turn_secret, valid for turn_ttl_s */
  const char *const *ice_servers;
  const char *turn_secret;
  unsigned turn_ttl_s;
} dc_server_config;

dc_server *dc_server_new(const dc_server_config *cfg, dc_store *store, dc_bridge *bridge,
                         GError **error);
/* Tells every connected participant the bridge is stopping and closes their sockets. */
void dc_server_shutdown(dc_server *s);
void dc_server_free(dc_server *s);
guint dc_server_port(dc_server *s);
/* The address listened on, as text: the config's, or "::" (or "0.0.0.0") for all. */
const char *dc_server_listen_address(dc_server *s);
/* Tells everyone in the meeting who speaks now (a dc_speaker_fn for dc_bridge_config). */
void dc_server_speaker_changed(gpointer server, int64_t meeting, int64_t participant);
/* A meeting's recording ended (a dc_recording_fn for dc_bridge_config): everyone is told,
 * and why when it stopped by itself. */
void dc_server_recording_ended(gpointer server, int64_t meeting, const char *error);
/* The join link for an invitation token; with the point's link profile when given (NULL:
 * none), so that a page opened from the link joins on its point's tier. */
/* "https://host:port", as join links and the console's address begin. */
const char *dc_server_base_url(dc_server *s);
char *dc_server_join_link(dc_server *s, int64_t meeting, const char *token, const char *profile);

#endif
