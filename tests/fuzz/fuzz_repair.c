/* libFuzzer target: media/repair on what senders control. The input is a packet, then a run
 * of sequence numbers. RTX unwrap then wrap must give the packet back; any run of sequence
 * numbers keeps the NACK list bounded and every report sane; the cache returns exactly what
 * was stored under a sequence number, or nothing. */
#include <stdlib.h>
#include <string.h>

#include "media/repair.h"
#include "media/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t pkt_len = data[0] % 200 < size - 1 ? data[0] % 200 : size - 1;
  const uint8_t *pkt = data + 1;
  uint8_t buf[256 + 2], back[256 + 2];
  memcpy(buf, pkt, pkt_len);
  size_t n = dc_rtx_unwrap(buf, pkt_len, 96, 0x1234);
  if (n) {
    memcpy(back, buf, n);
    size_t w = dc_rtx_wrap(back, n, sizeof back, 97, 0x5678, 1);
    if (!w || w != n + 2 || dc_rtx_unwrap(back, w, 96, 0x1234) != n || memcmp(back, buf, n))
      abort();
  }
  dc_rx_stream s;
  dc_rx_stream_init(&s, 1, 90000);
  dc_packet_cache *c = dc_packet_cache_new(1000000, 1 << 16);
  uint64_t now = 1;
  const uint8_t *seqs = data + 1 + pkt_len;
  size_t n_seqs = (size - 1 - pkt_len) / 2;
  uint16_t nacks[DC_NACK_MAX];
  for (size_t i = 0; i < n_seqs; i++) {
    uint16_t seq = dc_rd16(seqs + 2 * i);
    now += seq % 7 * 10000;
    dc_rx_stream_update(&s, seq, seq * 90u, 100, now);
    if (s.n_missing < 0 || s.n_missing > DC_NACK_MAX)
      abort();
    size_t k = dc_rx_stream_nacks(&s, now, 100000, 1000000, nacks, DC_NACK_MAX);
    if (k > DC_NACK_MAX)
      abort();
    if (pkt_len) {
      buf[0] = (uint8_t)seq;
      dc_packet_cache_put(c, seq % 5, seq, buf, pkt_len, now);
      uint8_t got[256];
      size_t g = dc_packet_cache_get(c, seq % 5, seq, now, got, sizeof got);
      if (g != pkt_len || memcmp(got, buf, g))
        abort();
    }
  }
  dc_rtcp_report_block rb;
  dc_rx_stream_report(&s, now, &rb);
  if (rb.fraction_lost > 255)
    abort();
  dc_packet_cache_free(c);
  return 0;
}
