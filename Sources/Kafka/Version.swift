import CRdKafka

/// The librdkafka this process runs with (`rd_kafka_version_str`), e.g. "2.3.0".
public let librdkafkaVersion = String(cString: rd_kafka_version_str())
