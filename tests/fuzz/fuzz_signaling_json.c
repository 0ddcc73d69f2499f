/* libFuzzer target: one signaling text frame from a client, through the whole parser. */
#include <stdlib.h>
#include <string.h>

#include "signaling/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1); /* exact size: no NUL, reads past it trip ASan */
  memcpy(text, data, size);
  dc_client_msg m;
  const char *code;
  char *message = NULL;
  if (dc_protocol_parse(text, size, &m, &code, &message))
    dc_client_msg_clear(&m);
  else if (!code || !message)
    abort(); /* every refusal carries a code and a message */
  g_free(message);
  free(text);
  return 0;
}
