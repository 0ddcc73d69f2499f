/* fec.h — ULPFEC recovery (RFC 5109) for a sender's video, sans-IO: a highland point's camera
 * protects its packets with XOR parity, and a packet lost on its uplink is rebuilt at the
 * bridge from the parity and the packets that did arrive, with no round trip to ask for it
 * (at 600 ms a NACK's answer comes after the frame was due).
 *
 * Implements RFC 5109 §7 (the FEC header and the level 0 header with its 16- or 48-bit mask)
 * and §8/§10.2's recovery of one missing packet per FEC packet: XOR of the first two header
 * octets, the timestamps and the lengths (packet length less the 12-octet fixed header), and
 * of every octet after the fixed header up to the protection length. As WebRTC sends it: the
 * FEC packet travels inside RED (RFC 2198) with the media's SSRC and sequence numbering, and
 * protects the media packets with the RED header taken off (media payload type). Several
 * FEC packets may each leave one packet missing in turn: dc_ulpfec_store_recover is called
 * until it finds nothing.
 *
 * Left out: levels above 0 (WebRTC sends none), FlexFEC (RFC 8627), and generating FEC: the
 * bridge's own legs are repaired by retransmission from its cache.
 */
#ifndef DC_FEC_H
#define DC_FEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"

#define DC_ULPFEC_HEADER 10     /* the FEC header (RFC 5109 §7.3) */
#define DC_ULPFEC_MAX_MASK 48   /* packets one FEC packet can protect (L = 1) */
#define DC_ULPFEC_MAX_PACKET 1500 /* longest media packet rebuilt */

typedef struct {
  uint8_t recovery[2];   /* P, X, CC; M, PT: XOR of the protected packets' first two octets */
  uint16_t sn_base;
  uint32_t ts_recovery;
  uint16_t len_recovery; /* XOR of (length - 12) */
  uint16_t prot_len;     /* level 0 protection length */
  uint64_t mask;         /* as sent: its top bit (of mask_bits) is sn_base's, the next sn_base + 1's */
  unsigned mask_bits;    /* 16 or 48 */
  const uint8_t *payload; /* prot_len octets of level 0 parity; into the parsed buffer */
} dc_ulpfec;

/* Reads an FEC packet's payload (what follows its RTP header and its RED header). Errors:
 * truncated headers or parity shorter than the protection length, the E bit set (an
 * extension RFC 5109 reserves), or an empty mask. */
dc_status dc_ulpfec_parse(const uint8_t *payload, size_t len, dc_ulpfec *out);

/* A media packet as the sender protected it: copies sequence number seq into out (cap
 * octets) and returns its length, or 0 when it never arrived. */
typedef size_t (*dc_ulpfec_lookup)(void *user, uint16_t seq, uint8_t *out, size_t cap);

/* Rebuilds the one packet fec protects that lookup does not have, with SSRC ssrc, into out.
 * Returns its length and *seq, or 0 when none or more than one is missing, when a protected
 * packet is longer than the parity covers, or when out is too small. */
size_t dc_ulpfec_recover(const dc_ulpfec *fec, uint32_t ssrc, dc_ulpfec_lookup lookup, void *user,
                         uint8_t *out, size_t cap, uint16_t *seq);

/* ---- a source's FEC packets, held until they are of no more use ---- */

#define DC_ULPFEC_HELD 8        /* WebRTC sends at most a few per frame */
#define DC_ULPFEC_HOLD_US 1000000 /* older ones protect frames long played */

typedef struct {
  struct {
    uint64_t at_us; /* 0: free */
    uint32_t ssrc;  /* the stream it protects (one per simulcast layer) */
    uint16_t len;
    uint8_t payload[DC_ULPFEC_HEADER + 8 + DC_ULPFEC_MAX_PACKET];
  } held[DC_ULPFEC_HELD];
} dc_ulpfec_store;

/* Keeps a copy of an FEC payload that came on stream ssrc (the oldest held gives way). False,
 * and nothing kept, when it does not parse or is longer than can be used. */
bool dc_ulpfec_store_put(dc_ulpfec_store *st, uint32_t ssrc, const uint8_t *payload, size_t len, uint64_t now_us);
/* Tries the FEC packets held for stream ssrc (another stream's sequence numbers name other
 * packets): the first that rebuilds a packet gives it (as dc_ulpfec_recover); those with
 * nothing missing or too old are dropped. 0 when none rebuilds one. */
size_t dc_ulpfec_store_recover(dc_ulpfec_store *st, uint32_t ssrc, dc_ulpfec_lookup lookup, void *user,
                               uint64_t now_us, uint8_t *out, size_t cap, uint16_t *seq);
/* Whether anything is held (nothing to try without it). */
bool dc_ulpfec_store_any(const dc_ulpfec_store *st);

#endif
