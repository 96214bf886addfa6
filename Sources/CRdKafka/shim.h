#ifndef CONSENTINEL_CRDKAFKA_SHIM_H
#define CONSENTINEL_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* Swift cannot call C variadic functions: one (error, round-trip time) pair at a time. */
static inline rd_kafka_resp_err_t consentinel_mock_broker_push_request_error(
    rd_kafka_mock_cluster_t *cluster, int32_t broker_id, int16_t api_key, rd_kafka_resp_err_t err, int rtt_ms) {
    return rd_kafka_mock_broker_push_request_error_rtts(cluster, broker_id, api_key, 1, err, rtt_ms);
}
#endif
