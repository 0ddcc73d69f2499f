/* libFuzzer target: invitation token verification, the first thing a joining stranger's
 * bytes reach. A token that verifies must re-sign to exactly itself. */
#include <stdlib.h>
#include <string.h>

#include "signaling/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t secret[32] = {7};
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  dc_token_claims c;
  if (dc_token_verify(secret, text, 0, &c, NULL)) {
    char *again = dc_token_sign(secret, &c);
    if (strcmp(again, text) != 0)
      abort();
    g_free(again);
  }
  free(text);
  return 0;
}
