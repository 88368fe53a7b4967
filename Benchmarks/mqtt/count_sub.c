/* Baseline (a): the minimal libmosquitto subscriber — counts messages and does nothing
 * else. Its rate is the ceiling for any libmosquitto ingester on this broker and machine.
 * Usage: count_sub HOST PORT CAFILE CERT KEY TOPIC COUNT QOS; prints msgs/s and CPU µs/msg. */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static int received = 0, wanted = 0;
static double first = 0, last = 0;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void on_message(struct mosquitto *m, void *u, const struct mosquitto_message *msg) {
    (void)u; (void)msg;
    if (received == 0) first = now();
    if (++received == wanted) { last = now(); mosquitto_disconnect(m); }
}
static int qos;
static const char *topic;
static void on_connect(struct mosquitto *m, void *u, int rc) { (void)u; if (!rc) mosquitto_subscribe(m, NULL, topic, qos); }

int main(int argc, char **argv) {
    if (argc < 9) { fprintf(stderr, "usage: %s HOST PORT CAFILE CERT KEY TOPIC COUNT QOS\n", argv[0]); return 2; }
    wanted = atoi(argv[7]); qos = atoi(argv[8]); topic = argv[6];
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new("client:bench-counter", true, NULL)  /* Agora's broker takes ids beginning with "client:" */;
    mosquitto_tls_set(m, argv[3], NULL, argv[4], argv[5], NULL);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_message_callback_set(m, on_message);
    if (mosquitto_connect(m, argv[1], atoi(argv[2]), 60)) { fprintf(stderr, "connect failed\n"); return 1; }
    printf("ready\n"); fflush(stdout);
    mosquitto_loop_forever(m, 1000, 1);
    struct rusage r; getrusage(RUSAGE_SELF, &r);
    double cpu = r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
    printf("c_subscriber_qos%d %.0f msgs/s, %.2f cpu_us_per_msg (%d messages)\n", qos, (received - 1) / (last - first), cpu * 1e6 / received, received);
    return 0;
}
