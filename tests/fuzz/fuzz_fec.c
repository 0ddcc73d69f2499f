/* libFuzzer target: ULPFEC payloads (RFC 5109) as a sender could shape them, against
 * protected packets it could shape too. The input is one length octet pair, the FEC payload,
 * then packets each led by a length octet (sequence numbers from the FEC's base on; a zero
 * length is a lost one). What is rebuilt must be an RTP packet of the length the parity said
 * and no longer than its protection covers. */
#include <stdlib.h>
#include <string.h>

#include "media/fec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  const uint8_t *pkt[DC_ULPFEC_MAX_MASK];
  size_t len[DC_ULPFEC_MAX_MASK];
  uint16_t base;
} packets;

static size_t lookup(void *user, uint16_t seq, uint8_t *out, size_t cap) {
  packets *p = user;
  unsigned k = (uint16_t)(seq - p->base);
  if (k >= DC_ULPFEC_MAX_MASK || !p->len[k] || p->len[k] > cap)
    return 0;
  memcpy(out, p->pkt[k], p->len[k]);
  return p->len[k];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t fec_len = (size_t)(data[0] << 8 | data[1]);
  if (fec_len > size - 2)
    fec_len = size - 2;
  uint8_t *fec = malloc(fec_len ? fec_len : 1); /* exact size: reads past the end trip ASan */
  memcpy(fec, data + 2, fec_len);
  dc_ulpfec f;
  if (dc_ulpfec_parse(fec, fec_len, &f) == DC_OK) {
    if (f.prot_len > fec_len)
      abort();
    packets p = {.base = f.sn_base};
    const uint8_t *at = data + 2 + fec_len, *end = data + size;
    for (unsigned k = 0; k < DC_ULPFEC_MAX_MASK && at < end; k++) {
      size_t n = *at++;
      n = n > (size_t)(end - at) ? (size_t)(end - at) : n;
      p.pkt[k] = at;
      p.len[k] = n;
      at += n;
    }
    uint8_t out[DC_ULPFEC_MAX_PACKET + 64];
    uint16_t seq;
    size_t len = dc_ulpfec_recover(&f, 0x01020304, lookup, &p, out, sizeof out, &seq);
    if (len && (len < 12 || len > 12 + (size_t)f.prot_len || (out[0] >> 6) != 2))
      abort();
    dc_ulpfec_store *st = calloc(1, sizeof *st);
    if (dc_ulpfec_store_put(st, 0x01020304, fec, fec_len, 1)) {
      size_t again = dc_ulpfec_store_recover(st, 0x01020304, lookup, &p, 2, out, sizeof out, &seq);
      if (again != len)
        abort(); /* the store rebuilds what the packet alone does */
    }
    free(st);
  }
  free(fec);
  return 0;
}
