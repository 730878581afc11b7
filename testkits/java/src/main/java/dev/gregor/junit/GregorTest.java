package dev.gregor.junit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs the test class against a gregor broker in dev mode, started once
 * before the class's first test and stopped (SIGTERM) after its last. Tests,
 * constructors and lifecycle methods take a {@link Gregor} parameter to reach
 * it:
 *
 * <pre>
 * &#64;GregorTest
 * class OrdersTest {
 *     &#64;Test
 *     void ordersAreConsumed(Gregor gregor) {
 *         var config = Map.&lt;String, Object&gt;of("bootstrap.servers", gregor.bootstrapServers());
 *         ...
 *     }
 * }
 * </pre>
 *
 * {@code @Nested} classes share their enclosing class's broker unless they
 * carry their own {@code @GregorTest}.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Inherited
@ExtendWith(GregorExtension.class)
public @interface GregorTest {
    /**
     * How many brokers: 1 runs {@code gregor broker --dev}, more run a dev
     * cluster ({@code --dev --brokers N}) in one process, with replication,
     * ISR and the cluster's fault plane ({@link Gregor#kill} and the like).
     */
    int brokers() default 1;

    /**
     * Broker settings by their Kafka names, each {@code "key=value"}, passed
     * as {@code --override key=value} on top of dev mode, e.g.
     * {@code "num.partitions=3"}.
     */
    String[] overrides() default {};
}
