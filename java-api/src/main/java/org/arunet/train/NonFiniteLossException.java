package org.arunet.train;

/** Training met a NaN or infinite loss or gradient; the last good checkpoint is kept. */
public class NonFiniteLossException extends RuntimeException {
    public NonFiniteLossException(String message) {
        super(message);
    }
}
