/* vp8.h — the VP8 RTP payload descriptor (RFC 7741 §4.2), read and rewritten in place.
 *
 * The video router forwards VP8 without transcoding; when a receiver's slot switches from one
 * source to another it must renumber PictureID and TL0PICIDX so the decoder sees one stream
 * (RFC 7741 §4.2: both identify pictures across packets), and it may switch only where the
 * new source starts a key frame (§4.3: the P bit of the VP8 payload header, RFC 6386 §9.1).
 * The rewrites keep each field's width (7- or 15-bit PictureID), so no byte moves.
 *
 * Left out: building descriptors from scratch (we only forward), the partition layout of
 * the VP8 frame beyond the key-frame bit, and VP9/AV1.
 */
#ifndef DC_VP8_H
#define DC_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"

typedef struct {
  bool non_reference;        /* N */
  bool start_of_partition;   /* S */
  uint8_t partition_id;      /* PID */
  bool has_picture_id, long_picture_id;
  uint16_t picture_id;       /* 7 or 15 bits */
  bool has_tl0picidx;
  uint8_t tl0picidx;
  bool has_tid, layer_sync;  /* T: TID and Y */
  uint8_t tid;
  bool has_keyidx;
  uint8_t keyidx;
  size_t picture_id_off, tl0picidx_off; /* where they are, for the rewrites */
  size_t len;                /* descriptor bytes; the VP8 payload starts here */
  bool keyframe;             /* this packet starts a key frame */
} dc_vp8_desc;

/* Parses the descriptor at the start of an RTP payload. DC_ERR_TRUNCATED when the payload
 * ends inside it or carries no VP8 data after it. */
dc_status dc_vp8_parse(const uint8_t *payload, size_t len, dc_vp8_desc *d);

/* In-place rewrites of a parsed descriptor's fields, in the width the sender chose; a
 * descriptor without the field is left alone. */
void dc_vp8_set_picture_id(uint8_t *payload, const dc_vp8_desc *d, uint16_t picture_id);
void dc_vp8_set_tl0picidx(uint8_t *payload, const dc_vp8_desc *d, uint8_t tl0picidx);

#endif
