/* libFuzzer target: what an operator's HTTP request brings that the API reads by hand: the
 * path's segments and ids, and the console's cookie in a Cookie header (signaling/request).
 * The input is split at its first NUL into a path and a header. */
#include <stdlib.h>
#include <string.h>

#include "signaling/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  const char *path = text, *header = text + strlen(text) + (strlen(text) < size); /* after the first NUL */
  char seg[DC_API_MAX_SEGMENTS][DC_API_SEGMENT_LEN];
  int n = dc_api_path_segments(path, seg);
  if (n > DC_API_MAX_SEGMENTS)
    abort();
  for (int i = 0; i < n; i++) {
    int64_t id;
    if (strlen(seg[i]) >= DC_API_SEGMENT_LEN || (dc_api_parse_id(seg[i], &id) && id <= 0))
      abort();
  }
  char value[16];
  if (dc_cookie_value(header, "dc_console", value, sizeof value) && strlen(value) >= sizeof value)
    abort();
  free(text);
  return 0;
}
