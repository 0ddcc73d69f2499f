/* libFuzzer target: the VP8 payload descriptor. Rewriting a parsed descriptor's fields must
 * leave a descriptor that parses the same way, with the new values. */
#include <stdlib.h>
#include <string.h>

#include "media/vp8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *p = malloc(size ? size : 1);
  memcpy(p, data, size);
  dc_vp8_desc d, e;
  if (dc_vp8_parse(p, size, &d) == DC_OK) {
    dc_vp8_set_picture_id(p, &d, (uint16_t)(size * 977));
    dc_vp8_set_tl0picidx(p, &d, (uint8_t)size);
    if (dc_vp8_parse(p, size, &e) != DC_OK || e.len != d.len || e.keyframe != d.keyframe ||
        e.has_picture_id != d.has_picture_id || e.long_picture_id != d.long_picture_id ||
        (d.has_picture_id && e.picture_id != (uint16_t)(size * 977) % (d.long_picture_id ? 0x8000 : 0x80)) ||
        (d.has_tl0picidx && e.tl0picidx != (uint8_t)size))
      abort();
  }
  free(p);
  return 0;
}
