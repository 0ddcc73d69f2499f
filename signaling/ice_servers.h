/* ice_servers.h — the STUN and TURN servers a participant is told in `joined`, so that a
 * point whose firewall blocks UDP to the bridge (government offices, 3G operators) still
 * joins: through a TURN relay over UDP, TCP, or TLS on 443.
 *
 * URLs are RFC 7064 (stun:) and RFC 7065 (turn:, turns:) forms: SCHEME:HOST[:PORT] and, for
 * TURN, ?transport=udp|tcp. TURN credentials are minted per participant from a secret the
 * bridge shares with the TURN server, as coturn's `use-auth-secret` checks them (the "TURN
 * REST API" scheme, draft-uberti-behave-turn-rest-00 §2.2): username "EXPIRY:NAME" (EXPIRY in
 * Unix seconds), password base64(HMAC-SHA1(secret, username)). A leaked credential dies at
 * its expiry; the secret itself never leaves the bridge.
 *
 * Both sides use this: the bridge mints, the native endpoint turns the servers into the URIs
 * GStreamer's webrtcbin takes. Left out: static long-term TURN users handed to clients (a
 * leaked link would give the relay away for good), OAuth tokens (RFC 7635), stuns: (DTLS).
 */
#ifndef DC_ICE_SERVERS_H
#define DC_ICE_SERVERS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define DC_ICE_MAX_SERVERS 4 /* in one `joined`: what a parser accepts */
#define DC_ICE_MAX_URLS 8    /* per server */
#define DC_ICE_MAX_URL 256

typedef enum { DC_ICE_STUN, DC_ICE_TURN, DC_ICE_TURNS } dc_ice_scheme;

typedef struct {
  dc_ice_scheme scheme;
  char *host; /* a name or an address; IPv6 without its brackets */
  unsigned port; /* 3478 for stun: and turn:, 5349 for turns: when not given (RFC 7065 §3) */
  bool tcp;      /* ?transport=tcp; turns: is always TCP */
} dc_ice_url;

/* False, with why (g_free it), for anything not of the forms above. */
bool dc_ice_url_parse(const char *text, dc_ice_url *url, char **why);
void dc_ice_url_clear(dc_ice_url *url);

/* One entry of RTCConfiguration.iceServers (W3C WebRTC §4.2.1). */
typedef struct {
  char **urls; /* NULL-terminated */
  char *username, *credential; /* NULL for STUN */
} dc_ice_server;

/* The servers one participant is told: the STUN URLs as one entry, the TURN URLs as another
 * with credentials valid until now_s + ttl_s. `who` goes into the username (the TURN
 * server's logs then name the participant). Returns how many entries it filled (0-2). */
size_t dc_ice_servers_mint(const char *const *urls, const char *secret, unsigned ttl_s, const char *who,
                           int64_t now_s, dc_ice_server out[2]);
void dc_ice_server_clear(dc_ice_server *server);

/* The URI webrtcbin takes for one URL ("stun://HOST:PORT", or "turn://USER:PASS@HOST:PORT"
 * with ?transport=tcp, or "turns://..."), user and password escaped. GStreamer 1.22 hands
 * the host to libnice as it is, and libnice wants an address: resolve url->host first. */
char *dc_ice_url_for_gstreamer(const dc_ice_url *url, const char *username, const char *credential);

#endif
