/* request.c — an /api/ path and a Cookie header, read by hand; see request.h. */
#include "signaling/request.h"

#include <string.h>

int dc_api_path_segments(const char *path, char seg[DC_API_MAX_SEGMENTS][DC_API_SEGMENT_LEN]) {
  if (strncmp(path, "/api", 4))
    return -1;
  int n = 0;
  const char *p = path + 4;
  while (*p == '/') {
    p++;
    size_t len = strcspn(p, "/");
    if (!len || len >= DC_API_SEGMENT_LEN || n == DC_API_MAX_SEGMENTS)
      return -1;
    memcpy(seg[n], p, len);
    seg[n][len] = '\0';
    n++;
    p += len;
  }
  return *p ? -1 : n;
}

bool dc_api_parse_id(const char *s, int64_t *out) {
  int64_t v = 0;
  size_t n = 0;
  for (; s[n]; n++) {
    if (s[n] < '0' || s[n] > '9' || n == 18)
      return false;
    v = v * 10 + (s[n] - '0');
  }
  if (!n || v <= 0)
    return false;
  *out = v;
  return true;
}

bool dc_cookie_value(const char *header, const char *name, char *out, size_t cap) {
  size_t nlen = strlen(name);
  for (const char *p = header; p && *p;) {
    while (*p == ' ' || *p == ';' || *p == '\t')
      p++;
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
      size_t vlen = len - nlen - 1;
      while (vlen && (p[nlen + 1 + vlen - 1] == ' ' || p[nlen + 1 + vlen - 1] == '\t'))
        vlen--;
      if (vlen >= cap)
        return false;
      memcpy(out, p + nlen + 1, vlen);
      out[vlen] = '\0';
      return true;
    }
    p = end;
  }
  return false;
}
