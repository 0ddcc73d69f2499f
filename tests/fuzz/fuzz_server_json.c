/* libFuzzer target: what a bridge sends a native endpoint: one signaling text frame, or the
 * device API's answer (both parsers see every input). */
#include <stdlib.h>
#include <string.h>

#include "signaling/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1); /* exact size: no NUL, reads past it trip ASan */
  memcpy(text, data, size);
  dc_server_msg m;
  char *why = NULL;
  if (dc_protocol_parse_server(text, size, &m, &why)) {
    if (m.n_slots > DC_PROTOCOL_MAX_SLOTS || m.n_roster > DC_PROTOCOL_MAX_ROSTER)
      abort();
    dc_server_msg_clear(&m);
  } else if (!why) {
    abort(); /* every refusal says why */
  }
  g_free(why);
  why = NULL;
  dc_device_status st; /* the device API's answer, the endpoint's other input from a bridge */
  if (dc_protocol_parse_device_status(text, size, &st, &why))
    dc_device_status_clear(&st);
  else if (!why)
    abort();
  g_free(why);
  free(text);
  return 0;
}
