// Build: gcc -O2 -pthread -o /tmp/tcp-loopback-floor scripts/tcp-loopback-floor.c
// Run:   /tmp/tcp-loopback-floor BYTES SEND-CHUNK RECEIVE-CHUNK [SO_SNDBUF/SO_RCVBUF], e.g. 4294967296 1048576 1048576
// Loopback TCP floor: one sender thread, one receiver thread, blocking sockets; prints CPU ns per byte (both ends).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <time.h>
static long total; static int chunk, rchunk, bufsz;
static int lfd;
static void *rx(void *a) {
  int fd = accept(lfd, 0, 0);
  if (bufsz) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
  char *b = aligned_alloc(4096, rchunk); long got = 0; long calls = 0;
  while (got < total) { long n = recv(fd, b, rchunk, 0); if (n <= 0) break; got += n; calls++; }
  fprintf(stderr, "recv calls/MiB %.2f\n", calls / (total / 1048576.0));
  close(fd); return 0;
}
int main(int c, char **v) {
  total = atol(v[1]); chunk = atoi(v[2]); rchunk = atoi(v[3]); bufsz = c > 4 ? atoi(v[4]) : 0;
  lfd = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(0x7f000001);
  bind(lfd, (void*)&a, sizeof a); listen(lfd, 1); socklen_t l = sizeof a; getsockname(lfd, (void*)&a, &l);
  pthread_t t; pthread_create(&t, 0, rx, 0);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (bufsz) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
  connect(fd, (void*)&a, sizeof a);
  char *b = aligned_alloc(4096, chunk); memset(b, 7, chunk);
  struct rusage r0, r1; struct timespec w0, w1; getrusage(RUSAGE_SELF, &r0); clock_gettime(CLOCK_MONOTONIC, &w0);
  long sent = 0; while (sent < total) { long n = send(fd, b, chunk, 0); if (n <= 0) break; sent += n; }
  shutdown(fd, SHUT_WR); pthread_join(t, 0);
  getrusage(RUSAGE_SELF, &r1); clock_gettime(CLOCK_MONOTONIC, &w1);
  double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + 1e-6 * ((r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec));
  double wall = (w1.tv_sec - w0.tv_sec) + 1e-9 * (w1.tv_nsec - w0.tv_nsec);
  printf("chunk %d rchunk %d buf %d: %.0f MB/s wall, CPU %.3f ns/B (user %.3f), vol switches/MiB %.2f\n", chunk, rchunk, bufsz, total / 1e6 / wall, cpu * 1e9 / total,
    ((r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + 1e-6 * (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec)) * 1e9 / total, (r1.ru_nvcsw - r0.ru_nvcsw) / (total / 1048576.0));
  return 0;
}
