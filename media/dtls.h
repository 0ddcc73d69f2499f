/* dtls.h — DTLS 1.2 for DTLS-SRTP, sans-IO, over OpenSSL.
 *
 * Implements the DTLS-SRTP handshake of RFC 5764 (use_srtp extension, keying material
 * export of §4.2) on DTLS 1.2 (RFC 6347), with the certificate checks of RFC 8122 §5 /
 * RFC 8827 §6.5: each side presents a self-signed certificate and the peer's is accepted
 * only if its fingerprint equals the one in the peer's SDP (a=fingerprint).
 *
 * Sans-IO: the caller feeds each received datagram with its own monotonic clock (now_us),
 * takes the datagrams to send from dc_dtls_poll_datagram(), and calls
 * dc_dtls_handle_timeout() when dc_dtls_timeout() has passed.
 *
 * Retransmission is done here, not by OpenSSL: OpenSSL's DTLS timer reads the wall clock and,
 * once expired, also retransmits from inside every read that finds no data, and it has no
 * call to retransmit on demand. So its timer is set to never fire; we keep our last flight
 * and resend it unchanged when the caller's clock passes the deadline (200 ms, doubling to
 * 6.4 s; the handshake fails after 30 s). A peer that already has a resent record drops it
 * as a replay (RFC 6347 §4.1.2.6), which is harmless except for the one case DTLS relies on
 * a retransmission as a signal: a lost final flight. The server side therefore resends its
 * final flight itself when handshake records keep arriving after it has finished.
 * Tests run lossy handshakes in simulated time; the bridge drives it from its own loop.
 *
 * One dc_dtls_identity (key, certificate, fingerprint, SSL_CTX) is made at start-up and
 * shared by every session; it may be used from several threads once made.
 *
 * Left out: application data (SCTP data channels), renegotiation, DTLS 1.3, cookie
 * exchange (ICE connectivity checks already prove the peer's address, RFC 8842 §5).
 */
#ifndef DC_DTLS_H
#define DC_DTLS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"
#include "media/error.h"
#include "media/srtp.h"

#define DC_DTLS_MTU 1200 /* largest datagram we send; fits every path a browser uses */

typedef struct dc_dtls_identity dc_dtls_identity;
typedef struct dc_dtls dc_dtls;

typedef enum { DC_DTLS_CLIENT, DC_DTLS_SERVER } dc_dtls_role;

typedef enum {
  DC_DTLS_HANDSHAKING,
  DC_DTLS_CONNECTED,
  DC_DTLS_FAILED, /* see dc_dtls_error() */
  DC_DTLS_CLOSED, /* the peer sent close_notify */
} dc_dtls_state;

/* Makes an ECDSA P-256 key and a self-signed certificate (valid from a day ago for 30 days)
 * with the given common name. */
dc_dtls_identity *dc_dtls_identity_new(const char *common_name, GError **error);
dc_dtls_identity *dc_dtls_identity_ref(dc_dtls_identity *id);
void dc_dtls_identity_unref(dc_dtls_identity *id);
/* "sha-256 AB:CD:...", ready for a=fingerprint. */
const char *dc_dtls_identity_fingerprint(const dc_dtls_identity *id);

/* The SDP setup attribute picks the role (RFC 5763 §5): the side that answers
 * a=setup:actpass with a=setup:passive is the server. peer_fingerprint is the peer's SDP
 * value, "<hash> <hex pairs>" with hash one of sha-1, sha-224, sha-256, sha-384, sha-512.
 * A client sends its ClientHello at once (take it with dc_dtls_poll_datagram). */
dc_dtls *dc_dtls_new(dc_dtls_identity *id, dc_dtls_role role, const char *peer_fingerprint,
                     uint64_t now_us, GError **error);
void dc_dtls_free(dc_dtls *d);

/* Feeds one received datagram. Returns DC_OK even if the datagram was dropped as
 * garbage (DTLS ignores invalid records); the state tells when the handshake failed. */
dc_status dc_dtls_handle_datagram(dc_dtls *d, const uint8_t *data, size_t len, uint64_t now_us);

/* Next datagram to send, or NULL. The pointer stays valid until the next call on d. */
const uint8_t *dc_dtls_poll_datagram(dc_dtls *d, size_t *len);

/* Absolute deadline on the caller's clock, or UINT64_MAX when nothing is pending. */
uint64_t dc_dtls_timeout(const dc_dtls *d);
void dc_dtls_handle_timeout(dc_dtls *d, uint64_t now_us);
/* The last flight went nowhere (the caller had no path to send it on yet): it is queued
 * again now, without waiting for its timer or backing the timer off. Nothing while no
 * handshake is under way. */
void dc_dtls_resend_flight(dc_dtls *d);

dc_dtls_state dc_dtls_get_state(const dc_dtls *d);
/* Why the session failed, for logs and error replies; "" otherwise. Never holds secrets. */
const char *dc_dtls_error(const dc_dtls *d);

typedef struct {
  dc_srtp_profile profile;
  uint8_t local_key[DC_SRTP_MAX_KEY], local_salt[DC_SRTP_MAX_SALT];
  uint8_t remote_key[DC_SRTP_MAX_KEY], remote_salt[DC_SRTP_MAX_SALT];
} dc_dtls_srtp_keys;

/* Once connected: the negotiated profile and the keys for our outbound session (local)
 * and our inbound session (remote). Callers wipe *keys when done with them. */
dc_status dc_dtls_srtp_keys_export(dc_dtls *d, dc_dtls_srtp_keys *keys);

/* Sends close_notify (take it with dc_dtls_poll_datagram). */
void dc_dtls_close(dc_dtls *d);

#endif
