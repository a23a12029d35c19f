// Build: gcc -O2 -o /tmp/aead-evp-floor scripts/aead-evp-floor.c -lcrypto
// Run:   /tmp/aead-evp-floor RING-BYTES ITERATIONS, e.g. 65535 20000 (hot) and 16777216 20000 (cold ring)
// ChaCha20-Poly1305 (OpenSSL EVP) seal and open of 65,519-byte Noise frames on one thread: hot (one buffer) or from a
// ring of cold buffers; prints CPU ns per byte.
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define LEN 65519
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int c, char **v) {
  long ring = atol(v[1]); long iters = atol(v[2]); int n = (int)(ring / (LEN + 16)); if (n < 1) n = 1;
  unsigned char key[32] = {1}, nonce[12] = {0}, tag[16];
  unsigned char *pt = malloc((size_t)n * (LEN + 16)), *ct = malloc((size_t)n * (LEN + 16)), *out = malloc((size_t)n * (LEN + 16));
  memset(pt, 5, (size_t)n * (LEN + 16));
  EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new(), *d = EVP_CIPHER_CTX_new(); int l;
  EVP_EncryptInit_ex(e, EVP_chacha20_poly1305(), NULL, key, NULL); EVP_DecryptInit_ex(d, EVP_chacha20_poly1305(), NULL, key, NULL);
  for (int i = 0; i < n; i++) { EVP_EncryptInit_ex(e, NULL, NULL, NULL, nonce); EVP_EncryptUpdate(e, ct + (size_t)i * (LEN + 16), &l, pt + (size_t)i * (LEN + 16), LEN);
    EVP_EncryptFinal_ex(e, NULL, &l); EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_GET_TAG, 16, ct + (size_t)i * (LEN + 16) + LEN); }
  double t0 = cpu();
  for (long k = 0; k < iters; k++) { int i = k % n; EVP_EncryptInit_ex(e, NULL, NULL, NULL, nonce); EVP_EncryptUpdate(e, out + (size_t)i * (LEN + 16), &l, pt + (size_t)i * (LEN + 16), LEN);
    EVP_EncryptFinal_ex(e, NULL, &l); EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_GET_TAG, 16, tag); }
  double t1 = cpu();
  for (long k = 0; k < iters; k++) { int i = k % n; EVP_DecryptInit_ex(d, NULL, NULL, NULL, nonce); EVP_DecryptUpdate(d, out + (size_t)i * (LEN + 16), &l, ct + (size_t)i * (LEN + 16), LEN);
    EVP_CIPHER_CTX_ctrl(d, EVP_CTRL_AEAD_SET_TAG, 16, ct + (size_t)i * (LEN + 16) + LEN); if (EVP_DecryptFinal_ex(d, NULL, &l) != 1) { puts("auth fail"); return 1; } }
  double t2 = cpu();
  printf("ring %8ld B (%d frames): seal %.3f ns/B, open %.3f ns/B\n", ring, n, (t1 - t0) * 1e9 / (iters * (double)LEN), (t2 - t1) * 1e9 / (iters * (double)LEN));
  return 0;
}
