package dev.gregor.junit;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ExtensionContext.Namespace;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.junit.platform.commons.support.AnnotationSupport;
import org.opentest4j.TestAbortedException;

/**
 * Starts gregor once per test class (as its {@link GregorTest} says, or a
 * single broker when registered without it), resolves {@link Gregor}
 * parameters, adds the broker's log file (and exit code, if it died) to
 * every failing test, and stops the broker after the class: SIGTERM, then
 * SIGKILL after 20 s. A broker that exited on its own fails the class.
 *
 * <p>The broker starts at the class's {@code beforeAll}, or earlier when a
 * {@code PER_CLASS} test instance's constructor takes a {@link Gregor}.
 * {@code @Nested} classes without their own {@link GregorTest} share their
 * enclosing class's broker.
 */
public final class GregorExtension
        implements BeforeAllCallback, AfterAllCallback, ParameterResolver, TestExecutionExceptionHandler {
    private static final Namespace NAMESPACE = Namespace.create(GregorExtension.class);
    private static final Duration ADMIN_READY_TIMEOUT = Duration.ofSeconds(30);

    /** A class's broker, and the unique id of the class context that started (and stops) it. */
    private record Running(Gregor gregor, GregorProcess process, String owner) {
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        running(context);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        Running running = store.get(key(context), Running.class);
        if (running == null || !running.owner().equals(context.getUniqueId())) {
            return;
        }
        store.remove(key(context));
        boolean died = running.process().exitedOnItsOwn();
        String diagnosis = running.process().describe();
        running.process().close();
        if (died) {
            throw new AssertionError(context.getDisplayName() + ": " + diagnosis);
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return parameterContext.getParameter().getType() == Gregor.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return running(extensionContext).gregor();
    }

    /** Says where gregor's log is (and how it died, if it did) under the test's failure. */
    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable throwable) throws Throwable {
        // A GregorException's message says as much already.
        if (!(throwable instanceof TestAbortedException) && !(throwable instanceof GregorException)) {
            ExtensionContext classContext = classContext(context);
            Running running = classContext.getStore(NAMESPACE).get(key(classContext), Running.class);
            if (running != null) {
                throwable.addSuppressed(new GregorDiagnosis(running.process().describe()));
            }
        }
        throw throwable;
    }

    private static Running running(ExtensionContext context) {
        ExtensionContext classContext = classContext(context);
        return classContext.getStore(NAMESPACE).getOrComputeIfAbsent(key(classContext),
                key -> startOrShare(classContext), Running.class);
    }

    private static Running startOrShare(ExtensionContext classContext) {
        Class<?> testClass = classContext.getRequiredTestClass();
        Optional<GregorTest> settings = AnnotationSupport.findAnnotation(testClass, GregorTest.class);
        Optional<ExtensionContext> enclosing = classContext.getParent()
                .filter(parent -> parent.getTestClass().isPresent());
        if (settings.isEmpty() && enclosing.isPresent()) {
            return running(enclosing.get());
        }
        int brokers = settings.map(GregorTest::brokers).orElse(1);
        List<String> overrides = settings.map(test -> List.of(test.overrides())).orElse(List.of());
        GregorProcess process = GregorProcess.start(testClass.getName(), brokers, overrides);
        Gregor gregor = new Gregor(process);
        try {
            gregor.awaitReady(ADMIN_READY_TIMEOUT);
        } catch (RuntimeException e) {
            process.close();
            throw e;
        }
        return new Running(gregor, process, classContext.getUniqueId());
    }

    /** The context of the class a test, template invocation or class itself belongs to. */
    private static ExtensionContext classContext(ExtensionContext context) {
        ExtensionContext current = context;
        while (current.getTestMethod().isPresent() && current.getParent().isPresent()) {
            current = current.getParent().get();
        }
        return current;
    }

    private static String key(ExtensionContext classContext) {
        return "gregor " + classContext.getUniqueId();
    }

    /** A note, not an error: added to a failure so that its report names gregor's log. */
    private static final class GregorDiagnosis extends Exception {
        private static final long serialVersionUID = 1L;

        GregorDiagnosis(String message) {
            super(message, null, false, false);
        }
    }
}
