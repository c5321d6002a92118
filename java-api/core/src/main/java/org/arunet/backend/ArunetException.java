package org.arunet.backend;

/** A failure inside a backend (native error, device error), with the op and shapes in the message. */
public class ArunetException extends RuntimeException {
    public ArunetException(String message) {
        super(message);
    }

    public ArunetException(String message, Throwable cause) {
        super(message, cause);
    }
}
