/** For Kafka tests: the shared broker `npm test` started (JUNCTION_TEST_KAFKA), or why the tests skip. */

/** The bootstrap address of the test run's broker, e.g. `127.0.0.1:39092`; undefined when there is none. */
export const testKafka: string | undefined = process.env.JUNCTION_TEST_KAFKA || undefined;

/**
 * Pass as `{ skip: kafkaSkip }` to a Kafka test: false when a broker is there, else one line saying why not.
 * `npm test` sets JUNCTION_TEST_KAFKA when Java is available (and always under CI=true, or fails).
 */
export const kafkaSkip: string | false =
  testKafka === undefined
    ? `no Kafka broker: JUNCTION_TEST_KAFKA is unset (${process.env.JUNCTION_TEST_KAFKA_WHY ?? 'run the tests with npm test, or npm run kafka:start and set it'})`
    : false;
