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
 * protection-profile ids.
 *
 * Security model (what a reviewer should be able to check against srtp.c):
 * - Inbound, no state changes before a packet authenticates. Index estimation and the replay
 *   check read the SSRC's state (or a fresh one for an unknown SSRC); only after the tag
 *   verifies is the stream made, its ROC, highest index and replay window moved on, and its
 *   place in the table refreshed. A forged packet, with any SSRC, changes nothing.
 * - Inbound tables hold 16 SSRCs per half (SRTP, SRTCP). When full, an authenticated packet
 *   of a new SSRC takes the place of the least recently authenticated one: only a holder of
 *   the keys can push a stream out. Replay windows: 1024 packets for SRTP (video arrives
 *   reordered and repaired), 128 for SRTCP (as libsrtp).
 * - Outbound, no (SSRC, index) is protected twice. Each SSRC keeps its ROC, its highest index
 *   and a 1024-packet window of the indices used; protect refuses (DC_ERR_REPLAY) an index
 *   already used or older than the window, whatever the bytes, and leaves the buffer as it
 *   was. Nothing the bridge sends needs a resend under the same index: repairs go out as RTX
 *   (RFC 4588), each with an RTX sequence number of its own. Outbound streams are never
 *   evicted (a forgotten one would restart at ROC 0 and repeat key and IV); a session that
 *   would send more than 256 SSRCs is refused (DC_ERR_STATE). The SRTCP index is the
 *   session's, 31 bits, never reused: once spent, protect_rtcp refuses.
 * - Debug builds (-DDC_SRTP_AUDIT) also fingerprint what each outbound index protected, and
 *   raise a critical when an index is asked for again with other bytes: that is a bug in the
 *   caller (the router or the repair path), which the refusal has just kept off the wire.
 *
 * Left out: MKI, key derivation rates other than 0, the 256-bit profiles (no browser we serve
 * offers them over DTLS-SRTP first), unencrypted SRTCP, and re-keying.
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
/* What protect adds to an RTP packet: its authentication tag (16 bytes GCM, 10 CM). */
size_t dc_srtp_rtp_trailer(const dc_srtp *s);
/* Outbound: packets protect refused so far (an index used again, or no room). */
uint64_t dc_srtp_refused(const dc_srtp *s);
/* A hint, no effect on state: prefetches what the next SRTP (not SRTCP) packet's protect or
 * unprotect reads first. Stage 0 the session, stage 1 (once stage 0 had time to arrive) its
 * streams and cipher context. For a caller with many sessions that knows which comes next. */
void dc_srtp_prefetch(const dc_srtp *s, unsigned stage);

/* In place: buf holds an RTP (or RTCP) packet of *len bytes and has room for cap bytes;
 * on success *len is the new length. DC_ERR_NO_SPACE when cap < *len + the trailer.
 * Unprotect returns DC_ERR_AUTH for a bad tag and DC_ERR_REPLAY for a replayed or too-old
 * packet; the buffer is then unspecified and the packet must be dropped. */
/* Protect refuses an index it has used before, or one older than its window (DC_ERR_REPLAY),
 * and a new SSRC past the table (DC_ERR_STATE); the buffer is then untouched. */
dc_status dc_srtp_protect(dc_srtp *s, uint8_t *buf, size_t *len, size_t cap);
dc_status dc_srtp_unprotect(dc_srtp *s, uint8_t *buf, size_t *len);
dc_status dc_srtp_protect_rtcp(dc_srtp *s, uint8_t *buf, size_t *len, size_t cap);
dc_status dc_srtp_unprotect_rtcp(dc_srtp *s, uint8_t *buf, size_t *len);

#endif
