/* rtp.h — RTP packets and their header extensions, read and rewritten in place.
 *
 * Implements the fixed header of RFC 3550 §5.1 (with CSRCs, padding and the extension
 * bit), the one-byte and two-byte header-extension forms of RFC 8285 §4.2–4.3, and typed
 * accessors for the extensions diemcau uses: client-to-mixer audio level (RFC 6464), abs-send-time
 * and transport-wide sequence number (the WebRTC RTP header extensions), and the
 * mid / rid / repaired-rid identifiers of RFC 8843 §15 and RFC 8852 §3.
 *
 * dc_rtp_parse() copies nothing: a dc_rtp is a view of the caller's bytes with the
 * offsets already validated, so later accessors never read outside the packet. Rewrites
 * (sequence number, SSRC, an extension's value, extension ids) write into a mutable
 * buffer that holds the same bytes the view was made from, without moving the payload.
 *
 * Also here: unwrapping of 16-bit sequence numbers and 32-bit timestamps into 64-bit
 * extended values (RFC 3550 appendix A.1 idea, without the probation logic).
 *
 * Left out: RFC 3550 source validation and probation (the transport knows its peer),
 * header-extension *insertion* into an existing packet (the bridge writes new headers with
 * dc_rtp_write_header instead), and the "mixed" one-byte/two-byte form of RFC 8285 §4.1.1
 * beyond what a two-byte block already allows.
 */
#ifndef DC_RTP_H
#define DC_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"

#define DC_RTP_HEADER_MIN 12
#define DC_RTP_EXT_ONE_BYTE 0xBEDEu
#define DC_RTP_EXT_TWO_BYTE 0x1000u /* the low 4 "appbits" are free, RFC 8285 §4.3 */

typedef struct dc_rtp {
  const uint8_t *data; /* the whole packet, as given to dc_rtp_parse; not owned */
  size_t len;
  bool padding, extension, marker;
  uint8_t csrc_count;
  uint8_t payload_type;
  uint16_t seq;
  uint32_t timestamp;
  uint32_t ssrc;
  uint16_t ext_profile; /* "defined by profile" field; meaningful when extension is set */
  size_t ext_off;       /* first byte of the extension elements (after their 4-byte header) */
  size_t ext_len;       /* bytes of extension elements, a multiple of 4 */
  size_t payload_off;
  size_t payload_len;   /* without padding */
  uint8_t padding_len;
} dc_rtp;

/* Parses and validates an RTP packet: version 2, CSRC list, extension block and padding all
 * inside len, and every RFC 8285 element inside its block. On error *pkt is unspecified. */
dc_status dc_rtp_parse(dc_rtp *pkt, const uint8_t *data, size_t len);

/* The same, but leaving the padding alone: for an SRTP packet, whose padding count is still
 * encrypted. payload_len then runs to the end and padding_len is 0. */
dc_status dc_rtp_parse_header(dc_rtp *pkt, const uint8_t *data, size_t len);

static inline const uint8_t *dc_rtp_payload(const dc_rtp *pkt) {
  return pkt->data + pkt->payload_off;
}
static inline uint32_t dc_rtp_csrc(const dc_rtp *pkt, unsigned i) {
  return dc_rd32(pkt->data + DC_RTP_HEADER_MIN + 4 * i);
}
static inline bool dc_rtp_ext_is_one_byte(const dc_rtp *pkt) {
  return pkt->extension && pkt->ext_profile == DC_RTP_EXT_ONE_BYTE;
}
static inline bool dc_rtp_ext_is_two_byte(const dc_rtp *pkt) {
  return pkt->extension && (pkt->ext_profile & 0xFFF0u) == DC_RTP_EXT_TWO_BYTE;
}

/* In-place rewrites of the fixed header. buf holds at least DC_RTP_HEADER_MIN bytes. */
static inline void dc_rtp_set_seq(uint8_t *buf, uint16_t seq) { dc_wr16(buf + 2, seq); }
static inline void dc_rtp_set_timestamp(uint8_t *buf, uint32_t ts) { dc_wr32(buf + 4, ts); }
static inline void dc_rtp_set_ssrc(uint8_t *buf, uint32_t ssrc) { dc_wr32(buf + 8, ssrc); }
static inline void dc_rtp_set_payload_type(uint8_t *buf, uint8_t pt) {
  buf[1] = (uint8_t)((buf[1] & 0x80) | (pt & 0x7F));
}
static inline void dc_rtp_set_marker(uint8_t *buf, bool marker) {
  buf[1] = (uint8_t)((buf[1] & 0x7F) | (marker ? 0x80 : 0));
}

/* Pads an RTP packet of *len bytes (buf has room for cap) with n bytes (RFC 3550 §5.1: the P
 * bit, n - 1 zeros, then n), so that it is as long as the packets around it and goes out in
 * one run with them (bridge/outbox.h). DC_ERR_STATE when it has padding already (a padding-only
 * packet), DC_ERR_MALFORMED when it is not an RTP version 2 header or n is outside 1..255,
 * DC_ERR_NO_SPACE when it does not fit; buf is untouched then. */
dc_status dc_rtp_add_padding(uint8_t *buf, size_t *len, size_t cap, size_t n);

/* ---- Header extensions (RFC 8285) ---- */

/* Walks the elements of a parsed packet, skipping padding. */
typedef struct {
  const uint8_t *pos, *end;
  bool two_byte;
} dc_rtp_ext_iter;

void dc_rtp_ext_iter_init(dc_rtp_ext_iter *it, const dc_rtp *pkt);
/* Returns false at the end. *value points into the packet; *len may be 0 (two-byte form). */
bool dc_rtp_ext_next(dc_rtp_ext_iter *it, uint8_t *id, const uint8_t **value, size_t *len);

/* Finds element id (1..14 one-byte, 1..255 two-byte). DC_ERR_NOT_FOUND when absent. */
dc_status dc_rtp_ext_find(const dc_rtp *pkt, uint8_t id, const uint8_t **value, size_t *len);

/* Overwrites the value of element id with new bytes of the *same* length in buf, which
 * holds the bytes pkt was parsed from. DC_ERR_MALFORMED if the lengths differ. */
dc_status dc_rtp_ext_rewrite(uint8_t *buf, const dc_rtp *pkt, uint8_t id, const uint8_t *value,
                             size_t len);

/* Renumbers every element in place by map[old_id] (0 = erase it, turning its bytes into
 * padding). Used when a receiver negotiated other ids than the sender. In the one-byte
 * form a mapped id above 14 cannot be written; such an element is erased. */
void dc_rtp_ext_remap(uint8_t *buf, const dc_rtp *pkt, const uint8_t map[256]);

/* The extension ids negotiated in SDP (a=extmap); 0 = not negotiated. */
typedef struct {
  uint8_t audio_level;   /* urn:ietf:params:rtp-hdrext:ssrc-audio-level */
  uint8_t abs_send_time; /* http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time */
  uint8_t twcc;          /* ...draft-holmer-rmcat-transport-wide-cc-extensions-01 */
  uint8_t mid;           /* urn:ietf:params:rtp-hdrext:sdes:mid */
  uint8_t rid;           /* urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id */
  uint8_t repaired_rid;  /* urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id */
} dc_rtp_ext_ids;

#define DC_RTP_ID_MAX 16 /* longest mid/rid we keep; RFC 8852 allows 255 but nobody sends that */

/* The values of the known extensions found in one packet, read in a single pass. */
typedef struct {
  bool has_audio_level, voice_activity;
  uint8_t audio_level_dbov; /* 0 = loudest, 127 = silence (RFC 6464 §3) */
  bool has_abs_send_time;
  uint32_t abs_send_time; /* 6.18 fixed-point seconds, 24 bits */
  bool has_twcc;
  uint16_t twcc_seq;
  uint8_t mid_len, rid_len, repaired_rid_len; /* 0 = absent */
  char mid[DC_RTP_ID_MAX + 1], rid[DC_RTP_ID_MAX + 1], repaired_rid[DC_RTP_ID_MAX + 1];
} dc_rtp_ext_values;

/* Reads every extension named in ids. An element whose size does not fit its type
 * (say a 2-byte audio level) is ignored rather than trusted; a mid or rid longer than
 * DC_RTP_ID_MAX is ignored too. */
void dc_rtp_read_exts(const dc_rtp *pkt, const dc_rtp_ext_ids *ids, dc_rtp_ext_values *out);

/* Single-extension accessors, for code that wants one value. */
bool dc_rtp_audio_level(const dc_rtp *pkt, uint8_t id, bool *voice, uint8_t *level_dbov);
bool dc_rtp_abs_send_time(const dc_rtp *pkt, uint8_t id, uint32_t *ast24);
bool dc_rtp_twcc_seq(const dc_rtp *pkt, uint8_t id, uint16_t *seq);
dc_status dc_rtp_set_abs_send_time(uint8_t *buf, const dc_rtp *pkt, uint8_t id, uint32_t ast24);
dc_status dc_rtp_set_twcc_seq(uint8_t *buf, const dc_rtp *pkt, uint8_t id, uint16_t seq);

/* ---- Writing a header ---- */

typedef struct {
  bool marker;
  uint8_t payload_type;
  uint16_t seq;
  uint32_t timestamp, ssrc;
} dc_rtp_header;

typedef struct {
  uint8_t id;
  uint8_t len; /* 1..16 for the one-byte form; 0..255 forces the two-byte form */
  const uint8_t *value;
} dc_rtp_ext_elem;

/* Writes a 12-byte header plus, when n_ext > 0, an extension block in the one-byte form if
 * every element allows it, else the two-byte form; padded to 32 bits. Returns the header
 * length (where the payload goes), or 0 if cap is too small or an element is invalid. */
size_t dc_rtp_write_header(uint8_t *out, size_t cap, const dc_rtp_header *hdr,
                           const dc_rtp_ext_elem *ext, size_t n_ext);

/* ---- Extended sequence numbers and timestamps ---- */

/* Unwraps a counter of `bits` bits (16 for sequence numbers, 32 for timestamps) into a
 * monotonic 64-bit value: each new value is taken as the nearest one to the highest seen.
 * The first value maps to itself; a late packet from before it may map below zero. */
typedef struct {
  int64_t highest;
  bool started;
} dc_unwrapper;

int64_t dc_unwrap(dc_unwrapper *u, uint32_t value, unsigned bits);
static inline int64_t dc_seq_unwrap(dc_unwrapper *u, uint16_t seq) { return dc_unwrap(u, seq, 16); }
static inline int64_t dc_ts_unwrap(dc_unwrapper *u, uint32_t ts) { return dc_unwrap(u, ts, 32); }

/* True when sequence number a comes after b, modulo 2^16 (RFC 1982 serial arithmetic). */
static inline bool dc_seq_newer(uint16_t a, uint16_t b) {
  return a != b && (uint16_t)(a - b) < 0x8000u;
}

#endif
