package org.arunet.infer;

/** A {@link SegmentationStream} ended before its source's last frame; the message names the source. */
public class StreamException extends RuntimeException {
    public StreamException(String message) {
        super(message);
    }

    public StreamException(String message, Throwable cause) {
        super(message, cause);
    }
}
