/* libFuzzer target: DTLS record input to a server session, as an ICE peer could send it.
 * The input is a list of datagrams, each prefixed by a 2-byte length; between datagrams the
 * clock advances and due timeouts run, so retransmission paths are exercised too. */
#include <stdlib.h>
#include <string.h>

#include "media/dtls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dc_dtls_identity *identity;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!identity)
    identity = dc_dtls_identity_new("fuzz", NULL);
  dc_dtls *d = dc_dtls_new(identity, DC_DTLS_SERVER,
                           "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                           "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
                           0, NULL);
  uint64_t now = 0;
  while (size >= 2) {
    size_t len = (size_t)(data[0] << 8 | data[1]);
    data += 2, size -= 2;
    if (len > size)
      len = size;
    uint8_t *dg = malloc(len ? len : 1); /* exact size: reads past it trip ASan */
    memcpy(dg, data, len);
    if (len)
      dc_dtls_handle_datagram(d, dg, len, now);
    free(dg);
    data += len, size -= len;
    now += 150000;
    if (dc_dtls_timeout(d) <= now)
      dc_dtls_handle_timeout(d, now);
    size_t out;
    while (dc_dtls_poll_datagram(d, &out))
      ;
  }
  dc_dtls_srtp_keys keys;
  (void)dc_dtls_srtp_keys_export(d, &keys);
  dc_dtls_free(d);
  return 0;
}
