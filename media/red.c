/* red.c — RFC 2198 redundant audio payloads; see red.h. */
#include "media/red.h"

#include <stdbool.h>
#include <string.h>

dc_status dc_red_parse(const uint8_t *payload, size_t len, dc_red_block *blocks, size_t cap, size_t *n) {
  size_t off = 0, count = 0, data_len = 0;
  *n = 0;
  /* the headers: 4 bytes per block with F set, then the primary's 1 byte */
  for (;;) {
    if (off >= len)
      return DC_ERR_TRUNCATED;
    if (count >= cap || count >= DC_RED_MAX_BLOCKS)
      return DC_ERR_MALFORMED;
    dc_red_block *b = &blocks[count++];
    b->pt = payload[off] & 0x7F;
    if (!(payload[off] & 0x80)) {
      b->ts_offset = 0;
      off += 1;
      break;
    }
    if (len - off < 4)
      return DC_ERR_TRUNCATED;
    b->ts_offset = (uint32_t)payload[off + 1] << 6 | payload[off + 2] >> 2;
    b->len = (size_t)(payload[off + 2] & 0x03) << 8 | payload[off + 3];
    data_len += b->len;
    off += 4;
  }
  if (data_len > len - off)
    return DC_ERR_TRUNCATED;
  for (size_t i = 0; i < count; i++) {
    dc_red_block *b = &blocks[i];
    if (i == count - 1)
      b->len = len - off; /* the primary: whatever is left */
    b->data = payload + off;
    off += b->len;
  }
  *n = count;
  return DC_OK;
}

size_t dc_red_write(uint8_t *out, size_t cap, const dc_red_block *redundant, size_t n,
                    uint8_t primary_pt, const uint8_t *primary, size_t primary_len) {
  bool keep[DC_RED_MAX_BLOCKS] = {false};
  size_t need = 1 + primary_len, used = 0;
  if (need > cap)
    return 0;
  /* the newest earlier blocks are worth the most: take them first while they fit */
  for (size_t k = n; k-- > 0 && used < DC_RED_MAX_BLOCKS - 1;) {
    const dc_red_block *b = &redundant[k];
    if (b->ts_offset > DC_RED_MAX_OFFSET || b->len > DC_RED_MAX_BLOCK_LEN || !b->len || need + 4 + b->len > cap)
      continue;
    keep[k] = true;
    need += 4 + b->len;
    used++;
  }
  size_t off = 0;
  for (size_t k = 0; k < n; k++) {
    if (!keep[k])
      continue;
    const dc_red_block *b = &redundant[k];
    out[off] = (uint8_t)(0x80 | (b->pt & 0x7F));
    out[off + 1] = (uint8_t)(b->ts_offset >> 6);
    out[off + 2] = (uint8_t)((b->ts_offset & 0x3F) << 2 | b->len >> 8);
    out[off + 3] = (uint8_t)b->len;
    off += 4;
  }
  out[off++] = primary_pt & 0x7F;
  for (size_t k = 0; k < n; k++)
    if (keep[k]) {
      memcpy(out + off, redundant[k].data, redundant[k].len);
      off += redundant[k].len;
    }
  memcpy(out + off, primary, primary_len);
  return off + primary_len;
}
