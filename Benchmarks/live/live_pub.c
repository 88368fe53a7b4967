/* Issue 21's publisher: COUNT one-reading SenML packs at RATE a second (0: as fast as the
 * broker takes them) over SENSORS sensors in turn (topic agora/sensors/s<k>/senml), QoS 1.
 * Each reading's time is the moment it is published, so a subscriber's arrival time minus
 * it is publish-to-delivery latency. Each sensor connects with its own certificate
 * (CERTDIR/s<k>.pem and .key, from `agora ca sign`), as the broker's ACL requires: sensors
 * FIRST .. FIRST+SENSORS-1. libmosquitto's loop uses select(), which takes no descriptor past
 * 1023, and each client holds three: run one process per 300 sensors at most.
 * usage: live_pub HOST PORT CAFILE CERTDIR FIRST SENSORS COUNT RATE */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

static volatile int acked = 0;
static void on_publish(struct mosquitto *m, void *u, int mid) { (void)m; (void)u; (void)mid; __sync_fetch_and_add(&acked, 1); }
static double now(void) { struct timeval tv; gettimeofday(&tv, NULL); return tv.tv_sec + tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
    if (argc != 9) { fprintf(stderr, "usage: %s HOST PORT CAFILE CERTDIR FIRST SENSORS COUNT RATE\n", argv[0]); return 2; }
    int first = atoi(argv[5]), sensors = atoi(argv[6]), count = atoi(argv[7]);
    double rate = atof(argv[8]);
    if (sensors < 1 || sensors > 300) { fprintf(stderr, "SENSORS must be 1..300\n"); return 2; }
    mosquitto_lib_init();
    struct mosquitto **clients = calloc(sensors, sizeof *clients);
    for (int k = 0; k < sensors; k++) {
        char id[64], cert[4096], key[4096];
        snprintf(id, sizeof id, "client:live-pub-%d-%d", (int)getpid(), k);  /* the broker takes only "client:" ids */
        snprintf(cert, sizeof cert, "%s/s%d.pem", argv[4], first + k);
        snprintf(key, sizeof key, "%s/s%d.key", argv[4], first + k);
        clients[k] = mosquitto_new(id, true, NULL);
        mosquitto_tls_set(clients[k], argv[3], NULL, cert, key, NULL);
        mosquitto_int_option(clients[k], MOSQ_OPT_SEND_MAXIMUM, 1000);
        mosquitto_publish_callback_set(clients[k], on_publish);
        if (mosquitto_connect(clients[k], argv[1], atoi(argv[2]), 60)) { fprintf(stderr, "connect failed\n"); return 1; }
        mosquitto_loop_start(clients[k]);
    }
    /* The TLS handshakes finish in the loop threads; then, with $LIVE_PUB_GO set, say so and
     * wait for that file to exist, so that the caller's clock starts when publishing does. */
    usleep(500000);
    const char *go = getenv("LIVE_PUB_GO");
    if (go) {
        printf("connected\n");
        fflush(stdout);
        while (access(go, F_OK) != 0) usleep(1000);
    }
    double start = now();
    char topic[128], payload[512];
    for (int i = 0; i < count; i++) {
        if (rate > 0) {
            double due = start + i / rate, wait = due - now();
            if (wait > 0) usleep((useconds_t)(wait * 1e6));
        }
        int k = i % sensors;
        snprintf(topic, sizeof topic, "agora/sensors/s%d/senml", first + k);
        int n = snprintf(payload, sizeof payload, "[{\"bn\":\"s%d:\",\"bt\":%.6f,\"n\":\"pm25\",\"u\":\"ug/m3\",\"v\":%d}]", first + k, now(), i);
        while (mosquitto_publish(clients[k], NULL, topic, n, payload, 1, false) == MOSQ_ERR_NOMEM) usleep(100);
    }
    /* Every message acknowledged by the broker; a broker that takes none (a refused TLS
     * handshake is reported by no callback) must not make the run hang. */
    for (int last = -1, still = 0; acked < count; usleep(1000)) {
        if (acked != last) { last = acked; still = 0; }
        else if (++still > 30000) { fprintf(stderr, "no acknowledgement for 30 s (%d of %d): is the broker reachable?\n", acked, count); return 1; }
    }
    double elapsed = now() - start;
    printf("published %d readings over sensors s%d..s%d in %.3f s: %.0f/s\n", count, first, first + sensors - 1, elapsed, count / elapsed);
    for (int k = 0; k < sensors; k++) { mosquitto_disconnect(clients[k]); mosquitto_loop_stop(clients[k], false); }
    return 0;
}
