/* libFuzzer target: SRTP and SRTCP unprotect of whatever arrives, for both profiles; and a
 * packet that parses as RTP must survive protect then unprotect unchanged. */
#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"
#include "media/srtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t key[16] = {1, 2, 3}, salt[14] = {4, 5, 6};
  if (size < 1 || size > 1500)
    return 0;
  dc_srtp_profile profile = data[0] & 1 ? DC_SRTP_AEAD_AES_128_GCM : DC_SRTP_AES128_CM_SHA1_80;
  data++, size--;
  dc_srtp *in = dc_srtp_new(profile, key, salt, DC_SRTP_INBOUND, NULL);
  dc_srtp *out = dc_srtp_new(profile, key, salt, DC_SRTP_OUTBOUND, NULL);
  uint8_t *buf = malloc(size + DC_SRTP_MAX_TRAILER);
  size_t len = size;
  memcpy(buf, data, size);
  (void)dc_srtp_unprotect(in, buf, &len);
  memcpy(buf, data, size);
  len = size;
  (void)dc_srtp_unprotect_rtcp(in, buf, &len);
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, data, size) == DC_OK) {
    memcpy(buf, data, size);
    len = size;
    if (dc_srtp_protect(out, buf, &len, size + DC_SRTP_MAX_TRAILER) != DC_OK)
      abort();
    dc_srtp *in2 = dc_srtp_new(profile, key, salt, DC_SRTP_INBOUND, NULL);
    if (dc_srtp_unprotect(in2, buf, &len) != DC_OK || len != size || memcmp(buf, data, size))
      abort(); /* our own packet did not come back */
    dc_srtp_free(in2);
  }
  free(buf);
  dc_srtp_free(in);
  dc_srtp_free(out);
  return 0;
}
