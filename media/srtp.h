/* srtp.h — one SRTP/SRTCP session per direction, on OpenSSL (see srtp.c for why not
 * Debian's libsrtp2).
 *
 * The bridge keeps two of these per participant: an outbound one that protects what it
 * sends and an inbound one that unprotects what arrives. Each covers every SSRC on the
 * transport (a small per-SSRC table inside), so audio, video, RTX and RTCP share one session,
 * as BUNDLE does.
 *
 * Profiles: AEAD_AES_128_GCM (RFC 7714) and AES_CM_128_HMAC_SHA1_80 (RFC 3711), the two
 * that DTLS-SRTP (RFC 5764) negotiates with browsers; their enum values are the DTLS-SRTP
 * protection-profile ids. Replay protection is on for inbound traffic with a 1024-packet
 * window (video arrives reordered and retransmitted); outbound sessions allow the same
 * packet to be protected again, because a NACK answered from the cache resends it as is.
 *
 * Left out: MKI, key derivation rates other than 0, and the 256-bit profiles (no browser
 * we serve offers them over DTLS-SRTP first).
 */
#ifndef DC_SRTP_H
#define DC_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"
#include <glib.h>

typedef enum {
  DC_SRTP_AES128_CM_SHA1_80 = 0x0001, /* RFC 5764 §4.1.2 */
  DC_SRTP_AEAD_AES_128_GCM = 0x0007,  /* RFC 7714 §14.2 */
} dc_srtp_profile;

typedef enum { DC_SRTP_INBOUND, DC_SRTP_OUTBOUND } dc_srtp_direction;

/* Room a caller must leave after a packet for protect to grow it: at most 20 bytes are
 * written (tag and SRTCP index); the larger figure keeps room for MKI, as libsrtp asked. */
#define DC_SRTP_MAX_TRAILER 148
#define DC_SRTP_MAX_KEY 16
#define DC_SRTP_MAX_SALT 14

/* Master key and salt sizes, or 0 for an unknown profile. */
size_t dc_srtp_key_len(dc_srtp_profile profile);
size_t dc_srtp_salt_len(dc_srtp_profile profile);
/* "AEAD_AES_128_GCM" / "AES_CM_128_HMAC_SHA1_80", or NULL for an unknown profile. */
const char *dc_srtp_profile_name(dc_srtp_profile profile);

typedef struct dc_srtp dc_srtp;

/* key and salt hold dc_srtp_key_len / dc_srtp_salt_len bytes. Returns NULL (and sets
 * *status when not NULL) for an unknown profile or if OpenSSL cannot set up the ciphers. */
dc_srtp *dc_srtp_new(dc_srtp_profile profile, const uint8_t *key, const uint8_t *salt,
                     dc_srtp_direction direction, dc_status *status);
void dc_srtp_free(dc_srtp *s);
dc_srtp_profile dc_srtp_get_profile(const dc_srtp *s);

/* In place: buf holds an RTP (or RTCP) packet of *len bytes and has room for cap bytes;
 * on success *len is the new length. DC_ERR_NO_SPACE when cap < *len + the trailer.
 * Unprotect returns DC_ERR_AUTH for a bad tag and DC_ERR_REPLAY for a replayed or too-old
 * packet; the buffer is then unspecified and the packet must be dropped. */
dc_status dc_srtp_protect(dc_srtp *s, uint8_t *buf, size_t *len, size_t cap);
dc_status dc_srtp_unprotect(dc_srtp *s, uint8_t *buf, size_t *len);
dc_status dc_srtp_protect_rtcp(dc_srtp *s, uint8_t *buf, size_t *len, size_t cap);
dc_status dc_srtp_unprotect_rtcp(dc_srtp *s, uint8_t *buf, size_t *len);

#endif
