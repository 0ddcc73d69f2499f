/* libFuzzer target: the RFC 8285 header-extension walker on its own. The first input byte
 * picks the form (one-byte, two-byte, opaque profile); the rest is the extension block,
 * wrapped in a fixed RTP header so the fuzzer spends its time on the elements. */
#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096)
    return 0;
  size_t block = (size - 1) & ~(size_t)3;
  size_t len = 16 + block + 1;
  uint8_t *pkt = malloc(len);
  const uint16_t profiles[] = {DC_RTP_EXT_ONE_BYTE, DC_RTP_EXT_TWO_BYTE, 0x1005, 0x1234};
  dc_rtp_header h = {.payload_type = 96, .seq = 1, .timestamp = 2, .ssrc = 3};
  dc_rtp_write_header(pkt, len, &h, NULL, 0);
  pkt[0] |= 0x10;
  dc_wr16(pkt + 12, profiles[data[0] & 3]);
  dc_wr16(pkt + 14, (uint16_t)(block / 4));
  memcpy(pkt + 16, data + 1, block);
  pkt[len - 1] = 0xAB;
  dc_rtp view;
  if (dc_rtp_parse(&view, pkt, len) == DC_OK) {
    dc_rtp_ext_iter it;
    dc_rtp_ext_iter_init(&it, &view);
    uint8_t id;
    const uint8_t *v;
    size_t n, total = 0;
    while (dc_rtp_ext_next(&it, &id, &v, &n)) {
      if (v < pkt + 16 || v + n > pkt + 16 + block)
        abort(); /* an element outside its block */
      total += n;
    }
    if (total > block)
      abort();
    bool voice;
    uint8_t level;
    (void)dc_rtp_audio_level(&view, data[0] >> 4, &voice, &level);
  }
  free(pkt);
  return 0;
}
