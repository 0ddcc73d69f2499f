/* libFuzzer target: RFC 2198 payloads as a sender could shape them. What parses is written
 * back and must parse again to the same blocks. */
#include <stdlib.h>
#include <string.h>

#include "media/red.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size ? size : 1); /* exact size: reads past the end trip ASan */
  memcpy(copy, data, size);
  dc_red_block blocks[DC_RED_MAX_BLOCKS], again[DC_RED_MAX_BLOCKS];
  size_t n, m;
  if (dc_red_parse(copy, size, blocks, DC_RED_MAX_BLOCKS, &n) == DC_OK) {
    uint8_t out[4096];
    const dc_red_block *p = &blocks[n - 1];
    size_t len = dc_red_write(out, sizeof out, blocks, n - 1, p->pt, p->data, p->len);
    if (len) {
      if (dc_red_parse(out, len, again, DC_RED_MAX_BLOCKS, &m) != DC_OK)
        abort();
      /* the primary always survives, byte for byte */
      if (again[m - 1].len != p->len || memcmp(again[m - 1].data, p->data, p->len) != 0)
        abort();
      for (size_t i = 0; i + 1 < m; i++)
        if (again[i].ts_offset > DC_RED_MAX_OFFSET || again[i].len > DC_RED_MAX_BLOCK_LEN)
          abort();
    }
  }
  free(copy);
  return 0;
}
