/**
 * Tests Java applications against gregor, a Kafka-wire-compatible broker:
 * {@link dev.gregor.junit.GregorTest} starts a gregor (one broker or a dev
 * cluster) per test class, and {@link dev.gregor.junit.Gregor} gives a test
 * its bootstrap address and its admin plane: faults, time travel, the request
 * journal, the client-behaviour linter, and a cluster's broker failures.
 *
 * <p>This package needs JUnit 5's API and nothing else: no Kafka client,
 * no JSON library. It never builds gregor; it runs the binary named by the
 * {@code gregor.bin} system property, {@code $GREGOR_BIN} or the PATH.
 */
package dev.gregor.junit;
