/* libFuzzer target: RTP parsing, the demultiplexer, and every in-place rewrite that the
 * bridge applies to a forwarded packet. A rewrite must leave a packet that still parses. */
#include <stdlib.h>
#include <string.h>

#include "media/demux.h"
#include "media/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)dc_demux(data, size);
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, data, size) != DC_OK)
    return 0;
  /* A copy exactly as long as the input, so ASan sees any write past the packet. */
  uint8_t *buf = malloc(size);
  memcpy(buf, data, size);
  dc_rtp view;
  if (dc_rtp_parse(&view, buf, size) != DC_OK)
    abort(); /* same bytes, different answer */
  dc_rtp_ext_ids ids = {1, 2, 3, 4, 5, 6};
  dc_rtp_ext_values vals;
  dc_rtp_read_exts(&view, &ids, &vals);
  (void)dc_rtp_set_twcc_seq(buf, &view, 3, 0xFFFF);
  (void)dc_rtp_set_abs_send_time(buf, &view, 2, 0x123456);
  uint8_t map[256];
  for (int i = 0; i < 256; i++)
    map[i] = (uint8_t)((i * 7 + size) & 0xFF);
  dc_rtp_ext_remap(buf, &view, map);
  dc_rtp_set_seq(buf, 1);
  dc_rtp_set_ssrc(buf, 2);
  dc_rtp after;
  if (dc_rtp_parse(&after, buf, size) != DC_OK)
    abort(); /* a rewrite broke a valid packet */
  if (after.payload_len != pkt.payload_len || after.payload_off != pkt.payload_off)
    abort();
  free(buf);
  return 0;
}
