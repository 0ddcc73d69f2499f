/* red.h — RTP payload for redundant audio data (RFC 2198), for Opus between the bridge and
 * its points: a packet carries the current frame and copies of one or two earlier ones, so
 * a receiver that lost a packet plays the copy from the next instead of concealing.
 *
 * Implements the payload format of RFC 2198 §3: header blocks (F bit, block PT, 14-bit
 * timestamp offset, 10-bit length) followed by the primary block's 1-byte header, then the
 * blocks' data in the same order, the primary last. As WebRTC uses it (RFC 2198 with
 * `a=fmtp:RED PT/PT`), every block carries the same codec, Opus.
 *
 * Left out: blocks of other payload types (a parser reports them; the bridge uses only
 * Opus), and FEC of RFC 5109.
 */
#ifndef DC_RED_H
#define DC_RED_H

#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"

#define DC_RED_MAX_BLOCKS 8      /* primary included; more is refused as malformed */
#define DC_RED_MAX_OFFSET 0x3FFF /* 14 bits */
#define DC_RED_MAX_BLOCK_LEN 0x3FF /* 10 bits: a longer redundant block cannot be written */

typedef struct {
  uint8_t pt;
  uint32_t ts_offset; /* how much earlier than the packet's timestamp; 0 for the primary */
  const uint8_t *data; /* into the parsed payload; not owned */
  size_t len;
} dc_red_block;

/* Splits a RED payload into its blocks, oldest first and the primary last. Returns DC_OK
 * and *n, or an error for a payload whose headers run past its end, whose lengths do not
 * add up, or that has more than `cap` blocks. Nothing is copied. */
dc_status dc_red_parse(const uint8_t *payload, size_t len, dc_red_block *blocks, size_t cap, size_t *n);

/* Writes a RED payload of `n` earlier blocks (oldest first) and the primary into out.
 * Blocks whose offset or length cannot be written (RFC 2198's 14 and 10 bits) or that do not
 * fit in cap are left out. Returns the bytes written, or 0 when not even the primary fits. */
size_t dc_red_write(uint8_t *out, size_t cap, const dc_red_block *redundant, size_t n,
                    uint8_t primary_pt, const uint8_t *primary, size_t primary_len);

#endif
