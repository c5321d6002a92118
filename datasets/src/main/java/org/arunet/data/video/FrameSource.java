package org.arunet.data.video;

import java.util.Optional;
import org.arunet.data.io.PixelSpacing;

/**
 * Frames of a moving image in order: a video file (module {@code arunet-video}), a multi-frame DICOM
 * object or a folder of numbered frames ({@link FrameSources}). A source is read by one thread at a
 * time; {@link #close()} may be called from another thread to stop a reader, and frees what the source
 * holds.
 */
public interface FrameSource extends AutoCloseable {
    /** What the frames come from (a file or folder name), for messages. */
    String name();

    /** Frames per second the source states, or the rate its opener was given where it states none. */
    double frameRate();

    /** Frames the source declares (a hint: a damaged file may hold fewer), or -1 when unknown. */
    int declaredFrames();

    /** The physical pixel size the source states (DICOM), if any. */
    default Optional<PixelSpacing> spacing() {
        return Optional.empty();
    }

    /** Why there is no {@link #spacing()}, for reports; null when there is one. */
    default String noSpacingReason() {
        return name() + " states no pixel spacing";
    }

    /**
     * The next frame, or null after the last one.
     *
     * @throws org.arunet.data.io.DataException when the source is damaged (naming it and the frame)
     */
    VideoFrame next();

    /** Stops and frees the source; idempotent; a {@link #next()} after it returns null or throws. */
    @Override
    void close();
}
