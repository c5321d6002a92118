package org.arunet.backend;

/**
 * An engine that {@link Backends} finds with {@link java.util.ServiceLoader}, as DJL finds its engines:
 * each backend module lists its provider in
 * {@code META-INF/services/org.arunet.backend.BackendProvider} (the core module: {@code cpu} and
 * {@code reference}; the {@code java-api/cuda} module: {@code cuda}). Core code asks a provider by
 * device name and never names an engine's types, so an engine is added by putting its jar on the class
 * path.
 *
 * <p>A device string is {@code name} or {@code name:variant} ({@code cuda:fp16}); the provider of
 * {@code name} interprets the variant.
 */
public interface BackendProvider {

    /** The device name this provider serves ({@code cpu}, {@code reference}, {@code cuda}). */
    String name();

    /**
     * Whether a backend can be created on this machine. Providers whose answer needs native libraries
     * probe once and cache the answer (a machine without a GPU costs one failed probe per process).
     */
    boolean available();

    /** One line naming the device and its library versions, or saying why it is not available. */
    String describe();

    /**
     * A new backend; the caller owns and closes it.
     *
     * @param variant the part of the device string after {@code ':'} ({@code "fp16"} for
     *     {@code cuda:fp16}), or null when there is none
     * @param threads CPU worker threads, 0 for the provider's default (ignored where meaningless)
     * @throws IllegalArgumentException for a variant this provider does not know
     * @throws IllegalStateException when the provider is not {@link #available()} (the message says why)
     */
    Backend create(String variant, int threads);
}
