package org.arunet.video;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageLimits;
import org.arunet.data.video.FrameSource;

/**
 * Video files as {@link FrameSource}s, and overlay videos written back ({@link VideoWriter}), through
 * FFmpeg (the JavaCPP preset, driven by JavaCV's grabber and recorder).
 *
 * <p>Why FFmpeg through JavaCV: OpenCV's video I/O in our OpenCV build reads only its own MJPEG AVI
 * files; FFmpeg decodes every container and codec an ultrasound export uses (MP4/MOV with H.264 or
 * HEVC, AVI with MJPEG or raw video, MKV, WebM), and JavaCV's grabber/recorder are a maintained layer
 * over its demuxing, decoding, colour conversion and encoding that we would otherwise write by hand.
 */
public final class VideoFiles {
    /** File name extensions taken as video by {@link #isVideoFile(Path)}. */
    public static final Set<String> EXTENSIONS =
            Set.of("mp4", "m4v", "mov", "avi", "mkv", "webm", "mpg", "mpeg", "wmv", "ogv");

    private VideoFiles() {}

    /** Whether the file's extension is a video container's ({@link #EXTENSIONS}). */
    public static boolean isVideoFile(Path f) {
        String n = f.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(n.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    /**
     * Opens a video file's first video stream. The frames come as 8-bit RGB (or grey for
     * {@link ColorMode#GREY}) at the stream's size.
     *
     * @param limits the largest frame accepted; a larger declared size is refused before any frame is decoded
     * @throws DataException when the file is missing, is not a video FFmpeg can read, has no video
     *     stream, or declares a frame size beyond {@code limits}
     */
    public static FrameSource open(Path file, ColorMode mode, ImageLimits limits) {
        if (!Files.isRegularFile(file)) {
            throw new DataException(file, Files.exists(file) ? "not a regular file" : "no such file");
        }
        return FfmpegFrameSource.open(file, mode, limits);
    }

    /** {@link #open(Path, ColorMode, ImageLimits)} with the default image limits. */
    public static FrameSource open(Path file, ColorMode mode) {
        return open(file, mode, ImageLimits.DEFAULT);
    }
}
