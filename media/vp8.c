/* vp8.c — RFC 7741 payload descriptor; see vp8.h. */
#include "media/vp8.h"

#include <string.h>

dc_status dc_vp8_parse(const uint8_t *p, size_t len, dc_vp8_desc *d) {
  memset(d, 0, sizeof *d);
  if (len < 1)
    return DC_ERR_TRUNCATED;
  size_t off = 1;
  bool x = (p[0] & 0x80) != 0;
  d->non_reference = (p[0] & 0x20) != 0;
  d->start_of_partition = (p[0] & 0x10) != 0;
  d->partition_id = p[0] & 0x0F;
  if (x) {
    if (len < 2)
      return DC_ERR_TRUNCATED;
    uint8_t ext = p[1];
    off = 2;
    if (ext & 0x80) { /* I: PictureID */
      if (len < off + 1)
        return DC_ERR_TRUNCATED;
      d->has_picture_id = true;
      d->picture_id_off = off;
      if (p[off] & 0x80) { /* M: 15 bits */
        if (len < off + 2)
          return DC_ERR_TRUNCATED;
        d->long_picture_id = true;
        d->picture_id = (uint16_t)((p[off] & 0x7F) << 8 | p[off + 1]);
        off += 2;
      } else {
        d->picture_id = p[off] & 0x7F;
        off += 1;
      }
    }
    if (ext & 0x40) { /* L: TL0PICIDX */
      if (len < off + 1)
        return DC_ERR_TRUNCATED;
      d->has_tl0picidx = true;
      d->tl0picidx_off = off;
      d->tl0picidx = p[off++];
    }
    if (ext & 0x30) { /* T or K: one byte for TID|Y|KEYIDX */
      if (len < off + 1)
        return DC_ERR_TRUNCATED;
      d->has_tid = (ext & 0x20) != 0;
      d->has_keyidx = (ext & 0x10) != 0;
      d->tid = p[off] >> 6;
      d->layer_sync = (p[off] & 0x20) != 0;
      d->keyidx = p[off] & 0x1F;
      off++;
    }
  }
  if (len <= off)
    return DC_ERR_TRUNCATED; /* a descriptor with no VP8 data after it */
  d->len = off;
  /* RFC 7741 §4.3: the first packet of a frame (S=1, PID 0) begins with the VP8 payload
   * header, whose P bit (RFC 6386 §9.1) is 0 for a key frame. */
  d->keyframe = d->start_of_partition && d->partition_id == 0 && !(p[off] & 0x01);
  return DC_OK;
}

void dc_vp8_set_picture_id(uint8_t *p, const dc_vp8_desc *d, uint16_t picture_id) {
  if (!d->has_picture_id)
    return;
  if (d->long_picture_id) {
    p[d->picture_id_off] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7F));
    p[d->picture_id_off + 1] = (uint8_t)picture_id;
  } else {
    p[d->picture_id_off] = picture_id & 0x7F;
  }
}

void dc_vp8_set_tl0picidx(uint8_t *p, const dc_vp8_desc *d, uint8_t tl0picidx) {
  if (d->has_tl0picidx)
    p[d->tl0picidx_off] = tl0picidx;
}
