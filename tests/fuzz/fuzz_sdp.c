/* libFuzzer target: SDP parse, negotiation and answer. Whatever offer is accepted, the
 * answer we write for it must parse again (we must never emit SDP we cannot read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1); /* exact size, not NUL-terminated: ASan checks reads */
  memcpy(text, data, size);
  dc_sdp *offer = dc_sdp_parse(text, size, NULL);
  free(text);
  if (!offer)
    return 0;
  dc_sdp_negotiation *neg = dc_sdp_negotiate(offer, NULL);
  if (neg) {
    dc_sdp_send send[64];
    for (int i = 0; i < 64; i++)
      send[i] = (dc_sdp_send){.ssrc = 1000u + (uint32_t)i, .rtx_ssrc = (i % 2) ? 2000u + (uint32_t)i : 0};
    const char *cands[] = {"1 1 udp 2130706431 127.0.0.1 40000 typ host", NULL};
    dc_sdp_answer_params p = {.ice_ufrag = "ufrag", .ice_pwd = "passwordpasswordpassword",
                              .fingerprint = "sha-256 AA:BB", .cname = "c", .session_id = 1,
                              .candidates = cands, .send = send};
    char *answer = dc_sdp_write_answer(neg, &p);
    GError *err = NULL;
    dc_sdp *again = dc_sdp_parse(answer, strlen(answer), &err);
    if (!again) {
      fprintf(stderr, "our answer does not parse: %s\n%s\n", err->message, answer);
      abort();
    }
    dc_sdp_free(again);
    g_free(answer);
    dc_sdp_negotiation_free(neg);
  }
  dc_sdp_free(offer);
  return 0;
}
