package org.arunet.data.io;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.function.IntFunction;

/**
 * An image file opened by {@link ImageReader#open}: its frames (one for every format but a multi-frame
 * DICOM object), each decoded when asked for, and the pixel spacing the file states, if any. Holds the
 * file's bytes (within {@link ImageLimits#maxFileBytes()}), never more than the frame being decoded.
 * Not thread-safe.
 */
public final class ImageFrames {
    private final Path file;
    private final ImageHeader header;
    private final int count;
    private final PixelSpacing spacing;
    private final String noSpacingReason;
    private final IntFunction<Raster> decoder;

    ImageFrames(
            Path file,
            ImageHeader header,
            int count,
            PixelSpacing spacing,
            String noSpacingReason,
            IntFunction<Raster> decoder) {
        this.file = file;
        this.header = header;
        this.count = count;
        this.spacing = spacing;
        this.noSpacingReason = spacing == null ? Objects.requireNonNull(noSpacingReason) : null;
        this.decoder = decoder;
    }

    public Path file() {
        return file;
    }

    /** The header: format, and the size, channels and bit depth of each frame as stored. */
    public ImageHeader header() {
        return header;
    }

    /** Number of frames, at least 1. */
    public int count() {
        return count;
    }

    /** The physical pixel size the file states (DICOM Pixel Spacing or ultrasound regions), if any. */
    public Optional<PixelSpacing> spacing() {
        return Optional.ofNullable(spacing);
    }

    /** Why there is no {@link #spacing()} (e.g. "a PNG file states no pixel spacing"); null when there is one. */
    public String noSpacingReason() {
        return noSpacingReason;
    }

    /**
     * Frame {@code index} (0-based), decoded now, with the {@link ColorMode} given to {@code open}.
     *
     * @throws DataException when the frame's data is corrupt (naming the file and the frame)
     */
    public Raster frame(int index) {
        if (index < 0 || index >= count) {
            throw new IndexOutOfBoundsException(file + ": frame " + index + " of " + count);
        }
        return decoder.apply(index);
    }
}
